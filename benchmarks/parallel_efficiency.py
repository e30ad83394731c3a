"""Parallel efficiency: one study run by 1, 4 or 8 worker processes on one journal file,
at an equal number of trials, for RenaSampler, TPE (``constant_liar=True``) and GP.

NAS-Bench-201 as a plain objective (maximise CIFAR-10 accuracy, pixel3 latency <= 2.5 ms
through ``trial.set_constraint``), 120 trials in all. Each trial also waits
``--trial-seconds`` (0.3 s by default) as training would, so that several trials run at
once, as they do when each worker trains on its own GPU. Each worker is its own process
with its own sampler (seed ``100 * seed + worker``); the workers stop at 120 trials in
all (``MaxTrialsCallback``).

    python benchmarks/parallel_efficiency.py --seeds 5 > benchmarks/parallel-efficiency.md

Prints a Markdown table: per sampler and number of workers, the median regret at 120
trials (quartiles), the median number of repeated configurations (a trial whose
parameters an earlier trial had: a wasted training run), and the median wall time.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

import numpy as np
import optuna
from optuna.trial import TrialState

from optuna_rena._benchmark import make_sampler
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._storage import open_storage
from optuna_rena._tasks import make_task


TASK = "nb201:pixel3:2.5"
SAMPLERS = {"rena": "rena", "tpe": "optuna.samplers:TPESampler", "gp": "gp"}


def _worker(args: argparse.Namespace) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = make_task(TASK, data_dir=args.data)
    if args.sampler == "tpe":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
            seed=args.worker_seed, constant_liar=True)
    else:
        sampler = make_sampler(SAMPLERS[args.sampler], args.worker_seed)
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{args.log}"),
                              sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        value = task.objective(trial)
        time.sleep(args.trial_seconds)  # the training that a tabular benchmark skips
        return value

    study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(
        args.trials, states=None)])


def _run(sampler: str, workers: int, seed: int, args: argparse.Namespace) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="rena-parallel-"))
    log = str(folder / "journal.log")
    optuna.create_study(study_name="s", storage=open_storage(f"journal:{log}"),
                        direction="maximize")
    start = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--worker", "--sampler", sampler, "--log", log,
         "--worker-seed", str(100 * seed + w), "--trials", str(args.trials),
         "--trial-seconds", str(args.trial_seconds), "--data", args.data],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"}) for w in range(workers)]
    for p in procs:
        _, stderr = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a worker failed with {p.returncode}:\n{stderr[-3000:]}")
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{log}"))
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)[:args.trials]
    seen: set[tuple] = set()
    repeats = 0
    for t in trials:
        key = tuple(sorted(t.params.items()))
        repeats += key in seen
        seen.add(key)
    best = max((t.value for t in trials if t.state == TrialState.COMPLETE
                and is_feasible(trial_violations(t))), default=None)
    optimum = make_task(TASK, data_dir=args.data).optimum
    assert optimum is not None
    regret = optimum - best if best is not None else float("inf")
    return {"regret": regret, "repeats": repeats, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS),
                        choices=list(SAMPLERS))
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--trial-seconds", type=float, default=0.3)
    parser.add_argument("--data", default=os.environ.get("OPTUNA_RENA_DATA",
                                                         "../shared/data"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sampler", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--worker-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    print(f"{TASK}, {args.trials} trials in all, {args.trial_seconds} s of waiting per "
          f"trial, {args.seeds} seeds: median regret [quartiles], median repeated "
          "configurations, median wall seconds\n")
    print("| sampler | workers | regret | repeats | wall s |")
    print("|---|---|---|---|---|")
    for sampler in args.samplers:
        for workers in args.workers:
            runs = [_run(sampler, workers, seed, args) for seed in range(args.seeds)]
            regret = np.array([r["regret"] for r in runs])
            q1, med, q3 = np.percentile(regret, [25, 50, 75])
            print(f"| {sampler} | {workers} | {med:.3f} [{q1:.3f}, {q3:.3f}] | "
                  f"{np.median([r['repeats'] for r in runs]):g} "
                  f"(max {max(r['repeats'] for r in runs):g}) | "
                  f"{np.median([r['wall'] for r in runs]):.0f} |", flush=True)


if __name__ == "__main__":
    main()
