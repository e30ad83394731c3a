"""Keyword spotting on Google Speech Commands (12 classes) with RenaSampler.

With a network, torchaudio downloads Speech Commands v0.02 (decoded by torchcodec):

    python examples/speech_commands.py --trials 50 --epochs 10

Offline, point it at a folder with one subfolder of 16 kHz WAV clips per class:

    python examples/speech_commands.py --data-dir ../shared/data/speech_commands --trials 4 --epochs 1

Features are 40 log-mel bands over 101 frames (torchaudio's MelSpectrogram, 25 ms windows,
10 ms hop). The split is speaker-disjoint: a clip is held out when the hash of its speaker
id falls in the validation share, as in the dataset's own recipe. The baseline is the CRNN
of Arik et al. 2017; the constraints, as in the paper, bound the parameters and ask for a
minimum compute intensity.
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
from optuna_rena.datasets import speech_commands
from optuna_rena.training import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help="folder of class subfolders; without it, SPEECHCOMMANDS(download=True)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-params", type=float, default=60_000)
    parser.add_argument("--min-intensity", type=float, default=15.0)
    parser.add_argument("--storage", default="sqlite:///speech-commands-rena.db")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    data = speech_commands(args.data_dir)
    print(f"Speech Commands: {len(data.x_train)} training and {len(data.x_val)} validation "
          f"clips (speaker-disjoint), features {tuple(data.x_train.shape[1:])}")
    constraints = [Constraint("params", max=args.max_params),
                   Constraint("compute_intensity", min=args.min_intensity)]
    space = ArchitectureSpace(zoo.kws_crnn(), constraints, max_inserts=1)

    def objective(trial: optuna.Trial) -> float:
        child = space.suggest(trial)
        torch.manual_seed(trial.number)
        return fit(child.build(), data, epochs=args.epochs, trial=trial, seed=trial.number)

    study = optuna.create_study(
        direction="maximize", sampler=RenaSampler(seed=args.seed), storage=args.storage,
        study_name="speech-commands", load_if_exists=True,
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
