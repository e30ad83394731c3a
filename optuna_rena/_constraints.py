"""Resource constraints, written the way Optuna 5 and optuna-dashboard read them.

A :class:`Constraint` bounds one metric from above or below. Its value on a trial is RENA's
normalised violation, ``v = U / C - 1`` for an upper bound and ``v = C / U - 1`` for a lower
bound (``U`` the use, ``C`` the limit), so ``v <= 0`` means feasible for every
constraint-aware Optuna sampler and for ``study.best_trial`` alike.

Where the values are written: Optuna reads a trial's constraints from two places, the
``constraints:NAME`` system attributes that ``trial.set_constraint`` writes and the
``constraints`` list, and counts a value found in both twice (GPSampler would fit two
models of it). optuna-dashboard 0.21 reads only the list. So :func:`set_constraint` writes
each value once, into the list, and its name into ``rena:constraint_names`` beside it:
Optuna, GPSampler included, sees each constraint once (named ``"0"``, ``"1"``, ... in
``trial.constraints``), the dashboard sees them all, and :func:`trial_violations` gives
them their names back.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
import math
import numbers
from typing import Any
import warnings

import optuna
# Optuna's key for constraint values: "constraints:NAME" per constraint set with
# trial.set_constraint, and "constraints" alone for the legacy list.
from optuna.study._constrained_optimization import _CONSTRAINTS_KEY as CONSTRAINTS_KEY

from optuna_rena._metrics import RESOURCE_METRICS
from optuna_rena._metrics import VIOLATED_ATTR


CONSTRAINT_NAMES_KEY = "rena:constraint_names"
"""Trial system attribute: the names of the values in the ``constraints`` list, in order."""


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
        """Write the violation by ``use`` on ``trial`` (as :func:`set_constraint` does) and
        record ``use`` as a user attribute.

        Returns:
            The violation.
        """
        v = self.violation(use)
        trial.set_user_attr(self.metric, float(use))
        write_constraints(trial, {self.name: v}, {self.name: f"{self.metric} {self.off_by(use)}"})
        return v

    def off_by(self, use: float) -> str:
        """How far ``use`` is from the limit, relative to it: ``"+12%"`` (12 % over an upper
        bound), ``"-20%"`` (20 % under a lower bound)."""
        percent = 100.0 * (float(use) / self.limit - 1.0)
        return f"{percent:+.0f}%" if abs(percent) >= 10 else f"{percent:+.1f}%"

    def __str__(self) -> str:
        return f"{self.metric} {'<=' if self.is_upper else '>='} {self.limit:g}"


def set_constraint(trial: optuna.Trial, name: str, value: float) -> None:
    """Set a constraint value of ``trial`` where Optuna and optuna-dashboard both read it,
    once; ``<= 0`` is feasible.

    A drop-in for ``trial.set_constraint(name, value)``, whose ``constraints:NAME`` attribute
    optuna-dashboard 0.21 does not read: it would show the trial as feasible whatever the
    value. Optuna lists the value as ``trial.constraints["0"]``, ``["1"]``, ... in the order
    set; :func:`trial_violations` gives it its name. The trial's ``violated`` user
    attribute says which constraints it breaks, for the dashboard's trial table.

    Example:

        .. code-block:: python

            import optuna
            from optuna_rena import set_constraint, trial_violations

            def objective(trial):
                x = trial.suggest_float("x", 0.0, 1.0)
                set_constraint(trial, "x_max", x / 0.5 - 1)  # x <= 0.5
                return x

            study = optuna.create_study(direction="maximize")
            study.optimize(objective, n_trials=20)
            assert study.best_trial.params["x"] <= 0.5
            assert list(trial_violations(study.best_trial)) == ["x_max"]

    Raises:
        ValueError: ``value`` is NaN, or the trial's ``constraints`` list was written by
            something else.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a constraint's name must be a non-empty string, got {name!r}.")
    write_constraints(trial, {name: value}, {name: f"{name} {float(value):+.3g}"})


