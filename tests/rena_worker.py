"""A worker process for the scale-out tests: optimise a shared study with RenaSampler.

python tests/rena_worker.py STORAGE STUDY N_TRIALS SEED [--sleep-on N] [--heartbeat]

It prints one JSON line: the trial numbers it ran and those its policy learnt from.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import optuna
from optuna.storages import RetryFailedTrialCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optuna_rena import RenaSampler  # noqa: E402
from optuna_rena import zoo  # noqa: E402
from test_sampler import synthetic_accuracy  # noqa: E402
from test_sampler import TIGHT  # noqa: E402


def storage_of(url: str, heartbeat: bool) -> optuna.storages.BaseStorage:
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend
        from optuna.storages.journal import JournalStorage

        return JournalStorage(JournalFileBackend(url[len("journal:"):]))
    if heartbeat:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=1, grace_period=3,
            failed_trial_callback=RetryFailedTrialCallback(max_retry=2))
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}
                                      if url.startswith("sqlite") else {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("study")
    parser.add_argument("trials", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--sleep-on", type=int, default=None,
                        help="hang in this trial number (to be killed there)")
    parser.add_argument("--heartbeat", action="store_true")
    parser.add_argument("--nas-bench-macro", metavar="DATA_DIR", default=None,
                        help="score with NAS-Bench-Macro's real accuracies, not the synthetic one")
    parser.add_argument("--batch-size", type=int, default=2)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_of(args.storage, args.heartbeat)
    sampler = RenaSampler(seed=args.seed, batch_size=args.batch_size)
    score = synthetic_accuracy
    if args.nas_bench_macro:
        from optuna_rena._benchmark import load_nas_bench_macro

        table = load_nas_bench_macro(args.nas_bench_macro)

        def score(params: dict) -> float:
            return float(table[zoo.nas_bench_macro_code(params)]["mean_acc"])
    study = optuna.create_study(storage=storage, study_name=args.study, load_if_exists=True,
                                direction="maximize", sampler=sampler)
    space = zoo.nas_bench_macro_space(TIGHT)
    ran: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        ran.append(trial.number)
        space.suggest(trial)
        if trial.number == args.sleep_on:
            print(json.dumps({"hanging": trial.number}), flush=True)
            time.sleep(600)
        return score(trial.params)

    study.optimize(objective, n_trials=args.trials)
    print(json.dumps({"ran": ran, "learned": sampler.learned_trials,
                      "updates": sampler.n_updates}), flush=True)


if __name__ == "__main__":
    main()
