"""Pareto fronts of multi-objective tasks and how far a study's front is from one.

A front is an array of points, one row per configuration and one column per objective, in
the objectives' own units (accuracy in %, latency in ms), with the study's directions
beside it. Optuna's hypervolume (:func:`optuna._hypervolume.compute_hypervolume`) takes
losses, every objective minimised, so a maximised objective is negated on the way in.

* :func:`non_dominated`: the points that no other point dominates;
* :func:`hypervolume`: the volume that points dominate up to a reference point; a point
  beyond the reference point (worse than it in some objective) adds nothing and is left
  out, as it would make Optuna's function raise;
* :class:`ParetoFront`: a task's true front with its reference point and the budgets of
  the budget regret, and :func:`hypervolume_gap`, ``1 - HV(found) / HV(true front)``;
* :func:`best_within`: the best first objective among points whose budget objective is
  within a budget, the figure that a budget regret compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import functools
import math

import numpy as np
from optuna._hypervolume import compute_hypervolume
from optuna.study._multi_objective import _is_pareto_front


DIRECTIONS = ("maximize", "minimize")
"""The directions an objective may take, as Optuna names them."""

BUDGET_QUANTILES = (0.10, 0.25, 0.50, 0.75)
"""The budgets of a budget regret, as quantiles of the bounded objective over the table
(or, with no table, over the run's trials): a tight, a middling and a loose budget, and one
past the reference point."""


def check_directions(directions: Sequence[str]) -> tuple[str, ...]:
    """``directions`` as a tuple, each ``"maximize"`` or ``"minimize"``.

    Raises:
        ValueError: There are none, or one is neither.
    """
    out = tuple(directions)
    if not out:
        raise ValueError("give at least one direction.")
    bad = [d for d in out if d not in DIRECTIONS]
    if bad:
        raise ValueError(f"unknown directions {bad}; expected each of {list(DIRECTIONS)}.")
    return out


def _signs(directions: Sequence[str]) -> np.ndarray:
    """+1 for a minimised objective, -1 for a maximised one: ``points * signs`` are losses."""
    return np.array([-1.0 if d == "maximize" else 1.0 for d in check_directions(directions)])


def _as_points(points: np.ndarray | Sequence[Sequence[float]], k: int) -> np.ndarray:
    a = np.asarray(points, dtype=float)
    if a.size == 0:
        return np.empty((0, k))
    if a.ndim != 2 or a.shape[1] != k:
        raise ValueError(f"expected points of {k} objectives, one row each; got an array of "
                         f"shape {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError("points must be finite; leave out a trial without a finite value.")
    return a


def non_dominated(points: np.ndarray | Sequence[Sequence[float]],
                  directions: Sequence[str]) -> np.ndarray:
    """The points of ``points`` that no other point dominates, each once, in the order of
    the first objective's losses (Optuna's lexicographic order)."""
    signs = _signs(directions)
    a = _as_points(points, len(signs))
    if not len(a):
        return a
    losses = np.unique(a * signs, axis=0)
    return losses[_is_pareto_front(losses, assume_unique_lexsorted=True)] * signs


def hypervolume(points: np.ndarray | Sequence[Sequence[float]],
                reference_point: Sequence[float] | np.ndarray,
                directions: Sequence[str]) -> float:
    """The hypervolume that ``points`` dominate up to ``reference_point``, in the
    objectives' units; points beyond the reference point add nothing (0 when none is
    within it).

    Raises:
        ValueError: A point or the reference point is not finite, or their numbers of
            objectives differ from ``directions``'.
    """
    signs = _signs(directions)
    ref = np.asarray(reference_point, dtype=float)
    if ref.shape != signs.shape or not np.isfinite(ref).all():
        raise ValueError(f"the reference point must be {len(signs)} finite numbers, got "
                         f"{reference_point!r}.")
    losses = _as_points(points, len(signs)) * signs
    ref_loss = ref * signs
    # A point that is no better than the reference in some objective dominates no volume;
    # Optuna's function refuses a point beyond it.
    within = losses[(losses < ref_loss).all(axis=1)]
    if not len(within):
        return 0.0
    return float(compute_hypervolume(within, ref_loss))


@dataclass(frozen=True, eq=False)
class ParetoFront:
    """A multi-objective task's front, against which a study's front is measured.

    Attributes:
        points: The non-dominated points, one row each, in the objectives' units: the
            true front (every feasible configuration of a table), or, when ``known`` is
            ``False``, the best front that any sampler found in a benchmark run.
        directions: Per objective, ``"maximize"`` or ``"minimize"``.
        reference_point: The hypervolumes' reference point.
        budgets: Upper bounds on objective ``budget_objective`` for the budget regret; the
            regret under a budget is the best first objective of the front within it
            minus the best found within it.
        budget_objective: The objective that ``budgets`` bound (minimised); objective 0 is
            the one the regret compares.
        known: Whether ``points`` is the true front.
        about: How the reference point and budgets were chosen, for the results' header.
    """

    points: np.ndarray
    directions: tuple[str, ...]
    reference_point: np.ndarray
    budgets: tuple[float, ...] = ()
    budget_objective: int = 1
    known: bool = True
    about: str = ""

    def __post_init__(self) -> None:
        directions = check_directions(self.directions)
        if len(directions) < 2:
            raise ValueError("a Pareto front needs at least two objectives.")
        object.__setattr__(self, "directions", directions)
        object.__setattr__(self, "points", non_dominated(self.points, directions))
        object.__setattr__(self, "reference_point",
                           np.asarray(self.reference_point, dtype=float))
        if self.budgets and not (1 <= self.budget_objective < len(directions)
                                 and directions[self.budget_objective] == "minimize"):
            raise ValueError("budgets bound a minimised objective other than the first; got "
                             f"objective {self.budget_objective} of {directions}.")

    @functools.cached_property
    def hypervolume(self) -> float:
        """The front's hypervolume up to the reference point."""
        return hypervolume(self.points, self.reference_point, self.directions)

    def gap(self, found: np.ndarray | Sequence[Sequence[float]]) -> float:
        """:func:`hypervolume_gap` of ``found`` against this front."""
        return hypervolume_gap(found, self)

    def budget_optima(self) -> list[float | None]:
        """Per budget, the best first objective of the front within it (``None`` when no
        point is)."""
        return [best_within(self.points, self.directions, self.budget_objective, b)
                for b in self.budgets]