def write_constraints(trial: optuna.Trial, values: Mapping[str, float],
                      shown: Mapping[str, str]) -> None:
    """Write constraint values once, where Optuna and optuna-dashboard both read them (see
    the module docstring), and add ``shown[name]`` to the trial's ``violated`` attribute for
    each value above 0. A value already set is kept, as ``trial.set_constraint`` does.
    """
    if not values:
        return
    checked = {}
    for name, value in values.items():
        v = float(value)
        if math.isnan(v):
            raise ValueError(f"the constraint {name!r} is NaN.")
        checked[name] = v
    if not isinstance(trial, optuna.Trial) or getattr(
            trial.study.sampler, "_constraints_func", None) is not None:
        # A FixedTrial or FrozenTrial has no storage that the dashboard reads; and a
        # sampler with a constraints_func (NSGA-II's) writes the list itself after the
        # trial, over anything written there: Optuna's named form keeps both.
        for name, v in checked.items():
            trial.set_constraint(name, v)
    else:
        storage, trial_id = trial.storage, trial._trial_id
        attrs = storage.get_trial_system_attrs(trial_id)
        names = list(attrs.get(CONSTRAINT_NAMES_KEY, ()))
        listed = list(attrs.get(CONSTRAINTS_KEY) or ())
        if len(listed) != len(names):
            raise ValueError(
                f"trial {trial.number} already holds a constraints list that another writer "
                "made (a sampler's constraints_func?); set its constraints one way.")
        # A retried trial (RetryHeartbeatStaleTrialCallback) inherits the killed one's
        # system attributes: this run's values replace them, silently.
        retry = attrs.get("failed_trial") is not None
        replaced = False
        for name in list(checked):
            if retry and name in names:
                listed[names.index(name)] = checked.pop(name)
                replaced = True
            elif name in names or f"{CONSTRAINTS_KEY}:{name}" in attrs:
                warnings.warn(f"the constraint {name!r} of trial {trial.number} is already "
                              "set; the new value is ignored.", stacklevel=3)
                del checked[name]
        if replaced and not checked:
            storage.set_trial_system_attr(trial_id, CONSTRAINTS_KEY, listed)
        if not checked:
            return
        # Names first: a reader in between sees no value before its name.
        storage.set_trial_system_attr(trial_id, CONSTRAINT_NAMES_KEY, names + list(checked))
        storage.set_trial_system_attr(trial_id, CONSTRAINTS_KEY,
                                      listed + list(checked.values()))
    before = trial.user_attrs.get(VIOLATED_ATTR)
    broken = [] if before in (None, "none") else str(before).split(", ")
    broken += [shown[name] for name, v in checked.items() if v > 0]
    trial.set_user_attr(VIOLATED_ATTR, ", ".join(broken) or "none")


def trial_violations(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """A finished trial's constraint values by name, whoever set them.

    The ``constraints`` list that :func:`set_constraint` writes is named by its
    ``rena:constraint_names``; values set with ``trial.set_constraint`` join them. Values
    of the list past its names that are copies of those named values are the mirror
    written for optuna-dashboard (:func:`~optuna_rena.mirror_constraints_for_dashboard`,
    or older versions), and are skipped, so nothing counts twice; others (a sampler's
    ``constraints_func``) are named by position.
    """
    attrs = trial.system_attrs
    named = named_constraints(attrs)
    names = list(attrs.get(CONSTRAINT_NAMES_KEY) or ())
    listed = [float(v) for v in attrs.get(CONSTRAINTS_KEY) or ()]
    out = dict(zip(names, listed))
    extras = listed[len(names):]
    mirrored = [v for k, v in named.items() if k not in names]
    if sorted(extras) != sorted(mirrored):
        out.update({str(len(names) + i): v for i, v in enumerate(extras)})
    out.update(named)
    return out


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
