"""NAS-Bench-201 under pixel3's 2.5 ms latency budget, searched by TPE; the regret
is exact."""

from __future__ import annotations

import os

import optuna
import optunahub

# The folder that holds nb201_hw/nb201_hw.csv.
data_dir = os.environ.get("OPTUNA_RENA_DATA", "data")
module = optunahub.load_module("benchmarks/nasbench201_latency")
problem = module.Problem(data_dir=data_dir, device="pixel3", budget_ms=2.5)
study = optuna.create_study(directions=problem.directions,
                            sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(problem, n_trials=50)
best = study.best_trial  # the best feasible trial
print(best.params, best.value, "regret", problem.optimum() - best.value)
