"""Sampler time per trial on a cheap mixed objective: 8 categorical, 2 integer and 2 float
parameters and one constraint, 500 trials, in memory, each sampler in the same process.

    python benchmarks/sampler_cost.py --seeds 3 --trials 500

Prints a Markdown table: median milliseconds of sampler time per trial over the seeds,
over all trials and over the last 100, as wall time and as CPU time (the calling
thread's, which other jobs on the machine disturb far less), and the best feasible value.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--samplers", nargs="+", default=["rena", "tpe"])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| sampler | ms/trial, all | ms/trial, last 100 | CPU ms/trial, all | "
          "CPU ms/trial, last 100 | best feasible |")
    print("|---|---|---|---|---|---|")
    for name in args.samplers:
        total, last, cpu, cpu_last, best = [], [], [], [], []
        for seed in range(args.seeds):
            timed = TimedSampler(SAMPLERS[name](seed))
            study = optuna.create_study(direction="maximize", sampler=timed)
            study.optimize(objective, n_trials=args.trials - 100)
            before, before_cpu = timed.seconds, timed.cpu_seconds
            study.optimize(objective, n_trials=100)
            total.append(1000 * timed.seconds / args.trials)
            last.append(1000 * (timed.seconds - before) / 100)
            cpu.append(1000 * timed.cpu_seconds / args.trials)
            cpu_last.append(1000 * (timed.cpu_seconds - before_cpu) / 100)
            best.append(study.best_value)
        print(f"| {name} | {np.median(total):.2f} | {np.median(last):.2f} | "
              f"{np.median(cpu):.2f} | {np.median(cpu_last):.2f} | {np.median(best):.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
