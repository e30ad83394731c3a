"""Search tasks: a baseline, a space, default constraints and an objective.

* ``nas-bench-macro``: tabular; the accuracy of each of NAS-Bench-Macro's 6561 networks
  comes from the benchmark's JSON, so a trial costs nothing but the sampler.
* ``digits``: real training of small CNNs on scikit-learn's digits, on the CPU.
* ``digits-curves``: tabular ``digits`` with learning curves: each of the 343 children of
  :func:`~optuna_rena.zoo.digits_curves_space` (digits' space without insertions, with
  fewer scale factors) was trained for 12 epochs (``benchmarks/digits_curves.py``); a trial
  reports its child's validation accuracy after each epoch, so a pruner stops it as it
  would stop the real training, and returns the last. Same constraints as ``digits``; the
  optimum is the best feasible last-epoch accuracy of the table. ``--epochs`` does not
  apply: the curves are the table's.
* ``cifar10``: real training of the ResNet baseline on a CIFAR-10 folder (or download).
* ``speech-commands``: real training of the keyword-spotting CRNN on log-mel features.
* ``nas-bench-macro-plain``, ``nas-bench-macro-pair``, ``nb201:DEVICE:BUDGET_MS``:
  tabular define-by-run objectives with no space, the problems of
  :mod:`optuna_rena.problems` (``NASBenchMacroProblem``, ``NASBenchMacroPairProblem``,
  ``NB201LatencyProblem``) under the task's budget.
* ``module:function``: your own objective, ``function(trial) -> float``.

Multi-objective tasks (a trial returns one value per objective; :attr:`Task.front` is the
front that a benchmark measures a study's against, with its reference point and the
budgets of the budget regret):

* ``nb201-front:DEVICE``: NAS-Bench-201 cells, CIFAR-10 validation accuracy (maximised)
  against the latency measured on ``DEVICE`` (minimised), the problem
  :class:`~optuna_rena.problems.NB201FrontProblem`; the true front is the table's.
  Reference point: the table's median accuracy and median latency on the device. Latency
  budgets: the 10, 25, 50 and 75 % quantiles of the device's latencies over the table.
* ``nb201-front:DEVICE:params=MAX``: the same, with the cells' parameters (counted, see
  :func:`~optuna_rena._tabular.nb201_params`) bounded by ``MAX`` through
  ``Constraint.set``; the true front holds the feasible cells only.
* ``nas-bench-macro-front``: the NAS-Bench-Macro space (as ``nas-bench-macro``), no
  constraints, three objectives: mean accuracy (maximised), the child's counted
  parameters and MACs (minimised), named ``accuracy``, ``params`` and ``macs``. The true
  front is over all 6561 networks; the reference point is the table's median of each
  objective; the budgets bound the parameters (10, 25, 50, 75 % quantiles over the table).
* ``digits-front``: real training as ``digits`` (no constraints unless flags give them),
  accuracy (maximised) against the child's latency measured on this machine's CPU in ms
  (minimised). No true front is known: a benchmark measures each study against the best
  front that any of its studies found (see :mod:`optuna_rena._benchmark.runner`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
import functools
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from optuna_rena import zoo
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import violations_of
from optuna_rena._imports import import_named
from optuna_rena._latency import measure_latency
from optuna_rena._metrics import ANALYTIC_METRICS
from optuna_rena._pareto import check_directions
from optuna_rena._pareto import ParetoFront
from optuna_rena._pareto import quantile_budgets
from optuna_rena._record import record_search
from optuna_rena._resources import ResourceModel
from optuna_rena._space import ArchitectureSpace
from optuna_rena._tabular import check_curve_table
from optuna_rena._tabular import curves_optimum
from optuna_rena.datasets import cifar10
from optuna_rena.datasets import CurveTable
from optuna_rena.datasets import Dataset
from optuna_rena.datasets import digits
from optuna_rena.datasets import load_digits_curves
from optuna_rena.datasets import load_nas_bench_macro
from optuna_rena.datasets import NB201_DEVICES
from optuna_rena.problems import NASBenchMacroPairProblem
from optuna_rena.problems import NASBenchMacroProblem
from optuna_rena.problems import NB201FrontProblem
from optuna_rena.problems import NB201LatencyProblem
from optuna_rena.datasets import speech_commands
from optuna_rena.training import fit
from optuna_rena.training import random_crop_flip


Objective = Callable[[optuna.Trial], float | Sequence[float]]
"""An objective: a float, or one float per objective of a multi-objective task."""


@dataclass
class Task:
    """What a search or benchmark runs; ``space`` is ``None`` for a user objective.

    A task of one objective has ``directions == ("maximize",)`` (a user's objective may
    be minimised: the benchmark's ``--direction``) and its objective returns a float. A
    multi-objective task has one direction and one name per objective, its objective
    returns a sequence of floats in that order, and ``find_front`` (when the front is
    known) gives the true front with its reference point and budgets.

    Attributes:
        name: The task's name (``nb201-front:pixel3``).
        objective: The objective of a trial.
        space: The architecture space, or ``None`` for an objective without one.
        constraints: The budget that the objective writes on each trial.
        metric_name: The objective's name; for several, their names joined, for lines
            that name the objectives together.
        find_optimum: The best feasible value, for regret (one objective).
        directions: ``"maximize"`` or ``"minimize"`` per objective.
        metric_names: The objectives' names, one each; ``(metric_name,)`` by default.
        find_front: The true front (several objectives), ``None`` when it is not known.
    """

    name: str
    objective: Objective
    space: ArchitectureSpace | None
    constraints: tuple[Constraint, ...]
    metric_name: str = "accuracy"
    find_optimum: Callable[[], float | None] | None = None
    directions: tuple[str, ...] = ("maximize",)
    metric_names: tuple[str, ...] = ()
    find_front: Callable[[], ParetoFront] | None = None

    def __post_init__(self) -> None:
        self.directions = check_directions(self.directions)
        if not self.metric_names:
            if len(self.directions) > 1:
                raise ValueError(f"task {self.name!r}: give a name for each of its "
                                 f"{len(self.directions)} objectives.")
            self.metric_names = (self.metric_name,)
        if len(self.metric_names) != len(self.directions):
            raise ValueError(f"task {self.name!r}: {len(self.metric_names)} metric names for "
                             f"{len(self.directions)} directions.")

    @property
    def is_multi_objective(self) -> bool:
        return len(self.directions) > 1

    @functools.cached_property
    def optimum(self) -> float | None:
        """The best feasible value when known, for regret; computed on first use."""
        return self.find_optimum() if self.find_optimum is not None else None

    @functools.cached_property
    def front(self) -> ParetoFront | None:
        """The true front when known (several objectives); computed on first use."""
        return self.find_front() if self.find_front is not None else None

    def record(self, study: optuna.Study) -> None:
        """Record on ``study`` what it searches: the task's and the objective's names, the
        budget and the space as study user attributes (refusing a continued study of
        another, see :func:`~optuna_rena._budget.record_budget`), the objectives' names as
        the study's metric names, and the budget, the space and the objective in the
        study's optuna-dashboard note, when it has none.

        Raises:
            ValueError: The study was searched for another task, holds trials of another
                budget or space, or has other directions than the task's objectives.
        """
        space = self.space
        record_search(study, self.constraints, self.metric_names,
                      space_fingerprint=None if space is None else space.decisions_fingerprint,
                      space_summary=None if space is None else space.summary, task=self.name,
                      objective=self.metric_name, directions=self.directions)


DEFAULT_CONSTRAINTS: dict[str, tuple[Constraint, ...]] = {
    # 39 of 6561 feasible; best feasible mean accuracy 86.43 (01100100).
    "nas-bench-macro": (Constraint("params", max=600_000), Constraint("macs", max=25_000_000)),
    # The baseline has 24 k parameters; these budgets force a smaller network.
    "digits": (Constraint("params", max=10_000), Constraint("flops", max=600_000)),
    # digits' budget on digits' children: 42 of the table's 343 meet it.
    "digits-curves": (Constraint("params", max=10_000), Constraint("flops", max=600_000)),
    # The paper's CIFAR-10 setting: under 3 M parameters, data reuse above 10 FLOPs/byte
    # at this small scale (100 in the paper, whose networks are far larger).
    "cifar10": (Constraint("params", max=3_000_000), Constraint("compute_intensity", min=10)),
    # The paper's keyword-spotting constraints, scaled to the CRNN baseline.
    "speech-commands": (Constraint("params", max=60_000),
                        Constraint("compute_intensity", min=15)),
}
"""The constraints of the tasks with a space; nas-bench-macro-plain and nas-bench-macro-pair
take their problems' default bounds."""
TASK_NAMES = ("nas-bench-macro", "digits", "digits-curves", "cifar10", "speech-commands",
              "nas-bench-macro-plain", "nas-bench-macro-pair", "nb201:DEVICE:BUDGET_MS",
              "nb201-front:DEVICE", "nb201-front:DEVICE:params=MAX", "nas-bench-macro-front",
              "digits-front")


def _trained(space: ArchitectureSpace, data: Dataset, epochs: int, device: str | None,
             augment: Any = None, batch_size: int = 64) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        child = space.suggest(trial)
        torch.manual_seed(trial.number)  # the child's initial weights
        return fit(child.build(), data, epochs=epochs, trial=trial, device=device,
                   augment=augment, batch_size=batch_size, seed=trial.number)
    return objective


def _tabulated_curve(space: ArchitectureSpace,
                     table: CurveTable) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)  # records the child's resources and constraints, as digits'
        curve = table.rows[zoo.digits_curves_key(trial.params)]["accuracy"]
        accuracy = 0.0
        # As fit() reports and prunes, so a pruner sees what it would see in training.
        for epoch, accuracy in enumerate(curve):
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch} at accuracy "
                                         f"{accuracy:.4f}")
        return float(accuracy)
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


