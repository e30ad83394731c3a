"""Every trial's parameters, hashed, for RenaSampler on a fixed set of studies: a change
that must not alter behaviour (a refactoring) must leave every hash as it was.

    python benchmarks/trial_hashes.py > /tmp/hashes.txt
    python benchmarks/trial_hashes.py --check benchmarks/trial-hashes.txt

The studies cover each path of the sampler: the world model on a define-by-run objective
of choices (NAS-Bench-Macro plain, NAS-Bench-201 under a latency budget, where the
choices' relevance is learnt) and of numbers (a mixed objective with integer, float and
log ranges), the world model in an architecture space (the tight NAS-Bench-Macro space,
with pre-training), the policy alone in a space (``world_model=False``) and as published
(``RenaSampler.paper()``), several objectives, a pruner, conditional parameters with
enqueued and failed trials, a sampler that moves between studies, and spaces attached
in turn (an equal one, then another budget). Each line: the study, the
number of trials, the best value and the hash of every trial's number, state and
parameters. The hashes are those of this machine's floating point (an x86-64 CPU, one
thread): another machine may differ in the last bits of a GP fit, and with them in trials.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import hashlib
import json
import math
import os
import sys
from typing import Any

import optuna
from optuna.trial import TrialState

from optuna_rena import RenaSampler
from optuna_rena._benchmark import make_sampler
from optuna_rena._tasks import make_task
from sampler_cost import objective as _mixed  # beside this script: 8 choices, 2 ints, 2 floats


DATA = os.environ.get("OPTUNA_RENA_DATA", "../shared/data")


def _two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", -3.0, 3.0)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    k = trial.suggest_int("k", 1, 8)
    return (x - 1) ** 2 + (c == "b") + k / 8, (x + 1) ** 2 + (c == "a") - k / 8


def _pruned(trial: optuna.Trial) -> float:
    """Issue 22's objective: ten reported steps under a median pruner."""
    x = trial.suggest_float("x", -5, 5)
    c = trial.suggest_categorical("c", ["a", "b"])
    v = 0.0
    for step in range(10):
        v = -(x - 1) ** 2 + step * 0.1 + (c == "a")
        trial.report(v, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return v


def _conditional(trial: optuna.Trial) -> float:
    """Parameters outside the intersection search space, and trials that fail."""
    kind = trial.suggest_categorical("kind", ["conv", "mlp"])
    if kind == "conv":
        k = trial.suggest_int("kernel", 1, 7, step=2)
        w = trial.suggest_float("width", 8.0, 128.0, log=True)
        v = -abs(k - 3) + math.log2(w) / 4
    else:
        v = math.log2(trial.suggest_int("units", 16, 512, log=True)) / 5 - 1
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    if lr > 0.05:
        raise RuntimeError("diverged")
    return v - abs(math.log10(lr) + 2.5)


def _conditional_study() -> list[optuna.Study]:
    study = optuna.create_study(direction="maximize", sampler=RenaSampler(seed=0))
    study.enqueue_trial({"kind": "mlp", "units": 64})
    study.enqueue_trial({"kind": "conv"})
    study.optimize(_conditional, n_trials=60, catch=(RuntimeError,))
    return [study]


def _one_sampler_two_studies() -> list[optuna.Study]:
    """A sampler that moves to another study and back starts afresh each time."""
    sampler = RenaSampler(seed=0)
    first = optuna.create_study(direction="maximize", sampler=sampler)
    second = optuna.create_study(direction="maximize", sampler=sampler)
    first.optimize(_mixed, n_trials=40)
    second.optimize(_pruned, n_trials=20)
    first.optimize(_mixed, n_trials=20)
    return [first, second]


def _spaces_in_turn() -> list[optuna.Study]:
    """The tight space, an equal space made anew (what was learnt stays), then the same
    space under another budget (learning starts afresh), in one study."""
    from optuna_rena import Constraint

    study = optuna.create_study(direction="maximize", sampler=RenaSampler(seed=0))
    for constraints, n_trials in ((None, 30), (None, 20),
                                  ((Constraint("params", max=900_000),), 20)):
        task = make_task("nas-bench-macro", data_dir=DATA, notes=False,
                         constraints=constraints)
        study.optimize(task.objective, n_trials=n_trials)
    return [study]


def _task_study(task_name: str, sampler: str, seed: int, n_trials: int) -> optuna.Study:
    task = make_task(task_name, data_dir=DATA, notes=False)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler, seed))
    study.optimize(task.objective, n_trials=n_trials, catch=(RuntimeError, ValueError))
    return study


