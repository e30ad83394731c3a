"""Search tasks: a baseline, a space, default constraints and an objective.

* ``nas-bench-macro``: tabular; the accuracy of each of NAS-Bench-Macro's 6561 networks
  comes from the benchmark's JSON, so a trial costs nothing but the sampler.
* ``digits``: real training of small CNNs on scikit-learn's digits, on the CPU.
* ``cifar10``: real training of the ResNet baseline on a CIFAR-10 folder (or download).
* ``speech-commands``: real training of the keyword-spotting CRNN on log-mel features.
* ``nas-bench-macro-plain``, ``nas-bench-macro-pair``, ``nb201:DEVICE:BUDGET_MS``:
  tabular define-by-run objectives with no space (see :mod:`optuna_rena._tabular`).
* ``module:function``: your own objective, ``function(trial) -> float``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
import functools
from pathlib import Path
from typing import Any
import warnings

import optuna
import torch

from optuna_rena import zoo
from optuna_rena._budget import record_budget
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import violations_of
from optuna_rena._dashboard import save_note
from optuna_rena._imports import import_named
from optuna_rena._report import study_note
from optuna_rena._resources import ResourceModel
from optuna_rena._space import ArchitectureSpace
from optuna_rena._tabular import nas_bench_macro_pair
from optuna_rena._tabular import nas_bench_macro_plain
from optuna_rena._tabular import nb201
from optuna_rena.datasets import cifar10
from optuna_rena.datasets import Dataset
from optuna_rena.datasets import digits
from optuna_rena.datasets import load_nas_bench_macro
from optuna_rena.datasets import load_nb201_hw
from optuna_rena.datasets import NB201_DEVICES
from optuna_rena.datasets import speech_commands
from optuna_rena.training import fit
from optuna_rena.training import random_crop_flip


@dataclass
class Task:
    """What a search or benchmark runs; ``space`` is ``None`` for a user objective."""

    name: str
    objective: Callable[[optuna.Trial], float]
    space: ArchitectureSpace | None
    constraints: tuple[Constraint, ...]
    metric_name: str = "accuracy"
    find_optimum: Callable[[], float | None] | None = None

    @functools.cached_property
    def optimum(self) -> float | None:
        """The best feasible value when known, for regret; computed on first use."""
        return self.find_optimum() if self.find_optimum is not None else None

    def record(self, study: optuna.Study) -> None:
        """Record on ``study`` what it searches: the task's and the objective's names, the
        budget and the space as study user attributes (refusing a continued study of
        another, see :func:`~optuna_rena._budget.record_budget`), the objective's name as
        the study's metric name, and the budget, the space and the objective in the
        study's optuna-dashboard note, when it has none.

        Raises:
            ValueError: The study was searched for another task, or holds trials of
                another budget or space.
        """
        fingerprint = self.space.decisions_fingerprint if self.space is not None else None
        summary = self.space.summary if self.space is not None else None
        record_budget(study, self.constraints, fingerprint, summary, task=self.name,
                      objective=self.metric_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([self.metric_name])
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        # A continued study keeps its note: a person may have added to it in the dashboard.
        save_note(study, study_note(self.metric_name, maximize, self.constraints, summary,
                                    fingerprint), keep=True)


DEFAULT_CONSTRAINTS: dict[str, tuple[Constraint, ...]] = {
    # 39 of 6561 feasible; best feasible mean accuracy 86.43 (01100100).
    "nas-bench-macro": (Constraint("params", max=600_000), Constraint("macs", max=25_000_000)),
    # The baseline has 24 k parameters; these budgets force a smaller network.
    "digits": (Constraint("params", max=10_000), Constraint("flops", max=600_000)),
    # The paper's CIFAR-10 setting: under 3 M parameters, data reuse above 10 FLOPs/byte
    # at this small scale (100 in the paper, whose networks are far larger).
    "cifar10": (Constraint("params", max=3_000_000), Constraint("compute_intensity", min=10)),
    # The paper's keyword-spotting constraints, scaled to the CRNN baseline.
    "speech-commands": (Constraint("params", max=60_000),
                        Constraint("compute_intensity", min=15)),
    # The same budget as nas-bench-macro, met by an objective that knows no space.
    "nas-bench-macro-plain": (Constraint("params", max=600_000),
                              Constraint("macs", max=25_000_000)),
    # Two networks side by side: 0.06 % of 3^16 configurations are feasible.
    "nas-bench-macro-pair": (Constraint("params", max=1_400_000),
                             Constraint("macs", max=55_000_000)),
}
TASK_NAMES = ("nas-bench-macro", "digits", "cifar10", "speech-commands",
              "nas-bench-macro-plain", "nas-bench-macro-pair", "nb201:DEVICE:BUDGET_MS")


def _trained(space: ArchitectureSpace, data: Dataset, epochs: int, device: str | None,
             augment: Any = None, batch_size: int = 64) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        child = space.suggest(trial)
        torch.manual_seed(trial.number)  # the child's initial weights
        return fit(child.build(), data, epochs=epochs, trial=trial, device=device,
                   augment=augment, batch_size=batch_size, seed=trial.number)
    return objective


def nas_bench_macro_optimum(table: dict[str, dict[str, Any]],
                            constraints: Sequence[Constraint]) -> float | None:
    """The best mean accuracy among the networks that meet ``constraints`` (resource
    metrics only), or ``None`` when none does."""
    model = ResourceModel()
    best = None
    for code, row in table.items():
        metrics = model.count(zoo.nas_bench_macro(code)).as_dict()
        if is_feasible(violations_of(constraints, metrics)):
            best = row["mean_acc"] if best is None else max(best, row["mean_acc"])
    return best


def is_user_objective(name: str) -> bool:
    """Whether a task name is a user's ``module:function``."""
    return ":" in name and not name.startswith("nb201:")


