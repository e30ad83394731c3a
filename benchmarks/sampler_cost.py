"""Sampler time per trial on a cheap mixed objective: 8 categorical, 2 integer and 2 float
parameters and one constraint, 500 trials, in memory, each sampler in the same process.

    python benchmarks/sampler_cost.py --seeds 5 --trials 500

Prints a Markdown table: median milliseconds of sampler time per trial over the seeds,
over all trials and over the last 100, as wall time and as CPU time (the calling
thread's, which other jobs on the machine disturb far less), and the best feasible value.

The samplers take turns, seed by seed, so that a slow spell of the machine (its speed
drifts by 10-20 % from minute to minute) falls on all of them alike. Each sampler first
runs a short study that is not timed, so that a module's first import is not counted,
and every study starts after a garbage collection, so that it does not pay for the
garbage that the one before it left.
"""

from __future__ import annotations

import argparse
import gc
import math

import numpy as np
import optuna

from optuna_rena import RenaSampler
from optuna_rena._benchmark import TimedSampler


def objective(trial: optuna.Trial) -> float:
    cats = [trial.suggest_categorical(f"c{i}", ["a", "b", "c"]) for i in range(8)]
    n = trial.suggest_int("n", 1, 64, log=True)
    m = trial.suggest_int("m", 0, 10)
    x = trial.suggest_float("x", -3.0, 3.0)
    y = trial.suggest_float("y", 1e-4, 1.0, log=True)
    trial.set_constraint("size_max", n / 32 - 1)
    return (sum((i % 3) == "abc".index(c) for i, c in enumerate(cats)) - (x - 1) ** 2
            - abs(math.log10(y) + 2) - abs(m - 7) / 3 + math.log2(n) / 6)


SAMPLERS = {
    "rena": lambda seed: RenaSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--samplers", nargs="+", default=["rena", "tpe"])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| sampler | ms/trial, all | ms/trial, last 100 | CPU ms/trial, all | "
          "CPU ms/trial, last 100 | best feasible |")
    print("|---|---|---|---|---|---|")
    times: dict[str, dict[str, list[float]]] = {
        name: {"total": [], "last": [], "cpu": [], "cpu_last": [], "best": []}
        for name in args.samplers}
    for name in args.samplers:  # the warm-up
        study = optuna.create_study(direction="maximize", sampler=SAMPLERS[name](10**6))
        study.optimize(objective, n_trials=20)
    for seed in range(args.seeds):
        for name in args.samplers:
            gc.collect()
            timed = TimedSampler(SAMPLERS[name](seed))
            study = optuna.create_study(direction="maximize", sampler=timed)
            study.optimize(objective, n_trials=args.trials - 100)
            before, before_cpu = timed.seconds, timed.cpu_seconds
            study.optimize(objective, n_trials=100)
            t = times[name]
            t["total"].append(1000 * timed.seconds / args.trials)
            t["last"].append(1000 * (timed.seconds - before) / 100)
            t["cpu"].append(1000 * timed.cpu_seconds / args.trials)
            t["cpu_last"].append(1000 * (timed.cpu_seconds - before_cpu) / 100)
            t["best"].append(study.best_value)
    for name, t in times.items():
        print(f"| {name} | {np.median(t['total']):.2f} | {np.median(t['last']):.2f} | "
              f"{np.median(t['cpu']):.2f} | {np.median(t['cpu_last']):.2f} | "
              f"{np.median(t['best']):.3f} |")


if __name__ == "__main__":
    main()
