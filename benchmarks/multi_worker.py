"""Four worker processes on one study against one process with the same trial budget.

NAS-Bench-Macro, params <= 0.6 M and MACs <= 25 M, RenaSampler with its defaults
(batch size 8), 200 trials per study, a journal file shared by the workers. Each worker is
the real command, ``optuna-rena search --task nas-bench-macro``:

    python benchmarks/multi_worker.py --seeds 5

Each seed is one study run by one process (200 trials), and one study run by four
processes at once (50 trials each, seeds 4s..4s+3). Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import subprocess
import sys
import tempfile

import numpy as np
import optuna

from optuna_rena import trial_violations
from optuna_rena._constraints import is_feasible
from optuna_rena._storage import open_storage


def _run(log: str, study: str, workers: int, trials: int, seed: int, data: str) -> None:
    # A journal file lets workers that start together create the study together.
    procs = [subprocess.Popen([sys.executable, "-m", "optuna_rena.cli", "search",
                               "--task", "nas-bench-macro", "--data-dir", data,
                               "--storage", f"journal:{log}", "--study-name", study,
                               "--trials", str(trials), "--seed", str(4 * seed + w),
                               "--no-progress"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
             for w in range(workers)]
    for p in procs:
        _, stderr = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a worker failed with {p.returncode}:\n{stderr[-3000:]}")


def _figures(log: str, study: str) -> tuple[float, float, float]:
    trials = sorted(optuna.load_study(study_name=study, storage=open_storage(f"journal:{log}"))
                    .get_trials(deepcopy=False), key=lambda t: t.number)
    feasible = [t.state.name == "COMPLETE" and is_feasible(trial_violations(t)) for t in trials]
    first = next((i + 1 for i, f in enumerate(feasible) if f), float("inf"))
    best = [t.value for t, f in zip(trials, feasible) if f]
    best100 = [t.value for t, f in zip(trials[:100], feasible[:100]) if f]
    return first, max(best100, default=float("nan")), max(best, default=float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data", default=os.environ.get("OPTUNA_RENA_DATA", "../shared/data"))
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {"1 process x 200": [],
                                                          "4 processes x 50": []}
    with tempfile.TemporaryDirectory() as tmp:
        log = str(Path(tmp) / "studies.log")
        for seed in range(args.seeds):
            _run(log, f"single-{seed}", 1, 200, seed, args.data)
            rows["1 process x 200"].append(_figures(log, f"single-{seed}"))
            _run(log, f"multi-{seed}", 4, 50, seed, args.data)
            rows["4 processes x 50"].append(_figures(log, f"multi-{seed}"))
    print("| setting | trials to first feasible | best feasible @100 | best feasible @200 |")
    print("|---|---|---|---|")
    for name, figures in rows.items():
        a = np.array(figures)
        print(f"| {name} | {np.median(a[:, 0]):g} | {np.median(a[:, 1]):.2f} | "
              f"{np.median(a[:, 2]):.2f} (optimum in {int((a[:, 2] > 86.42).sum())}/{len(a)}) |")


if __name__ == "__main__":
    main()
