"""Resource-constrained search on CIFAR-10 with RenaSampler.

With a network, the full dataset is downloaded by torchvision:

    python examples/cifar10.py --trials 50 --epochs 10

Offline, point it at an ImageFolder tree (train/<class>/*.jpg, test/<class>/*.jpg):

    python examples/cifar10.py --data-dir ../shared/data/cifar10 --trials 4 --epochs 1

The paper's CIFAR-10 constraints are fewer than 3 M parameters and, separately, a compute
intensity above 100 FLOPs/byte. At this small scale (32x32 inputs, a ResNet of width 16
and batch size 1) intensities are around 20-40, so the intensity bound defaults to 20;
raise it with --min-intensity for larger networks.
"""

from __future__ import annotations

import argparse
import time
import warnings

import optuna
import torch

from optuna_rena import ArchitectureSpace
from optuna_rena import best_feasible_report
from optuna_rena import Constraint
from optuna_rena import RenaSampler
from optuna_rena import zoo
from optuna_rena.datasets import cifar10
from optuna_rena.training import fit
from optuna_rena.training import random_crop_flip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help="ImageFolder tree; without it, CIFAR10(download=True)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-train", type=int, default=None,
                        help="cap on training images (default: all)")
    parser.add_argument("--width", type=int, default=16, help="baseline ResNet width")
    parser.add_argument("--max-params", type=float, default=3e6)
    parser.add_argument("--min-intensity", type=float, default=20.0)
    parser.add_argument("--storage", default="sqlite:///cifar10-rena.db")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    data = cifar10(args.data_dir, max_train=args.max_train, max_val=2000)
    print(f"CIFAR-10: {len(data.x_train)} training and {len(data.x_val)} validation images")
    constraints = [Constraint("params", max=args.max_params),
                   Constraint("compute_intensity", min=args.min_intensity)]
    space = ArchitectureSpace(zoo.cifar10_resnet(width=args.width), constraints, max_inserts=1)

    def objective(trial: optuna.Trial) -> float:
        child = space.suggest(trial)
        torch.manual_seed(trial.number)
        return fit(child.build(), data, epochs=args.epochs, trial=trial, batch_size=128,
                   augment=random_crop_flip, seed=trial.number)

    study = optuna.create_study(
        direction="maximize", sampler=RenaSampler(seed=args.seed), storage=args.storage,
        study_name="cifar10", load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["accuracy"])
    study.optimize(objective, n_trials=args.trials, catch=(RuntimeError,))

    print(best_feasible_report(study, constraints))
    print(f"{len(study.trials)} trials in {time.perf_counter() - start:.0f} s; "
          f"optuna-rena dashboard {args.storage}")


if __name__ == "__main__":
    main()