def _trained_against_latency(
        space: ArchitectureSpace, data: Dataset, epochs: int, device: str | None,
) -> Callable[[optuna.Trial], tuple[float, float]]:
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        child = space.suggest(trial)
        torch.manual_seed(trial.number)  # the child's initial weights
        # No trial: Optuna cannot prune a multi-objective trial from its reports.
        accuracy = fit(child.build(), data, epochs=epochs, device=device, seed=trial.number)
        # Latency on the CPU whatever the training device: the front is of a CPU model.
        latency = measure_latency(child, device="cpu")
        trial.set_user_attr("latency_ms", latency)
        return accuracy, latency
    return objective


def nas_bench_macro_front(table: dict[str, dict[str, Any]]) -> ParetoFront:
    """The true front of ``nas-bench-macro-front`` over all the table's networks, whose
    ``params`` and ``flops`` (MACs) columns are the resource model's counts (the tests
    compare all 6561); reference point: the median of each objective over the table;
    budgets: the 10, 25, 50 and 75 % quantiles of the parameters."""
    rows = list(table.values())
    points = np.array([[r["mean_acc"], r["params"], r["flops"]] for r in rows], dtype=float)
    return ParetoFront(
        points, ("maximize", "minimize", "minimize"), np.median(points, axis=0),
        quantile_budgets(points[:, 1]), budget_objective=1,
        about=(f"true front of all {len(rows)} networks; reference point: the table's median "
               "of each objective; params budgets: the 10, 25, 50 and 75 % quantiles of the "
               "table's parameters"))


