"""RenaSampler on a constrained define-by-run objective: four operations and a width, the
most accurate choice whose (made-up) latency is within 3 ms."""

from __future__ import annotations

import math

import optuna
import optunahub


def objective(trial: optuna.Trial) -> float:
    ops = [trial.suggest_categorical(f"op{i}", ["conv3", "conv1", "pool", "skip"])
           for i in range(4)]
    width = trial.suggest_int("width", 8, 128, log=True)
    latency = width * sum(op.startswith("conv") for op in ops) / 64
    trial.set_constraint("latency_max", latency / 3 - 1)  # <= 0 is feasible
    return ops.count("conv3") + math.log2(width)


module = optunahub.load_module("samplers/rena")
sampler = module.RenaSampler(seed=0)
study = optuna.create_study(direction="maximize", sampler=sampler)
study.optimize(objective, n_trials=30)
print(study.best_trial.params, study.best_trial.value)  # the best feasible trial
