"""The feasible Pareto front of a multi-objective study, and the best network within
each of several budgets.

A multi-objective study is read here as quality against resources: its **first
objective is the quality** (accuracy, maximised; or an error, minimised), and **every
other objective is a budget axis** (measured latency, params, ...). So "the best network
within a budget" is the feasible trial of best quality whose value on one budget axis is
within the budget (``<=`` on a minimised axis, ``>=`` on a maximised one), the other axes
free: the question "the most accurate network under 4 ms", asked of one search for several
devices or budgets. The budgets are the user's, or by default the 25, 50 and 75 %
quantiles of the front on each axis.

A trial counts when it is complete, its values are finite, it meets the constraints it
recorded (whoever wrote them: :func:`~optuna_rena.trial_violations`) and the study's
budget of constraints, checked again on the metrics it recorded, as the single-objective
best feasible trial is (:func:`~optuna_rena._budget.best_feasible_trial`).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
import optuna
from optuna.study import StudyDirection
# Optuna's own front (the one study.best_trials gives), on trials chosen here: its
# feasibility reads trial.constraints alone, where the budget is checked again here.
from optuna.study._multi_objective import _get_pareto_front_trials_by_trials
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._budget import study_budget
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._constraints import violations_of


DEFAULT_QUANTILES: tuple[float, ...] = (0.25, 0.5, 0.75)
"""Where the default budgets lie on each axis: quantiles of the front's values."""


def objective_names(study: optuna.Study) -> list[str]:
    """The names of the study's objectives: its metric names, or ``objective 0``,
    ``objective 1``, ... when it has none."""
    names = study.metric_names
    if names is not None and len(names) == len(study.directions):
        return list(names)
    return [f"objective {i}" for i in range(len(study.directions))]


