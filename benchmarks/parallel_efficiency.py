"""Parallel efficiency: one study run by 1, 4 or 8 worker processes at an equal number of
trials, for RenaSampler, TPE (``constant_liar=True``) and GP, on one journal file or
through Optuna's gRPC storage proxy.

The task is NAS-Bench-201 as a plain objective by default (``nb201:pixel3:2.5``: maximise
CIFAR-10 accuracy, pixel3 latency <= 2.5 ms through ``trial.set_constraint``), 120 trials
in all; ``--task nb201-front:pixel3`` runs the two-objective task (maximise accuracy,
minimise pixel3 latency), measured by the hypervolume gap to its true front instead of the
regret. Each trial also waits ``--trial-seconds`` (0.3 s by default) as training would, so
that several trials run at once, as they do when each worker trains on its own GPU. Each
worker is its own process with its own sampler (seed ``100 * seed + worker``); the workers
stop at 120 trials in all (``MaxTrialsCallback``).

Storages (``--storage``, one or both, side by side in one run):

* ``journal``: every worker opens one journal file;
* ``grpc``: one more process serves a SQLite file through
  ``optuna.storages.run_grpc_proxy_server`` (with Optuna's in-process cache, as its
  documentation advises) on a free loopback port, and the workers talk only to it through
  ``GrpcStorageProxy``. The proxy serves RDB storages only, not journal files (Optuna 5.1,
  optuna/optuna#6084).

    python benchmarks/parallel_efficiency.py --seeds 5 > benchmarks/parallel-efficiency.md

Prints a Markdown table: per sampler, storage and number of workers, the median regret
(or hypervolume gap) at 120 trials with its quartiles, the median number of repeated
configurations (a trial whose parameters an earlier trial had: a wasted training run), and
the median wall time.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any
import warnings

import numpy as np
import optuna

from optuna_rena._benchmark import make_sampler
from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark.fronts import gap_curve
from optuna_rena._benchmark.results import feasible_and_complete
from optuna_rena._benchmark.results import stats
from optuna_rena._storage import open_storage
from optuna_rena._tasks import make_task


TASK = "nb201:pixel3:2.5"
SAMPLERS = {"rena": "rena", "tpe": "optuna.samplers:TPESampler", "gp": "gp"}
STORAGES = ("journal", "grpc")
GRPC = "grpc:"  # a worker's --url for the proxy: grpc:HOST:PORT


def _open(url: str) -> optuna.storages.BaseStorage:
    """The storage at ``url``: ``grpc:HOST:PORT`` for the proxy's client, else what
    ``open_storage`` opens (``journal:PATH``)."""
    if not url.startswith(GRPC):
        return open_storage(url)
    host, _, port = url[len(GRPC):].rpartition(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.GrpcStorageProxy(host=host, port=int(port))
    storage.wait_server_ready(timeout=60)
    return storage


def _serve(args: argparse.Namespace) -> None:
    """The proxy process: serve the RDB at ``args.url`` on loopback until terminated."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    # get_storage adds Optuna's in-process cache to the RDB storage, as the proxy's
    # documentation advises (and as the README's proxy.py does).
    storage = optuna.storages.get_storage(open_storage(args.url))
    optuna.storages.run_grpc_proxy_server(storage, host="127.0.0.1", port=args.port)


