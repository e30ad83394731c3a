"""NAS-Bench-201's accuracy against fpga's latency under 300 k parameters, searched by
NSGA-II; the hypervolume gap to the table's true front is exact."""

from __future__ import annotations

import os

import optuna
import optunahub

# The folder that holds nb201_hw/nb201_hw.csv.
data_dir = os.environ.get("OPTUNA_RENA_DATA", "data")
module = optunahub.load_module("benchmarks/nasbench201_latency_front")
problem = module.Problem(data_dir=data_dir, device="fpga", max_params=300_000)
study = optuna.create_study(directions=problem.directions,
                            sampler=optuna.samplers.NSGAIISampler(seed=0))
study.set_metric_names(problem.metric_names)
study.optimize(problem, n_trials=50)
found = [t.values for t in study.best_trials]  # the feasible front
print(f"{len(found)} trials on the front; hypervolume gap {problem.front().gap(found):.3f}")