def feasible_trials(study: optuna.Study,
                    constraints: Sequence[Constraint] | None = None) -> list[FrozenTrial]:
    """The complete trials with finite values that meet the constraints they recorded and
    ``constraints`` (by default the study's budget, :func:`study_budget`), checked again
    on the metrics they recorded."""
    budget = study_budget(study) if constraints is None else tuple(constraints)
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.values is None or not all(math.isfinite(v) for v in t.values):
            continue
        if not is_feasible(trial_violations(t)):
            continue
        metrics = {k: v for k, v in t.user_attrs.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if is_feasible(violations_of(budget, metrics)):
            out.append(t)
    return out


def feasible_front(study: optuna.Study,
                   constraints: Sequence[Constraint] | None = None) -> list[FrozenTrial]:
    """The Pareto front of the feasible trials (:func:`feasible_trials`), best quality
    (the first objective) first, then by trial number.

    For a constrained study this is ``study.best_trials``, which Optuna 5.1 takes from the
    trials whose every ``trial.constraints`` value is ``<= 0``; here the study's budget is
    checked again on the trials' metrics as well, so no trial that breaks it is on the
    front, whatever its stored values say.
    """
    front = _get_pareto_front_trials_by_trials(feasible_trials(study, constraints),
                                               study.directions)
    sign = _sign(study.directions[0])
    return sorted(front, key=lambda t: (-sign * t.values[0], t.number))


@dataclass(frozen=True)
class Budget:
    """A bound on one budget axis: ``latency_ms <= 4``.

    Args:
        axis: The objective's index, ``>= 1`` (the first objective is the quality).
        name: The objective's name.
        limit: The bound.
        upper: ``value <= limit`` (a minimised axis); else ``value >= limit``.
    """

    axis: int
    name: str
    limit: float
    upper: bool

    def admits(self, trial: FrozenTrial) -> bool:
        """Whether ``trial``'s value on this axis is within the budget."""
        value = trial.values[self.axis]
        return value <= self.limit if self.upper else value >= self.limit

    def __str__(self) -> str:
        return f"{self.name} {'<=' if self.upper else '>='} {self.limit:g}"


@dataclass(frozen=True)
class BudgetPick:
    """The best feasible trial within ``budget``; ``None`` when no feasible trial is."""

    budget: Budget
    trial: FrozenTrial | None


def budgets_of(study: optuna.Study, front: Sequence[FrozenTrial],
               given: Mapping[str, Sequence[float]] | None = None) -> list[Budget]:
    """The budgets to report: ``given`` (by axis name, or by the objective's index
    ``"1"``, ``"2"``, ...), else the 25, 50 and 75 % quantiles of ``front`` on every budget
    axis, rounded to three significant digits on the loose side; on each axis from the
    tightest to the loosest, repeated values once.

    Raises:
        ValueError: The study has one objective, or ``given`` names an axis that the study
            does not have, or its quality objective, or gives no number or one that is not
            finite.
    """
    names = objective_names(study)
    if len(names) < 2:
        raise ValueError(
            f"a budget bounds an objective of a multi-objective study, beside its quality; "
            f"the study {study.study_name!r} has one objective ({names[0]}): its budget "
            "is its constraints.")
    if given is None:
        given_by_axis = {axis: _quantile_budgets([t.values[axis] for t in front],
                                                 study.directions[axis])
                         for axis in range(1, len(names))}
    else:
        given_by_axis = {}
        for key, limits in given.items():
            axis = axis_index(study, key)
            if axis in given_by_axis:
                raise ValueError(f"the budgets on {names[axis]} are given twice ({key!r}); "
                                 "give them once, as one list.")
            given_by_axis[axis] = _checked_limits(names[axis], limits)
    out = []
    for axis, limits in given_by_axis.items():
        upper = study.directions[axis] == StudyDirection.MINIMIZE
        for limit in sorted(set(limits), reverse=not upper):  # the tightest first
            out.append(Budget(axis, names[axis], float(limit), upper))
    return out


def axis_index(study: optuna.Study, key: str) -> int:
    """The index of the budget axis ``key`` of ``study``: an objective's name, or its index
    (``"1"``), never the quality's.

    Raises:
        ValueError: The study has no such objective, or ``key`` is its quality.
    """
    names = objective_names(study)
    if key in names:
        axis = names.index(key)
    elif key.isdigit() and int(key) < len(names):
        axis = int(key)
    else:
        raise ValueError(
            f"the study {study.study_name!r} has no objective {key!r}; a budget bounds one "
            f"of its budget axes: {_axes_text(names)}.")
    if axis == 0:
        raise ValueError(
            f"{names[0]!r} is the quality of the study {study.study_name!r} (its first "
            "objective), which the best network within a budget "
            f"{'maximises' if study.directions[0] == StudyDirection.MAXIMIZE else 'minimises'}"
            f"; a budget bounds one of its budget axes: {_axes_text(names)}.")
    return axis


def check_budgets(study: optuna.Study, given: Mapping[str, Sequence[float]]) -> None:
    """Refuse budgets that :func:`budgets_of` would refuse, before anything is drawn or
    run.

    Raises:
        ValueError: As :func:`budgets_of`.
    """
    budgets_of(study, (), given)


def _axes_text(names: Sequence[str]) -> str:
    return ", ".join(f"{n} (objective {i})" for i, n in enumerate(names) if i > 0)


def _checked_limits(name: str, limits: Sequence[float]) -> list[float]:
    if isinstance(limits, str) or not isinstance(limits, Sequence) or not limits:
        raise ValueError(f"the budgets on {name} must be a list of numbers, got {limits!r}.")
    out = []
    for limit in limits:
        if isinstance(limit, bool) or not isinstance(limit, (int, float, np.number)) or (
                not math.isfinite(limit)):
            raise ValueError(f"a budget on {name} must be a finite number, got {limit!r}.")
        out.append(float(limit))
    return out


def _quantile_budgets(values: Sequence[float], direction: StudyDirection) -> list[float]:
    if not values:
        return []
    upper = direction == StudyDirection.MINIMIZE
    quantiles = np.quantile(np.asarray(values, dtype=float), DEFAULT_QUANTILES)
    return [_round_loose(float(q), upper) for q in quantiles]


def _round_loose(value: float, upper: bool) -> float:
    """``value`` in three significant digits, rounded so that the budget is not tighter
    than ``value``: a quantile that is a trial's own value keeps that trial within."""
    if value == 0.0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 2)
    rounded = float(f"{value:.3g}")
    if upper and rounded < value:
        rounded = float(f"{rounded + step:.3g}")
    elif not upper and rounded > value:
        rounded = float(f"{rounded - step:.3g}")
    return rounded


def best_within(front: Sequence[FrozenTrial], budget: Budget,
                directions: Sequence[StudyDirection]) -> FrozenTrial | None:
    """The trial of ``front`` of best quality within ``budget``: better on the budget's
    axis among equals, then the first.

    The front holds the best feasible trial within any budget: a feasible trial within it
    that is not on the front is dominated by one that is, within it as well and at least
    as good.
    """
    within = [t for t in front if budget.admits(t)]
    if not within:
        return None
    sign, way = _sign(directions[0]), _sign(directions[budget.axis])
    return min(within, key=lambda t: (-sign * t.values[0], -way * t.values[budget.axis],
                                      t.number))


def best_within_budgets(study: optuna.Study,
                        given: Mapping[str, Sequence[float]] | None = None,
                        constraints: Sequence[Constraint] | None = None
                        ) -> tuple[list[FrozenTrial], list[BudgetPick]]:
    """The feasible front of ``study`` (:func:`feasible_front`) and the best trial within
    each budget (:func:`budgets_of`: ``given``, or the front's quantiles).

    Raises:
        ValueError: As :func:`budgets_of`.
    """
    front = feasible_front(study, constraints)
    return front, [BudgetPick(b, best_within(front, b, study.directions))
                   for b in budgets_of(study, front, given)]


def _sign(direction: StudyDirection) -> float:
    return 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