def _nb201_task(name: str, data_dir: str | Path | None,
                constraints: Sequence[Constraint] | None) -> Task:
    _, device, budget = (name.split(":") + ["", ""])[:3]
    if device not in NB201_DEVICES:
        raise ValueError(f"{name!r}: unknown device {device!r}; expected nb201:DEVICE:BUDGET_MS "
                         f"with DEVICE one of {list(NB201_DEVICES)}.")
    try:
        budget_ms = float(budget)
    except ValueError:
        raise ValueError(f"{name!r}: the budget {budget!r} is not a number of "
                         "milliseconds.") from None
    if constraints:
        raise ValueError(f"{name!r} sets its own latency budget; the constraint flags do "
                         "not apply.")
    if data_dir is None:
        raise ValueError("nb201 needs --data-dir: the folder that holds nb201_hw/nb201_hw.csv.")
    objective, optimum, constraint = nb201(load_nb201_hw(data_dir), device, budget_ms)
    return Task(name, objective, None, (constraint,), "CIFAR-10 validation accuracy (%)",
                optimum)


def _check_device(device: str | None) -> None:
    if device is None:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; expected cpu or cuda.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this machine has no CUDA; "
                         "use --device cpu or leave it out.")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; expected cpu or cuda.")


def make_task(
    name: str,
    *,
    data_dir: str | Path | None = None,
    constraints: Sequence[Constraint] | None = None,
    epochs: int = 3,
    device: str | None = None,
    max_train: int | None = None,
    notes: bool = True,
) -> Task:
    """A task by name (see the module docstring).

    Args:
        name: One of :data:`TASK_NAMES`, or ``module:function``.
        data_dir: The folder that holds ``nas_bench_macro/``, ``cifar10/`` and
            ``speech_commands/``; ``None`` downloads CIFAR-10 and Speech Commands.
        constraints: Overrides the task's :data:`DEFAULT_CONSTRAINTS`.
        epochs: Training epochs per child (real-training tasks).
        device: Where to train; CUDA when present by default.
        max_train: Cap on training samples (CIFAR-10).
        notes: Save each child as an optuna-dashboard note.

    Raises:
        ValueError: Unknown task, or missing or malformed data.
    """
    cons = tuple(DEFAULT_CONSTRAINTS.get(name, ()) if constraints is None else constraints)
    _check_device(device)
    if name == "nas-bench-macro":
        if data_dir is None:
            raise ValueError("nas-bench-macro needs --data-dir: the folder that holds "
                             "nas_bench_macro/nas-bench-macro_cifar10.json.")
        table = load_nas_bench_macro(data_dir)
        space = zoo.nas_bench_macro_space(cons, notes=notes)

        def objective(trial: optuna.Trial) -> float:
            space.suggest(trial)
            return float(table[zoo.nas_bench_macro_code(trial.params)]["mean_acc"])

        return Task(name, objective, space, cons, "mean accuracy (%)",
                    lambda: nas_bench_macro_optimum(table, cons))
    if name in ("nas-bench-macro-plain", "nas-bench-macro-pair"):
        if data_dir is None:
            raise ValueError(f"{name} needs --data-dir: the folder that holds "
                             "nas_bench_macro/nas-bench-macro_cifar10.json.")
        bad = [str(c) for c in cons if c.metric not in ("params", "macs") or not c.is_upper]
        if bad:
            raise ValueError(f"{name} bounds params and macs from above; cannot apply {bad}.")
        table = load_nas_bench_macro(data_dir)
        make = nas_bench_macro_plain if name == "nas-bench-macro-plain" else (
            nas_bench_macro_pair)
        objective, optimum = make(table, cons)
        return Task(name, objective, None, cons, "mean accuracy (%)", optimum)
    if name.startswith("nb201:"):
        return _nb201_task(name, data_dir, constraints)
    if name == "digits":
        space = ArchitectureSpace(zoo.digits_cnn(), cons, max_inserts=1, notes=notes)
        return Task(name, _trained(space, digits(), epochs, device), space, cons)
    if name == "cifar10":
        folder = None if data_dir is None else Path(data_dir) / "cifar10"
        data = cifar10(folder, max_train=max_train, max_val=1000)
        space = ArchitectureSpace(zoo.cifar10_resnet(width=16), cons, max_inserts=1,
                                  notes=notes)
        return Task(name, _trained(space, data, epochs, device, random_crop_flip, 128),
                    space, cons)
    if name == "speech-commands":
        folder = None if data_dir is None else Path(data_dir) / "speech_commands"
        data = speech_commands(folder)
        space = ArchitectureSpace(zoo.kws_crnn(), cons, max_inserts=1, notes=notes)
        return Task(name, _trained(space, data, epochs, device), space, cons)
    if is_user_objective(name):
        if constraints:
            raise ValueError(f"{name!r} is your own objective: the constraint flags do not "
                             "reach it; set constraints in it with Constraint.set(trial, use) "
                             "or trial.set_constraint.")
        objective = import_named(name, "objective")
        if not callable(objective):
            raise ValueError(f"{name!r} is not a function of a trial.")
        return Task(name, objective, None, (), metric_name="objective")
    raise ValueError(f"unknown task {name!r}; expected one of {list(TASK_NAMES)} or "
                     "module:function.")