def _own_study(objective: Callable[[optuna.Trial], Any], sampler: RenaSampler,
               n_trials: int, **create: Any) -> optuna.Study:
    study = optuna.create_study(sampler=sampler, **create)
    study.optimize(objective, n_trials=n_trials)
    return study


def _runs() -> list[tuple[str, Callable[[], optuna.Study | list[optuna.Study]]]]:
    runs: list[tuple[str, Callable[[], optuna.Study | list[optuna.Study]]]] = []
    for seed in (0, 1):
        runs += [
            (f"nas-bench-macro-plain rena seed{seed}",
             lambda s=seed: _task_study("nas-bench-macro-plain", "rena", s, 120)),
            (f"nb201:fpga:2.1 rena seed{seed}",
             lambda s=seed: _task_study("nb201:fpga:2.1", "rena", s, 150)),
            (f"nas-bench-macro (tight space) rena seed{seed}",
             lambda s=seed: _task_study("nas-bench-macro", "rena", s, 120)),
            (f"mixed rena seed{seed}",
             lambda s=seed: _own_study(_mixed, RenaSampler(seed=s), 150, direction="maximize")),
        ]
    runs += [
        ("conditional, enqueued and failed trials rena seed0", _conditional_study),
        ("one sampler, two studies rena seed0", _one_sampler_two_studies),
        ("spaces in turn in one study rena seed0", _spaces_in_turn),
        ("nas-bench-macro (tight space) rena:world_model=false seed0",
         lambda: _task_study("nas-bench-macro", "rena:world_model=false", 0, 80)),
        ("nas-bench-macro-plain rena-paper seed0",
         lambda: _task_study("nas-bench-macro-plain", "rena-paper", 0, 80)),
        ("nas-bench-macro (tight space) rena-paper seed0",
         lambda: _task_study("nas-bench-macro", "rena-paper", 0, 60)),
        ("two objectives rena seed0",
         lambda: _own_study(_two_objectives, RenaSampler(seed=0), 60,
                            directions=["minimize", "minimize"])),
        ("mixed rena:dyna_weight=0.5,local_steps=0 seed0",
         lambda: _own_study(_mixed, RenaSampler(seed=0, dyna_weight=0.5, local_steps=0), 100,
                            direction="maximize")),
        ("pruned rena seed0",
         lambda: _own_study(_pruned, RenaSampler(seed=0), 40, direction="maximize",
                            pruner=optuna.pruners.MedianPruner(n_startup_trials=5,
                                                               n_warmup_steps=2))),
    ]
    return runs


def _line(name: str, studies: optuna.Study | list[optuna.Study]) -> str:
    if isinstance(studies, optuna.Study):
        studies = [studies]
    trials = [t for study in studies for t in study.get_trials(deepcopy=False)]
    record = [[t.number, t.state.name, sorted((k, repr(v)) for k, v in t.params.items())]
              for t in trials]
    digest = hashlib.sha256(json.dumps(record).encode()).hexdigest()[:16]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = (max(t.values[0] for t in complete)
            if all(len(s.directions) == 1 for s in studies) and complete else float("nan"))
    return f"{name}: {len(trials)} trials, best {best:.4f}, hash {digest}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", metavar="FILE",
                        help="compare with the lines of FILE; exit 1 on any difference")
    parser.add_argument("--only", help="run only the studies whose name contains this")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    expected = {}
    if args.check:
        with open(args.check) as f:
            expected = dict(line.rstrip("\n").split(": ", 1) for line in f if ": " in line)
    differ = 0
    for name, run in _runs():
        if args.only and args.only not in name:
            continue
        line = _line(name, run())
        print(line, flush=True)
        if args.check and expected.get(name) != line.split(": ", 1)[1]:
            differ += 1
            print(f"  DIFFERS from {expected.get(name)}", flush=True)
    if args.check:
        print(f"{differ} of the studies differ" if differ else "every study is the same",
              file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
