"""How the sampler's cost grows with the study's size: the cheap mixed objective of
``sampler_cost.py`` (8 categorical, 2 integer, 2 float parameters, one constraint), run to
5000 trials in memory, each sampler in the same process, taking turns seed by seed.

    python benchmarks/scaling.py --seeds 3 --trials 5000

Prints a Markdown table per sampler: median milliseconds of sampler time per trial over
the 50 trials that end at 500, 2000 and 5000 finished trials, the total sampler seconds
up to each, and the exponent ``b`` of ``total ~ n^b`` between 2000 and 5000 trials
(2 would be quadratic).
"""

from __future__ import annotations

import argparse
import gc
import math

import numpy as np
import optuna
from sampler_cost import objective

from optuna_rena import RenaSampler
from optuna_rena._benchmark import TimedSampler


SAMPLERS = {
    "rena": lambda seed: RenaSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
}
CHECKPOINTS = (500, 2000, 5000)
WINDOW = 50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samplers", nargs="+", default=["rena", "tpe"])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    header = " | ".join(f"ms/trial @{n}" for n in CHECKPOINTS)
    totals = " | ".join(f"total s @{n}" for n in CHECKPOINTS)
    print(f"| sampler | {header} | {totals} | b (2000 to 5000) |")
    print("|---|" + "---|" * (2 * len(CHECKPOINTS) + 1))
    per_trial = {name: {n: [] for n in CHECKPOINTS} for name in args.samplers}
    total = {name: {n: [] for n in CHECKPOINTS} for name in args.samplers}
    # The samplers take turns seed by seed, each run after a garbage collection, as in
    # sampler_cost.py: the machine's speed drifts, and a run should not pay for the
    # garbage of the one before it.
    for seed in range(args.seeds):
        for name in args.samplers:
            gc.collect()
            timed = TimedSampler(SAMPLERS[name](seed))
            study = optuna.create_study(direction="maximize", sampler=timed)
            done = 0
            for n in CHECKPOINTS:
                study.optimize(objective, n_trials=n - WINDOW - done)
                before = timed.seconds
                study.optimize(objective, n_trials=WINDOW)
                done = n
                per_trial[name][n].append(1000 * (timed.seconds - before) / WINDOW)
                total[name][n].append(timed.seconds)
    for name in args.samplers:
        medians = {n: float(np.median(total[name][n])) for n in CHECKPOINTS}
        exponent = math.log(medians[5000] / medians[2000]) / math.log(5000 / 2000)
        print(f"| {name} | "
              + " | ".join(f"{np.median(per_trial[name][n]):.1f}" for n in CHECKPOINTS)
              + " | " + " | ".join(f"{medians[n]:.1f}" for n in CHECKPOINTS)
              + f" | {exponent:.2f} |", flush=True)


if __name__ == "__main__":
    main()