def _worker(args: argparse.Namespace) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = make_task(args.task, data_dir=args.data)
    if args.sampler == "tpe":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
            seed=args.worker_seed, constant_liar=True)
    else:
        sampler = make_sampler(SAMPLERS[args.sampler], args.worker_seed)
    study = optuna.load_study(study_name="s", storage=_open(args.url), sampler=sampler)

    def objective(trial: optuna.Trial) -> Any:
        value = task.objective(trial)
        time.sleep(args.trial_seconds)  # the training that a tabular benchmark skips
        return value

    study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(
        args.trials, states=None)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_proxy(db: str) -> tuple[subprocess.Popen[str], str]:
    """The proxy process serving ``db`` and the workers' URL of it, once it answers."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--url", db,
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"{GRPC}127.0.0.1:{port}"
    try:
        _open(url)
    except ConnectionError:
        server.kill()
        raise SystemExit(f"the gRPC proxy never answered:\n{server.communicate()[1][-3000:]}")
    return server, url


def _stop_proxy(server: subprocess.Popen[str]) -> None:
    server.terminate()
    _, stderr = server.communicate(timeout=60)
    # It served until stopped here: a crash would have failed the workers' calls.
    if server.returncode != -15:
        raise SystemExit(f"the gRPC proxy ended with {server.returncode}:\n{stderr[-3000:]}")


def _run(sampler: str, storage: str, workers: int, seed: int,
         args: argparse.Namespace) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="rena-parallel-"))
    server = None
    try:
        if storage == "grpc":
            server, url = _start_proxy(f"sqlite:///{folder / 'study.db'}")
        else:
            url = f"journal:{folder / 'journal.log'}"
        task = make_task(args.task, data_dir=args.data)
        study = optuna.create_study(study_name="s", storage=_open(url),
                                    directions=list(task.directions))
        # As the benchmark's run_one: the objectives' names are the study's metric names,
        # which RenaSampler reads with several objectives.
        task.record(study)
        start = time.perf_counter()
        procs = [subprocess.Popen(
            [sys.executable, __file__, "--worker", "--sampler", sampler, "--url", url,
             "--task", args.task, "--worker-seed", str(100 * seed + w),
             "--trials", str(args.trials), "--trial-seconds", str(args.trial_seconds),
             "--data", args.data],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"}) for w in range(workers)]
        for p in procs:
            _, stderr = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"a worker failed with {p.returncode}:\n{stderr[-3000:]}")
        wall = time.perf_counter() - start
        study = optuna.load_study(study_name="s", storage=_open(url))
        trials = sorted(study.get_trials(deepcopy=False),
                        key=lambda t: t.number)[:args.trials]
    finally:
        if server is not None:
            _stop_proxy(server)
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    seen: set[tuple] = set()
    repeats = 0
    for t in trials:
        key = tuple(sorted(t.params.items()))
        repeats += key in seen
        seen.add(key)
    several = task.is_multi_objective
    # The trials as the benchmark records a run, so that the figure below is the one the
    # benchmark computes from it.
    result = RunResult(
        sampler, seed, "s", [(t.values if several else t.value) for t in trials],
        [feasible_and_complete(t) for t in trials], [t.state.name for t in trials],
        0.0, wall, task.directions[0] == "maximize", list(task.directions) if several
        else None)
    if several:
        front = task.front
        assert front is not None, f"{args.task} knows no true front"
        # The hypervolume gap after the last trial, as in the benchmark's results.
        score = gap_curve(result, front)[-1]
    else:
        optimum = task.optimum
        assert optimum is not None, f"{args.task} knows no optimum"
        best = result.best_feasible_curve()[-1]
        score = (optimum - best if result.maximize else best - optimum) if best is not None \
            else float("inf")
    return {"score": score, "repeats": repeats, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS),
                        choices=list(SAMPLERS))
    parser.add_argument("--storage", nargs="+", default=["journal"], choices=STORAGES,
                        help="journal, grpc, or both side by side (default: journal)")
    parser.add_argument("--task", default=TASK,
                        help=f"a task with a known optimum or true front (default: {TASK}; "
                             "nb201-front:pixel3 for two objectives)")
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--trial-seconds", type=float, default=0.3)
    parser.add_argument("--data", default=os.environ.get("OPTUNA_RENA_DATA",
                                                         "../shared/data"))
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's storage and say where")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sampler", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args)
        return
    if args.worker:
        _worker(args)
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    several = make_task(args.task, data_dir=args.data).is_multi_objective
    figure = "hv gap" if several else "regret"
    print(f"{args.task}, {args.trials} trials in all, {args.trial_seconds} s of waiting per "
          f"trial, {args.seeds} seeds: median {'hypervolume gap' if several else 'regret'} "
          "[quartiles], median repeated configurations (the most in a run), median wall "
          "seconds\n")
    print(f"| sampler | storage | workers | {figure} | repeats | wall s |")
    print("|---|---|---|---|---|---|")
    for sampler in args.samplers:
        for storage in args.storage:
            for workers in args.workers:
                runs = [_run(sampler, storage, workers, seed, args)
                        for seed in range(args.seeds)]
                # The benchmark's medians: a run with no feasible trial is an infinite
                # regret, ranked worst (nearest ranks, not interpolated into NaN).
                s = stats([r["score"] for r in runs])
                print(f"| {sampler} | {storage} | {workers} | "
                      f"{s['median']:.3f} [{s['q1']:.3f}, {s['q3']:.3f}] | "
                      f"{np.median([r['repeats'] for r in runs]):g} "
                      f"(max {max(r['repeats'] for r in runs):g}) | "
                      f"{np.median([r['wall'] for r in runs]):.0f} |", flush=True)


if __name__ == "__main__":
    main()