_PREFIXES = ("nb201:", "nb201-front:")


def is_user_objective(name: str) -> bool:
    """Whether a task name is a user's ``module:function``."""
    return ":" in name and not name.startswith(_PREFIXES)


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
    problem = NB201LatencyProblem(data_dir, device, budget_ms)
    return Task(name, problem, None, problem.constraints, "CIFAR-10 validation accuracy (%)",
                problem.optimum)


def _nb201_front_task(name: str, data_dir: str | Path | None,
                      constraints: Sequence[Constraint] | None) -> Task:
    _, device, *rest = name.split(":")
    expected = "nb201-front:DEVICE or nb201-front:DEVICE:params=MAX"
    if device not in NB201_DEVICES:
        raise ValueError(f"{name!r}: unknown device {device!r}; expected {expected} with "
                         f"DEVICE one of {list(NB201_DEVICES)}.")
    max_params = None
    if rest:
        key, sep, value = rest[0].partition("=")
        try:
            max_params = float(value) if len(rest) == 1 and key == "params" and sep else None
        except ValueError:
            pass
        if max_params is None or not 0 < max_params < np.inf:
            raise ValueError(f"{name!r}: expected {expected}, with MAX a positive number of "
                             f"parameters, got {':'.join(rest)!r}.")
    if constraints:
        own = "params <= MAX, from its name" if rest else "none"
        raise ValueError(f"{name!r} sets its own constraints ({own}); the constraint flags "
                         "do not apply. Bound the parameters with "
                         "nb201-front:DEVICE:params=MAX.")
    if data_dir is None:
        raise ValueError(f"{name} needs --data-dir: the folder that holds "
                         "nb201_hw/nb201_hw.csv.")
    problem = NB201FrontProblem(data_dir, device, max_params)
    return Task(name, problem, None, problem.constraints, "accuracy, latency_ms",
                directions=_direction_names(problem.directions),
                metric_names=tuple(problem.metric_names), find_front=problem.front)


