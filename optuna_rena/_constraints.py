"""Resource constraints, written the way Optuna 5 reads them.

A :class:`Constraint` bounds one metric from above or below. Its value on a trial is RENA's
normalised violation, ``v = U / C - 1`` for an upper bound and ``v = C / U - 1`` for a lower
bound (``U`` the use, ``C`` the limit), written with ``trial.set_constraint``, so ``v <= 0``
means feasible for every constraint-aware Optuna sampler and for ``study.best_trial`` alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
import math
import numbers
from typing import Any

import optuna
# Optuna's key for constraint values: "constraints:NAME" per constraint set with
# trial.set_constraint, and "constraints" alone for the legacy list.
from optuna.study._constrained_optimization import _CONSTRAINTS_KEY as CONSTRAINTS_KEY

from optuna_rena._metrics import RESOURCE_METRICS


@dataclass(frozen=True)
class Constraint:
    """A bound on one metric: ``Constraint("params", max=3e6)`` or
    ``Constraint("compute_intensity", min=100)``.

    The metric is one of ``params``, ``flops``, ``macs``, ``bytes``, ``compute_intensity``
    (FLOPs per byte) and ``latency_ms`` (measured on this machine), which an
    :class:`~optuna_rena.ArchitectureSpace` measures, or a metric of your own with
    ``user=True``, which your objective measures and reports with :meth:`set`.

    Example:

        .. code-block:: python

            import optuna
            from optuna_rena import Constraint

            energy = Constraint("energy_mj", max=5.0, user=True)

            def objective(trial):
                x = trial.suggest_float("x", 0.0, 10.0)
                energy.set(trial, x)  # measured by your objective
                return x

            study = optuna.create_study(
                direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
            study.optimize(objective, n_trials=20)
            assert study.best_trial.params["x"] <= 5.0  # the best feasible trial

    Args:
        metric: What is bounded.
        max: The upper bound ``C`` of ``U <= C``.
        min: The lower bound ``C`` of ``U >= C``. Give exactly one of ``max`` and ``min``.
        user: Allow a metric name that is not a resource metric.
    """

    metric: str
    max: float | None = None
    min: float | None = None
    user: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"Constraint metric must be a non-empty string, got {self.metric!r}.")
        # Checked before it is read: "no" and 1 are truthy, and would pass any metric name.
        if not isinstance(self.user, bool):
            raise ValueError(f"Constraint({self.metric!r}) user must be True or False, got "
                             f"{self.user!r}.")
        if not self.user and self.metric not in RESOURCE_METRICS:
            raise ValueError(
                f"unknown metric {self.metric!r}; expected one of {list(RESOURCE_METRICS)}, "
                "or user=True for a metric that your objective measures."
            )
        if (self.max is None) == (self.min is None):
            raise ValueError(
                f"Constraint({self.metric!r}) needs exactly one of max= and min=, "
                f"got max={self.max!r} and min={self.min!r}."
            )
        limit = self.limit
        if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not (
            math.isfinite(limit) and limit > 0
        ):
            raise ValueError(
                f"Constraint({self.metric!r}) limit must be a positive finite number, "
                f"got {limit!r}."
            )

    @property
    def limit(self) -> float:
        return self.max if self.max is not None else self.min  # type: ignore[return-value]

    @property
    def is_upper(self) -> bool:
        return self.max is not None

    @property
    def name(self) -> str:
        """The key under which the violation is stored, e.g. ``params_max``."""
        return f"{self.metric}_{'max' if self.is_upper else 'min'}"

    def violation(self, use: float) -> float:
        """RENA's normalised violation of this bound by ``use``; ``<= 0`` when feasible.

        A lower bound on a use of zero or less is infinitely violated.
        """
        use = float(use)
        if math.isnan(use):
            raise ValueError(f"the {self.metric} to check is NaN.")
        if self.is_upper:
            return use / self.limit - 1.0
        return self.limit / use - 1.0 if use > 0 else math.inf

    def set(self, trial: optuna.Trial, use: float) -> float:
        """Write the violation by ``use`` on ``trial`` and record ``use`` as a user attribute.

        Returns:
            The violation.
        """
        v = self.violation(use)
        trial.set_user_attr(self.metric, float(use))
        trial.set_constraint(self.name, v)
        return v

    def __str__(self) -> str:
        return f"{self.metric} {'<=' if self.is_upper else '>='} {self.limit:g}"


def trial_violations(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """A finished trial's constraint values by name, whoever set them.

    Constraints set with ``trial.set_constraint`` win. The legacy list, which
    :func:`~optuna_rena.mirror_constraints_for_dashboard` writes beside them, is read only
    when a trial has nothing else (a study made with ``constraints_func``), so nothing
    counts twice.
    """
    named = named_constraints(trial.system_attrs)
    if named:
        return named
    legacy = trial.system_attrs.get(CONSTRAINTS_KEY)
    return {str(i): float(v) for i, v in enumerate(legacy or ())}


def named_constraints(system_attrs: Mapping[str, Any]) -> dict[str, float]:
    """The constraints that ``trial.set_constraint`` stored, by name."""
    prefix = f"{CONSTRAINTS_KEY}:"
    return {k[len(prefix):]: float(v) for k, v in system_attrs.items() if k.startswith(prefix)}


def is_feasible(violations: Mapping[str, float]) -> bool:
    """Whether every constraint value is ``<= 0``; no constraint at all is feasible."""
    return all(v <= 0.0 for v in violations.values())


def constraint_list(constraints: Iterable[Constraint] | Constraint | None) -> tuple[Constraint, ...]:
    """Validate a user's constraints argument: distinct :class:`Constraint` objects."""
    if constraints is None:
        return ()
    if isinstance(constraints, Constraint):
        constraints = (constraints,)
    if isinstance(constraints, (str, Mapping)) or not isinstance(constraints, Iterable):
        raise ValueError(f"constraints must be a list of Constraint, got {constraints!r}.")
    out = tuple(constraints)
    for c in out:
        if not isinstance(c, Constraint):
            raise ValueError(f"constraints must be Constraint objects, got {c!r}.")
    names = [c.name for c in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"each bound may be given once; repeated: {duplicated}.")
    return out


def violations_of(constraints: Iterable[Constraint], metrics: Mapping[str, Any]) -> dict[str, float]:
    """The violation of each constraint whose metric is in ``metrics``."""
    return {c.name: c.violation(metrics[c.metric]) for c in constraints if c.metric in metrics}
