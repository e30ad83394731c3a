"""Build the learning-curve table of the ``digits-curves`` task by real training: every
child of :func:`optuna_rena.zoo.digits_curves_space` (343 networks) trained on
scikit-learn's digits for a fixed number of epochs, its validation accuracy after each.

    OPTUNA_RENA_DATA=../shared/data PYTHONPATH=. nice -n 5 python benchmarks/digits_curves.py \\
        --epochs 12 --out optuna_rena/data/digits_curves.json.gz

Each child is trained as the ``digits`` task trains a trial: :func:`optuna_rena.training.fit`
(AdamW, cosine schedule over the epochs, batch 64) on :func:`optuna_rena.datasets.digits`,
with the child numbered ``i`` (its row, in the order of
:func:`optuna_rena._space.every_params`) seeded as trial number ``i`` is there:
``torch.manual_seed(i)`` for its initial weights, ``fit(seed=i)`` for its batches. The
child comes from ``space.suggest`` on a real Optuna trial with its decisions enqueued, so
its counted resources are those a search records, and its per-epoch accuracies are the
trial's reports. One torch thread, on the CPU: the machine is shared, and the numbers of
one thread are the same from run to run.

A run that stops keeps its finished rows in ``--progress`` (JSON lines) and a second run
goes on from there. The table is JSON, gzipped; :func:`optuna_rena.datasets.load_digits_curves`
reads it and checks it against the space.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
import platform
import shlex
import sys
import time
from typing import Any

import optuna
import torch

from optuna_rena import zoo
from optuna_rena._space import every_params
from optuna_rena.datasets import digits
from optuna_rena.training import fit


RESOURCES = ("params", "flops", "macs", "bytes", "compute_intensity")


def train_row(space: Any, data: Any, number: int, params: dict[str, Any],
              epochs: int) -> dict[str, Any]:
    """Child ``number`` trained for ``epochs``, as a row of the table."""
    # A fresh in-memory study per child: the trial is only the carrier of the suggestions
    # and the reports; the seed is the row's number, passed on explicitly.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.enqueue_trial(params)
    trial = study.ask()
    child = space.suggest(trial)
    if trial.params != params:
        raise RuntimeError(f"row {number}: the trial took {trial.params}, not {params}.")
    start = time.process_time()
    torch.manual_seed(number)  # the child's initial weights, as the digits task seeds them
    accuracy = fit(child.build(), data, epochs=epochs, trial=trial, device="cpu", seed=number)
    seconds = time.process_time() - start
    study.tell(trial, accuracy)
    frozen = study.trials[-1]
    curve = [frozen.intermediate_values[e] for e in range(epochs)]
    return {
        "number": number, "key": zoo.digits_curves_key(params), "decisions": params,
        "child": frozen.user_attrs["child"],
        "resources": {m: frozen.user_attrs[m] for m in RESOURCES},
        "accuracy": curve, "cpu_seconds": round(seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", default="optuna_rena/data/digits_curves.json.gz")
    parser.add_argument("--progress", default="/tmp/digits_curves.progress.jsonl",
                        help="finished rows, one JSON a line, to go on from")
    parser.add_argument("--limit", type=int, default=None,
                        help="train only the first N children (a trial run; no table)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = zoo.digits_curves_space(notes=False)
    all_params = every_params(space.decisions)
    data = digits()
    progress = Path(args.progress)
    rows: list[dict[str, Any]] = []
    if progress.exists():
        rows = [json.loads(line) for line in progress.read_text().splitlines() if line]
        if any(r["accuracy"].__len__() != args.epochs for r in rows):
            raise SystemExit(f"{progress} holds rows of another number of epochs; remove it.")
    todo = all_params[:args.limit] if args.limit else all_params
    wall = time.perf_counter()
    with progress.open("a") as log:
        for number in range(len(rows), len(todo)):
            row = train_row(space, data, number, todo[number], args.epochs)
            rows.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(f"{number + 1}/{len(todo)} {row['child']}: "
                  f"{' '.join(f'{a:.3f}' for a in row['accuracy'])} "
                  f"({row['cpu_seconds']:.1f} s)", flush=True)
    if args.limit:
        return 0
    table = {
        "format": 1,
        "about": ("Validation accuracy after each epoch of every child of "
                  "optuna_rena.zoo.digits_curves_space, trained for real on scikit-learn's "
                  "digits by benchmarks/digits_curves.py (generated, not downloaded)."),
        "command": shlex.join(["python", "benchmarks/digits_curves.py", *sys.argv[1:]]),
        "space_fingerprint": space.decisions_fingerprint,
        "space_summary": space.summary,
        "epochs": args.epochs,
        "dataset": (f"sklearn digits, {len(data.x_train)} training and {len(data.x_val)} "
                    "validation images (optuna_rena.datasets.digits, seed 0)"),
        "training": ("optuna_rena.training.fit: AdamW lr 3e-3, weight decay 1e-4, cosine "
                     "schedule, batch 64, CPU, 1 torch thread; row i seeded as trial i"),
        "torch": torch.__version__, "machine": platform.machine(),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in rows), 1),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same table gives the same bytes, so a rebuild shows no spurious diff.
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(json.dumps(table, separators=(",", ":")).encode())
    print(f"wrote {out}: {len(rows)} rows, {args.epochs} epochs, "
          f"{table['cpu_seconds'] / 60:.1f} CPU-minutes of training "
          f"({(time.perf_counter() - wall) / 60:.1f} min wall this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