def hypervolume_gap(found: np.ndarray | Sequence[Sequence[float]],
                    front: ParetoFront) -> float:
    """``1 - HV(found) / HV(front)``, both up to the front's reference point: 0 when the
    found points dominate all that the front does, 1 when they dominate nothing. Only
    feasible points belong in ``found``. A found point beyond the true front (a noisy
    measurement, or a front that is itself only the best found) makes it negative.

    Raises:
        ValueError: The front dominates no volume, so no gap is defined.
    """
    total = front.hypervolume
    if not total > 0:
        raise ValueError("the front dominates no volume up to its reference point; move the "
                         "reference point.")
    return 1.0 - hypervolume(found, front.reference_point, front.directions) / total


def best_within(points: np.ndarray | Sequence[Sequence[float]], directions: Sequence[str],
                budget_objective: int, budget: float) -> float | None:
    """The best value of objective 0 among ``points`` whose objective ``budget_objective``
    is at most ``budget``; ``None`` when none is."""
    signs = _signs(directions)
    a = _as_points(points, len(signs))
    ok = a[a[:, budget_objective] <= budget] if len(a) else a
    if not len(ok):
        return None
    column = ok[:, 0]
    return float(column.max() if directions[0] == "maximize" else column.min())


def budget_regret(optimum: float | None, found: float | None, maximize: bool) -> float:
    """How far ``found`` falls short of ``optimum`` under one budget: 0 at the optimum,
    ``inf`` when nothing was found within the budget, NaN when no point of the front is
    within it (no regret is defined)."""
    if optimum is None:
        return math.nan
    if found is None:
        return math.inf
    return optimum - found if maximize else found - optimum


def quantile_budgets(values: np.ndarray | Sequence[float],
                     quantiles: Sequence[float] = BUDGET_QUANTILES) -> tuple[float, ...]:
    """Budgets at ``quantiles`` of ``values``, each rounded to 4 significant digits: a
    budget is read by people, and both sides of a regret use the rounded one."""
    a = np.asarray(values, dtype=float)
    return tuple(float(f"{q:.4g}") for q in np.quantile(a, quantiles))
