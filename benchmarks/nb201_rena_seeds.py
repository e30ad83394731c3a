"""RenaSampler alone on the eight NAS-Bench-201 budgets of BENCHMARKS.md, over many seeds,
in memory: a quick check of whether a change to the sampler moves its median regret.
Optuna's samplers do not change with this package, so their figures stay those of the
committed runs; use ``optuna-rena benchmark`` for a side-by-side run.

    python benchmarks/nb201_rena_seeds.py --seeds 30 [--data-dir DIR] [--what-if NAME]
        [--budgets eyeriss:3.2,fpga:2.1] [OPTION=VALUE ...]

OPTION=VALUE sets a ``RenaSampler`` argument (the value as JSON, e.g. ``local_steps=4``).
To compare with an earlier version, run the same command with ``PYTHONPATH`` pointing at
a checkout of that version. ``--what-if`` applies one of the changes tried and not
adopted (``what_if.py``). Prints one line: per budget, the median regret at 150 trials
and the seeds that found the optimum; and the median CPU seconds of a run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time

import numpy as np
import optuna

from optuna_rena import RenaSampler
from optuna_rena._benchmark.results import feasible_and_complete
from optuna_rena.problems import NB201LatencyProblem
from what_if import NAMES as WHAT_IF  # beside this script

BUDGETS = [("eyeriss", 3.2), ("eyeriss", 3.7), ("pixel3", 2.5), ("pixel3", 4.2),
           ("raspi4", 6.0), ("raspi4", 10.5), ("fpga", 2.1), ("fpga", 2.6)]
TRIALS = 150


def _run(job: tuple[str, str, float, int, dict[str, object], str | None]
         ) -> tuple[str, float, int, float, float]:
    data_dir, device, budget, seed, options, what_if = job
    import torch

    if what_if:
        import what_if as changes

        changes.apply(what_if)

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    problem = NB201LatencyProblem(data_dir, device, budget)
    study = optuna.create_study(direction="maximize",
                                sampler=RenaSampler(seed=seed, **options))
    start = time.process_time()
    study.optimize(problem, n_trials=TRIALS)
    seconds = time.process_time() - start
    best = max((t.value for t in study.trials if feasible_and_complete(t)), default=-np.inf)
    return device, budget, seed, problem.optimum() - best, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.environ.get("OPTUNA_RENA_DATA",
                                                             "../shared/data"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--what-if", choices=WHAT_IF)
    parser.add_argument("--budgets", help="only these, e.g. eyeriss:3.2,fpga:2.1")
    parser.add_argument("options", nargs="*", metavar="OPTION=VALUE")
    args = parser.parse_args()
    options = {}
    for item in args.options:
        name, _, value = item.partition("=")
        options[name] = json.loads(value)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    budgets = BUDGETS
    if args.budgets:
        known = {f"{d}:{b}": (d, b) for d, b in BUDGETS}
        asked = args.budgets.split(",")
        unknown = [x for x in asked if x not in known]
        if unknown:
            parser.error(f"--budgets: {unknown} not among {list(known)}")
        budgets = [known[x] for x in known if x in asked]
    jobs = [(args.data_dir, d, b, s, options, args.what_if) for d, b in budgets
            for s in seeds]
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.map(_run, jobs, chunksize=1)
    cells = []
    for device, budget in budgets:
        regrets = [r[3] for r in results if r[0] == device and r[1] == budget]
        found = sum(r <= 1e-9 for r in regrets)
        cells.append(f"{device} {budget}: {np.median(regrets):.3f} ({found}/{len(regrets)})")
    print(f"seeds {seeds.start}-{seeds.stop - 1}", options or "defaults",
          f"what-if {args.what_if}" if args.what_if else "", "|",
          " | ".join(cells), f"| CPU s/run {np.median([r[4] for r in results]):.2f}",
          flush=True)


if __name__ == "__main__":
    main()
