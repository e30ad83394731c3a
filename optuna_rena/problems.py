"""NAS benchmark problems in OptunaHub's form: subclasses of
``optunahub.benchmarks.BaseProblem`` that look a network up in a benchmark's table.

* :class:`NB201LatencyProblem`: NAS-Bench-201's cells, CIFAR-10 validation accuracy under a
  latency budget on one of eight devices (HW-NAS-Bench's measurements);
* :class:`NB201FrontProblem`: the same cells, accuracy against the latency on a device
  (two objectives), optionally under a bound on the cell's parameters;
* :class:`NASBenchMacroProblem`: NAS-Bench-Macro's 6561 networks, mean CIFAR-10 accuracy
  under bounds on parameters and MACs;
* :class:`NASBenchMacroPairProblem`: two NAS-Bench-Macro networks side by side (3^16
  configurations), under bounds on their summed parameters and MACs.

``optuna-rena benchmark`` runs these same objects (the tasks ``nb201:DEVICE:BUDGET_MS``,
``nb201-front:DEVICE[:params=MAX]``, ``nas-bench-macro-plain`` and
``nas-bench-macro-pair``), and the repository's ``optunahub/benchmarks/`` folders publish
them on OptunaHub. Each takes the folder that holds the benchmark's table
(``nb201_hw/nb201_hw.csv`` or ``nas_bench_macro/nas-bench-macro_cifar10.json``).

What differs from ``BaseProblem``: calling a problem on a trial writes each constraint with
:meth:`Constraint.set <optuna_rena.Constraint.set>`, once, into the ``constraints`` list
that both Optuna and optuna-dashboard read, rather than with ``trial.set_constraint``,
whose ``constraints:NAME`` attributes optuna-dashboard 0.21 does not read (it would show
every trial feasible). :meth:`~NB201LatencyProblem.evaluate_constraints` returns the same
values under the same names (``latency_ms_max``, ``params_max``, ``macs_max``), which
:func:`optuna_rena.trial_violations` reads back from a trial.

optunahub is an optional extra (``pip install optuna-rena[hub]``). Without it the
problems have the same methods on a stand-in base class, so the benchmark runs them
either way.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
import math
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.study import StudyDirection

from optuna_rena._constraints import Constraint
from optuna_rena._pareto import ParetoFront
from optuna_rena._tabular import macro_columns
from optuna_rena._tabular import macro_optimum
from optuna_rena._tabular import macro_pair_optimum
from optuna_rena._tabular import nb201_optimum
from optuna_rena._tabular import nb201_params
from optuna_rena._tabular import nb201_true_front
from optuna_rena.datasets import load_nas_bench_macro
from optuna_rena.datasets import load_nb201_hw
from optuna_rena.datasets import NB201_DEVICES
from optuna_rena.datasets import NB201_OPERATIONS


class _StandInBaseProblem(abc.ABC):
    """The interface of ``optunahub.benchmarks.BaseProblem`` (optunahub 0.5), the base of
    the problems when optunahub is not installed."""

    @abc.abstractmethod
    def __call__(self, trial: optuna.Trial) -> float | Sequence[float]:
        raise NotImplementedError

    @abc.abstractmethod
    def evaluate(self, params: dict[str, Any]) -> float | Sequence[float]:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def search_space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def directions(self) -> list[StudyDirection]:
        raise NotImplementedError

    def evaluate_constraints(self, params: dict[str, Any]) -> dict[str, float]:
        return {}


try:
    from optunahub.benchmarks import BaseProblem
except ImportError:  # optunahub is an optional extra; see the module docstring
    BaseProblem = _StandInBaseProblem


_MACRO_DIGITS = (0, 1, 2)
_NB201_DATA = "nb201_hw/nb201_hw.csv"
_MACRO_DATA = "nas_bench_macro/nas-bench-macro_cifar10.json"


def _data_folder(data_dir: str | os.PathLike[str], holds: str) -> Path:
    """``data_dir`` as a path, checked to be a folder (the loaders name a missing file)."""
    if not isinstance(data_dir, (str, os.PathLike)):
        raise ValueError(f"data_dir must be the path of a folder that holds {holds}, got "
                         f"{data_dir!r}.")
    path = Path(data_dir)
    if not path.is_dir():
        raise ValueError(f"the data folder {str(path)!r} is not a folder; expected the folder "
                         f"that holds {holds}.")
    return path


def _positive(value: Any, name: str) -> float:
    """``value`` as a float, checked to be a positive finite number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    return float(value)


