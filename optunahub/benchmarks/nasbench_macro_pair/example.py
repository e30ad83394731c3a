"""Two NAS-Bench-Macro networks under 1.4 M parameters and 55 M MACs, searched by TPE."""

from __future__ import annotations

import os

import optuna
import optunahub

# The folder that holds nas_bench_macro/nas-bench-macro_cifar10.json.
data_dir = os.environ.get("OPTUNA_RENA_DATA", "data")
module = optunahub.load_module("benchmarks/nasbench_macro_pair")
problem = module.Problem(data_dir=data_dir)
study = optuna.create_study(directions=problem.directions,
                            sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(problem, n_trials=50)
feasible = [t.value for t in study.trials if all(c <= 0 for c in t.constraints.values())]
print(max(feasible, default=None), "of at most", problem.optimum())
