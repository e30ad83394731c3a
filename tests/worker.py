"""A worker process for the scale-out tests: optimise a shared study with RenaSampler.

python tests/worker.py STORAGE STUDY N_TRIALS SEED [--sleep-on N] [--heartbeat]
                        [--start-after PATH] [--trial-seconds S] [--grpc HOST:PORT]

It prints one JSON line: the trial numbers it ran and those its policy learnt from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import macro_space  # noqa: E402
from helpers import synthetic_accuracy  # noqa: E402
from optuna_rena import RenaSampler  # noqa: E402
from optuna_rena._storage import open_storage  # noqa: E402

HEARTBEAT_INTERVAL = 1
GRACE_PERIOD = 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("study")
    parser.add_argument("trials", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--sleep-on", type=int, default=None,
                        help="hang in this trial number (to be killed there)")
    parser.add_argument("--heartbeat", action="store_true")
    parser.add_argument("--start-after", default=None, metavar="PATH",
                        help="say ready, then wait until PATH exists before the first trial")
    parser.add_argument("--trial-seconds", type=float, default=0.0,
                        help="each trial takes this long, as training would")
    parser.add_argument("--grpc", default=None, metavar="HOST:PORT",
                        help="use Optuna's gRPC storage proxy at HOST:PORT, not STORAGE "
                             "(then STORAGE only names what the proxy serves, such as -)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.grpc:
        if args.heartbeat:
            parser.error("--heartbeat needs an RDB storage, not --grpc")
        host, _, port = args.grpc.rpartition(":")
        storage = optuna.storages.GrpcStorageProxy(host=host, port=int(port))
        storage.wait_server_ready(timeout=60)
    elif args.heartbeat:
        storage = open_storage(args.storage, heartbeat_interval=HEARTBEAT_INTERVAL,
                               grace_period=GRACE_PERIOD)
    else:
        storage = open_storage(args.storage)
    sampler = RenaSampler(seed=args.seed, batch_size=2, pretrain_episodes=0)
    study = optuna.create_study(storage=storage, study_name=args.study, load_if_exists=True,
                                direction="maximize", sampler=sampler)
    space = macro_space()
    ran: list[int] = []
    if args.start_after:
        print(json.dumps({"ready": True}), flush=True)
        deadline = time.monotonic() + 300
        while not Path(args.start_after).exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{args.start_after} never appeared")
            time.sleep(0.05)

    def objective(trial: optuna.Trial) -> float:
        ran.append(trial.number)
        space.suggest(trial)
        if trial.number == args.sleep_on:
            print(json.dumps({"hanging": trial.number}), flush=True)
            time.sleep(600)
        time.sleep(args.trial_seconds)
        return synthetic_accuracy(trial.params)

    study.optimize(objective, n_trials=args.trials)
    print(json.dumps({"ran": ran, "learned": sampler.learned_trials,
                      "updates": sampler.n_updates}), flush=True)


if __name__ == "__main__":
    main()