def _direction_names(directions: Sequence[optuna.study.StudyDirection]) -> tuple[str, ...]:
    return tuple("maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize"
                 for d in directions)


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
        constraints: Overrides the task's :data:`DEFAULT_CONSTRAINTS` (or, for
            ``nas-bench-macro-plain`` and ``nas-bench-macro-pair``, its problem's bounds).
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
        make = NASBenchMacroProblem if name == "nas-bench-macro-plain" else (
            NASBenchMacroPairProblem)
        # No flags: the problem's default bounds; else the flags', a bound not given is none.
        bounds = {} if constraints is None else {
            f"max_{metric}": next((c.limit for c in cons if c.metric == metric), None)
            for metric in ("params", "macs")}
        problem = make(data_dir, **bounds)
        return Task(name, problem, None, problem.constraints, "mean accuracy (%)",
                    problem.optimum)
    if name.startswith("nb201:"):
        return _nb201_task(name, data_dir, constraints)
    if name.startswith("nb201-front:"):
        return _nb201_front_task(name, data_dir, constraints)
    if name == "nas-bench-macro-front":
        if constraints:
            raise ValueError(f"{name} has no constraints: params and MACs are objectives; "
                             "the constraint flags do not apply.")
        if data_dir is None:
            raise ValueError(f"{name} needs --data-dir: the folder that holds "
                             "nas_bench_macro/nas-bench-macro_cifar10.json.")
        table = load_nas_bench_macro(data_dir)
        space = zoo.nas_bench_macro_space((), notes=notes)

        def macro_objective(trial: optuna.Trial) -> tuple[float, float, float]:
            child = space.suggest(trial)
            counted = space.resource_model.count(child)
            return (float(table[zoo.nas_bench_macro_code(trial.params)]["mean_acc"]),
                    float(counted.params), float(counted.macs))

        return Task(name, macro_objective, space, (), "accuracy, params, macs",
                    directions=("maximize", "minimize", "minimize"),
                    metric_names=("accuracy", "params", "macs"),
                    find_front=lambda: nas_bench_macro_front(table))
    if name == "digits-front":
        bad = [str(c) for c in cons if c.metric == "latency_ms"]
        if bad:
            raise ValueError(f"{name} minimises latency_ms as an objective; cannot also "
                             f"bound it: {bad}.")
        space = ArchitectureSpace(zoo.digits_cnn(), cons, max_inserts=1, notes=notes)
        return Task(name, _trained_against_latency(space, digits(), epochs, device), space,
                    cons, "accuracy, latency_ms", directions=("maximize", "minimize"),
                    metric_names=("accuracy", "latency_ms"))
    if name == "digits-curves":
        bad = [str(c) for c in cons if c.metric not in ANALYTIC_METRICS]
        if bad:
            raise ValueError(f"{name} knows its children's counted metrics only "
                             f"({', '.join(ANALYTIC_METRICS)}); cannot apply {bad}.")
        space = zoo.digits_curves_space(cons, notes=notes)
        table = load_digits_curves()
        check_curve_table(table, space, zoo.digits_curves_key)
        return Task(name, _tabulated_curve(space, table), space, cons, "accuracy",
                    lambda: curves_optimum(table, cons))
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