def _reachable(name: str, bound: float, least: float, what: str, item: str,
               unit: str = "") -> None:
    """Refuse a bound below the least value in the table: no configuration would meet it."""
    if bound < least:
        raise ValueError(f"{name}={bound:g} is below {what} in the table, {least:g}{unit}: no "
                         f"{item} meets it; expected at least {least:g}.")


def _check_device(device: Any) -> str:
    if device not in NB201_DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {list(NB201_DEVICES)}.")
    return device


class _TabularProblem(BaseProblem):
    """A problem whose every parameter is categorical and whose objectives and metrics are
    a lookup in a table. Subclasses give the choices, directions, names and constraints,
    and :meth:`_look_up`."""

    # Metrics recorded as user attributes on every trial, bounded or not; a bounded
    # metric is recorded by its constraint.
    _recorded: tuple[str, ...] = ()

    def __init__(self, choices: dict[str, tuple[Any, ...]], directions: tuple[str, ...],
                 metric_names: tuple[str, ...], constraints: tuple[Constraint, ...]) -> None:
        self._choices = choices
        self._directions = directions
        self._metric_names = metric_names
        self._constraints = constraints

    @property
    def search_space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The parameters, each a :class:`~optuna.distributions.CategoricalDistribution`."""
        return {name: CategoricalDistribution(list(c)) for name, c in self._choices.items()}

    @property
    def directions(self) -> list[StudyDirection]:
        """Per objective, :class:`~optuna.study.StudyDirection` ``MAXIMIZE`` or ``MINIMIZE``."""
        return [StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
                for d in self._directions]

    @property
    def metric_names(self) -> list[str]:
        """The objectives' names, one each (for ``study.set_metric_names``)."""
        return list(self._metric_names)

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The bounds whose violations :meth:`evaluate_constraints` gives, in order."""
        return self._constraints

    def evaluate(self, params: dict[str, Any]) -> float | tuple[float, ...]:
        """The objective's value for ``params`` (one value per objective when there are
        several).

        Raises:
            ValueError: ``params`` lacks a parameter of :attr:`search_space`, gives one a
                value that is not among its choices, or names an unknown one.
        """
        values, _ = self._look_up(self._checked(params))
        return values[0] if len(values) == 1 else values

    def evaluate_constraints(self, params: dict[str, Any]) -> dict[str, float]:
        """The constraints' values for ``params`` by name (``latency_ms_max``, ...): RENA's
        normalised violation ``U / C - 1``, feasible at ``<= 0``.

        Raises:
            ValueError: As :meth:`evaluate`.
        """
        _, uses = self._look_up(self._checked(params))
        return {c.name: c.violation(uses[c.metric]) for c in self._constraints}

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        """Suggest every parameter, write each constraint on ``trial`` (see the module
        docstring) with the bounded metric as a user attribute, and return the
        objective's value."""
        params = {name: trial.suggest_categorical(name, choices)
                  for name, choices in self._choices.items()}
        values, uses = self._look_up(params)
        for c in self._constraints:
            c.set(trial, uses[c.metric])
        bounded = {c.metric for c in self._constraints}
        for metric in self._recorded:
            if metric not in bounded:
                trial.set_user_attr(metric, uses[metric])
        return values[0] if len(values) == 1 else values

    def _checked(self, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise ValueError(f"params must be a dict of {list(self._choices)}, got {params!r}.")
        missing = [name for name in self._choices if name not in params]
        unknown = sorted(str(name) for name in params if name not in self._choices)
        if missing or unknown:
            wrong = [f"{what} {names}" for what, names in (("missing", missing),
                                                           ("unknown", unknown)) if names]
            raise ValueError(f"params must give exactly {list(self._choices)}; "
                             f"{' and '.join(wrong)}.")
        checked = {}
        for name, choices in self._choices.items():
            value = params[name]
            # A bool equals 0 or 1, but is no layer's choice.
            if isinstance(value, (bool, np.bool_)) or value not in choices:
                raise ValueError(f"params[{name!r}] = {value!r} is not one of {list(choices)}.")
            checked[name] = choices[choices.index(value)]  # 1.0 as the choice 1
        return checked

    @abc.abstractmethod
    def _look_up(self, params: dict[str, Any]) -> tuple[tuple[float, ...], dict[str, float]]:
        """The objectives' values and each metric's use, for checked ``params``."""


class NB201LatencyProblem(_TabularProblem):
    """NAS-Bench-201 under a latency budget measured on one device.

    A configuration is a NAS-Bench-201 cell: six edges ``E0`` .. ``E5``, each one of
    ``none``, ``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3`` and ``avg_pool_3x3``
    (15625 cells). The objective is the cell's CIFAR-10 validation accuracy (%, after 12
    epochs; maximised); the constraint ``latency_ms_max`` bounds its latency on
    ``device`` (HW-NAS-Bench's measurements) by ``budget_ms``, and each trial records
    ``latency_ms``. A trial costs a table lookup.

    Example:

        .. code-block:: python

            import os

            import optuna
            from optuna_rena import RenaSampler
            from optuna_rena.problems import NB201LatencyProblem

            data_dir = os.environ.get("OPTUNA_RENA_DATA", "../shared/data")
            problem = NB201LatencyProblem(data_dir, device="pixel3", budget_ms=2.5)
            study = optuna.create_study(directions=problem.directions,
                                        sampler=RenaSampler(seed=0))
            study.optimize(problem, n_trials=20)
            best = study.best_trial  # the best feasible trial
            assert problem.evaluate_constraints(best.params)["latency_ms_max"] <= 0
            print(best.value, "of at most", problem.optimum())

    Args:
        data_dir: The folder that holds ``nb201_hw/nb201_hw.csv`` (NAS-Bench-201's
            accuracies joined with HW-NAS-Bench's latencies).
        device: One of ``raspi4``, ``pixel3``, ``fpga``, ``eyeriss``, ``gold_6240``,
            ``samsung_a50``, ``titan_rtx_1`` and ``2080ti_1``.
        budget_ms: The latency budget in milliseconds; at least the device's smallest
            latency in the table.

    Raises:
        ValueError: The folder or the table is missing, the device is unknown, or the
            budget is not a positive number or below every cell's latency.
    """

    def __init__(self, data_dir: str | os.PathLike[str], device: str,
                 budget_ms: float) -> None:
        device = _check_device(device)
        budget_ms = _positive(budget_ms, "budget_ms")
        table = load_nb201_hw(_data_folder(data_dir, _NB201_DATA))
        _reachable("budget_ms", budget_ms, float(table.latency_ms[device].min()),
                   f"the smallest latency on {device}", "cell", " ms")
        super().__init__({f"E{i}": NB201_OPERATIONS for i in range(6)}, ("maximize",),
                         ("accuracy",), (Constraint("latency_ms", max=budget_ms),))
        self.device = device
        self.budget_ms = budget_ms
        self._table = table
        self._index = table.index()

    def optimum(self) -> float:
        """The best accuracy of a cell within the budget: the regret's zero."""
        best = nb201_optimum(self._table, self.device, self.budget_ms)
        assert best is not None  # the budget is at least the smallest latency
        return best

    def _look_up(self, params: dict[str, Any]) -> tuple[tuple[float, ...], dict[str, float]]:
        row = self._index[tuple(params[f"E{i}"] for i in range(6))]
        return ((float(self._table.accuracy[row]),),
                {"latency_ms": float(self._table.latency_ms[self.device][row])})


class NB201FrontProblem(_TabularProblem):
    """NAS-Bench-201's accuracy against the latency on one device: two objectives.

    The cells of :class:`NB201LatencyProblem`; the objectives are the CIFAR-10 validation
    accuracy (%, maximised) and the latency on ``device`` (ms, minimised). Each trial
    records ``latency_ms`` and ``params``, the cell's trainable parameters counted from
    the benchmark's network (the table holds none); with ``max_params``, the constraint
    ``params_max`` bounds them. :meth:`front` is the table's true front.

    Example:

        .. code-block:: python

            import os

            import optuna
            from optuna_rena.problems import NB201FrontProblem

            data_dir = os.environ.get("OPTUNA_RENA_DATA", "../shared/data")
            problem = NB201FrontProblem(data_dir, device="fpga", max_params=300_000)
            study = optuna.create_study(directions=problem.directions,
                                        sampler=optuna.samplers.NSGAIISampler(seed=0))
            study.optimize(problem, n_trials=30)
            found = [t.values for t in study.best_trials]  # the feasible front
            print(f"hypervolume gap {problem.front().gap(found):.3f}")

    Args:
        data_dir: The folder that holds ``nb201_hw/nb201_hw.csv``.
        device: One of ``raspi4``, ``pixel3``, ``fpga``, ``eyeriss``, ``gold_6240``,
            ``samsung_a50``, ``titan_rtx_1`` and ``2080ti_1``.
        max_params: A bound on the cell's parameters, at least 73306 (a cell without
            convolutions); ``None`` for none.

    Raises:
        ValueError: The folder or the table is missing, the device is unknown, or
            ``max_params`` is not a positive number or below every cell's parameters.
    """

    _recorded = ("params", "latency_ms")

    def __init__(self, data_dir: str | os.PathLike[str], device: str,
                 max_params: float | None = None) -> None:
        device = _check_device(device)
        if max_params is not None:
            max_params = _positive(max_params, "max_params")
        table = load_nb201_hw(_data_folder(data_dir, _NB201_DATA))
        params = np.array([nb201_params(cell) for cell in table.cells], dtype=float)
        if max_params is not None:
            _reachable("max_params", max_params, float(params.min()),
                       "the fewest parameters of a cell", "cell")
        constraints = () if max_params is None else (Constraint("params", max=max_params),)
        super().__init__({f"E{i}": NB201_OPERATIONS for i in range(6)},
                         ("maximize", "minimize"), ("accuracy", "latency_ms"), constraints)
        self.device = device
        self.max_params = max_params
        self._table = table
        self._index = table.index()
        self._params = params

    def front(self) -> ParetoFront:
        """The true front, of every cell within ``max_params``, as ``(accuracy, latency)``
        points (``.points``), with its reference point (the table's median accuracy and
        median latency on the device), four latency budgets (the 10, 25, 50 and 75 %
        quantiles of the device's latencies), ``.hypervolume`` and ``.gap(found)``,
        ``1 - HV(found) / HV(front)``."""
        return nb201_true_front(self._table, self.device, self._params, self.max_params)

    def _look_up(self, params: dict[str, Any]) -> tuple[tuple[float, ...], dict[str, float]]:
        row = self._index[tuple(params[f"E{i}"] for i in range(6))]
        latency = float(self._table.latency_ms[self.device][row])
        return ((float(self._table.accuracy[row]), latency),
                {"latency_ms": latency, "params": float(self._params[row])})


def _macro_constraints(max_params: float | None, max_macs: float | None, least_params: float,
                       least_macs: float, item: str, of: str) -> tuple[Constraint, ...]:
    """The bounds that are given, each checked to be a positive number that some
    configuration meets."""
    constraints = []
    for metric, bound, least in (("params", max_params, least_params),
                                 ("macs", max_macs, least_macs)):
        if bound is not None:
            bound = _positive(bound, f"max_{metric}")
            what = "parameters" if metric == "params" else "MACs"
            _reachable(f"max_{metric}", bound, least, f"the fewest {what} of {of}", item)
            constraints.append(Constraint(metric, max=bound))
    return tuple(constraints)


class NASBenchMacroProblem(_TabularProblem):
    """NAS-Bench-Macro under bounds on parameters and MACs.

    A configuration is eight layers ``L1`` .. ``L8``, each ``0`` (identity), ``1``
    (MobileNetV2 block, kernel 3, expansion 3) or ``2`` (kernel 5, expansion 6): 6561
    networks, each trained on CIFAR-10 three times. The objective is the mean test
    accuracy (%, maximised); the constraints ``params_max`` and ``macs_max`` bound the
    network's parameters and multiply-accumulates (the table's), which each trial records.
    Under the default bounds 39 networks are feasible.

    Example:

        .. code-block:: python

            import os

            import optuna
            from optuna_rena.problems import NASBenchMacroProblem

            data_dir = os.environ.get("OPTUNA_RENA_DATA", "../shared/data")
            problem = NASBenchMacroProblem(data_dir)
            study = optuna.create_study(directions=problem.directions,
                                        sampler=optuna.samplers.TPESampler(seed=0))
            study.optimize(problem, n_trials=30)
            print(study.best_trial.user_attrs, "optimum", problem.optimum())

    Args:
        data_dir: The folder that holds ``nas_bench_macro/nas-bench-macro_cifar10.json``.
        max_params: The bound on parameters, ``None`` for none; at least the smallest
            network's 387882.
        max_macs: The bound on MACs, ``None`` for none; at least the smallest network's
            7713280.

    Raises:
        ValueError: The folder or the table is missing, or a bound is not a positive
            number or below every network's.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *,
                 max_params: float | None = 600_000,
                 max_macs: float | None = 25_000_000) -> None:
        table = load_nas_bench_macro(_data_folder(data_dir, _MACRO_DATA))
        _, _, params, macs = macro_columns(table)
        constraints = _macro_constraints(max_params, max_macs, float(params.min()),
                                         float(macs.min()), "network", "a network")
        super().__init__({f"L{i}": _MACRO_DIGITS for i in range(1, 9)}, ("maximize",),
                         ("accuracy",), constraints)
        self._table = table

    def optimum(self) -> float | None:
        """The best mean accuracy of a network within the bounds (``None`` when no network
        meets both)."""
        return macro_optimum(self._table, *_bounds(self._constraints))

    def _look_up(self, params: dict[str, Any]) -> tuple[tuple[float, ...], dict[str, float]]:
        row = self._table["".join(str(params[f"L{i}"]) for i in range(1, 9))]
        return ((float(row["mean_acc"]),),
                {"params": float(row["params"]), "macs": float(row["flops"])})


class NASBenchMacroPairProblem(_TabularProblem):
    """Two NAS-Bench-Macro networks side by side, under bounds on their summed parameters
    and MACs.

    Sixteen parameters, ``A1`` .. ``A8`` for the first network and ``B1`` .. ``B8`` for
    the second, each as :class:`NASBenchMacroProblem`'s layers (3^16 = 43 M
    configurations). The objective is the mean of the two networks' mean accuracies (%,
    maximised); the constraints ``params_max`` and ``macs_max`` bound the summed
    parameters and MACs, which each trial records. Under the default bounds 0.06 % of the
    configurations are feasible.

    Example:

        .. code-block:: python

            import os

            import optuna
            from optuna_rena.problems import NASBenchMacroPairProblem

            data_dir = os.environ.get("OPTUNA_RENA_DATA", "../shared/data")
            problem = NASBenchMacroPairProblem(data_dir)
            study = optuna.create_study(directions=problem.directions)
            study.optimize(problem, n_trials=10)
            print(problem.evaluate(study.trials[0].params), study.trials[0].value)

    Args:
        data_dir: The folder that holds ``nas_bench_macro/nas-bench-macro_cifar10.json``.
        max_params: The bound on the summed parameters, ``None`` for none; at least twice
            the smallest network's, 775764.
        max_macs: The bound on the summed MACs, ``None`` for none; at least twice the
            smallest network's, 15426560.

    Raises:
        ValueError: The folder or the table is missing, or a bound is not a positive
            number or below every pair's.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *,
                 max_params: float | None = 1_400_000,
                 max_macs: float | None = 55_000_000) -> None:
        table = load_nas_bench_macro(_data_folder(data_dir, _MACRO_DATA))
        _, _, params, macs = macro_columns(table)
        constraints = _macro_constraints(max_params, max_macs, 2 * float(params.min()),
                                         2 * float(macs.min()), "pair", "two networks")
        super().__init__({f"{net}{i}": _MACRO_DIGITS for net in "AB" for i in range(1, 9)},
                         ("maximize",), ("accuracy",), constraints)
        self._table = table

    def optimum(self) -> float | None:
        """The best mean accuracy of a pair within the bounds (``None`` when no pair meets
        both); it compares all 43 M pairs, in a fraction of a second."""
        return macro_pair_optimum(self._table, *_bounds(self._constraints))

    def _look_up(self, params: dict[str, Any]) -> tuple[tuple[float, ...], dict[str, float]]:
        rows = [self._table["".join(str(params[f"{net}{i}"]) for i in range(1, 9))]
                for net in "AB"]
        return ((float(np.mean([r["mean_acc"] for r in rows])),),
                {"params": float(sum(r["params"] for r in rows)),
                 "macs": float(sum(r["flops"] for r in rows))})


def _bounds(constraints: Sequence[Constraint]) -> tuple[float, float]:
    """The bounds on ``params`` and ``macs``, ``inf`` where there is none."""
    limits = {c.metric: c.limit for c in constraints}
    return limits.get("params", math.inf), limits.get("macs", math.inf)


__all__ = ["NASBenchMacroPairProblem", "NASBenchMacroProblem", "NB201FrontProblem",
           "NB201LatencyProblem"]
