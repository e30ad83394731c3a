"""The budget a study is searched under, recorded on the study itself.

A trial's constraint values are stored under the budget of the run that made it. A run
that continued the study under another budget would mix them: its sampler would learn
rewards from violations of the old budget, and the old "best feasible" trial may break the
new one. So ``optuna-rena search`` records the constraints and the space's fingerprint as
study user attributes at the first run, and refuses a continued run that changes either
(the user gives another ``--study-name`` for the new budget). Re-deriving old trials'
violations is not an option in general: a measured metric such as latency cannot be
re-derived from the stored child alone.

The budget alone does not say what was measured: ``nb201:pixel3:2.5`` and
``nb201:fpga:2.5`` are both ``latency_ms <= 2.5``, on two devices, and
``nas-bench-macro-plain`` and ``nas-bench-macro-pair`` may share a budget. So the task's
name and its objective's name are recorded beside the budget, and a continued run of
another task is refused the same way; so is a run whose objectives go in other directions
than the study's (Optuna loads an existing study with its own directions, whatever
``create_study`` was asked, so nothing else would notice).
"""

from __future__ import annotations

from collections.abc import Sequence
import math

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._constraints import violations_of
from optuna_rena._metrics import RESOURCE_METRICS


CONSTRAINTS_ATTR = "constraints"
"""Study user attribute: the budget, as ``["params <= 600000", ...]``."""
SPACE_ATTR = "space"
"""Study user attribute: the fingerprint of the space's decisions; absent without a space
(a study recorded by an earlier version may hold ``None``)."""
SPACE_SUMMARY_ATTR = "space_summary"
"""Study user attribute: what the space edits, in one line; absent without a space."""
TASK_ATTR = "task"
"""Study user attribute: the task whose objective made the trials (``nb201:pixel3:2.5``,
``module:function``), so the device or table that they were measured on."""
OBJECTIVE_ATTR = "objective"
"""Study user attribute: the name of the value that the trials hold (``mean accuracy (%)``)."""


def record_budget(study: optuna.Study, constraints: Sequence[Constraint],
                  space_fingerprint: str | None, space_summary: str | None = None, *,
                  task: str | None = None, objective: str | None = None,
                  directions: Sequence[str] | None = None) -> None:
    """Record the budget (and the space's summary, the task and the objective's name) on a
    new study, or check that a continued study has the same.

    A study with trials but no record (made by an earlier version, or by other code) is
    continued when the budget that its trials imply (:func:`study_budget`) is the one
    asked for, to the six digits that inference keeps. A study recorded before tasks were
    is continued when its budget and space match, and the task is recorded then.
    ``task=None`` (a caller that knows none) neither checks nor records a task;
    ``directions`` (``"maximize"`` or ``"minimize"`` per objective), when given, must be
    the study's.

    Raises:
        ValueError: The study was searched for another task or objective, has other
            directions, or has trials and another budget or space.
    """
    budget = [budget_text(c) for c in constraints]
    recorded = study.user_attrs
    n_trials = len(study.get_trials(deepcopy=False))
    if task is not None:
        # First: another task's trials were measured elsewhere, whatever the budget says,
        # and keeping the old constraints would not make them comparable.
        _check_task(study, task, objective)
    if directions is not None:
        _check_directions(study, directions)
    if CONSTRAINTS_ATTR not in recorded:
        if n_trials:
            implied = sorted(_rounded(c) for c in study_budget(study))
            asked = sorted(_rounded(c) for c in constraints)
            if implied != asked:
                raise ValueError(
                    f"the study {study.study_name!r} has {n_trials} trials and no recorded "
                    f"budget; its trials imply {', '.join(implied) or 'no constraints'}, "
                    f"and this run asks for {', '.join(asked) or 'no constraints'}. Give "
                    "another --study-name to search under this budget.")
        study.set_user_attr(CONSTRAINTS_ATTR, budget)
        # A plain objective has no space: no attribute at all, rather than a null that the
        # dashboard lists among the study's attributes.
        if space_fingerprint is not None:
            study.set_user_attr(SPACE_ATTR, space_fingerprint)
        if space_summary is not None:
            study.set_user_attr(SPACE_SUMMARY_ATTR, space_summary)
        _record_task(study, task, objective)
        return
    old_budget, old_space = recorded[CONSTRAINTS_ATTR], recorded.get(SPACE_ATTR)
    if old_budget != budget:
        raise ValueError(
            f"the study {study.study_name!r} was searched under "
            f"{', '.join(old_budget) or 'no constraints'}, and this run asks for "
            f"{', '.join(budget) or 'no constraints'}; its trials' constraint values hold "
            "the old budget. Give another --study-name to search under the new one, or "
            "the old constraints to continue.")
    if old_space != space_fingerprint:
        raise ValueError(
            f"the study {study.study_name!r} searched another space (fingerprint "
            f"{old_space}, this run's is {space_fingerprint}); give another --study-name.")
    if SPACE_SUMMARY_ATTR not in recorded and space_summary is not None:
        study.set_user_attr(SPACE_SUMMARY_ATTR, space_summary)  # recorded before summaries
    if TASK_ATTR not in recorded:  # a study recorded before tasks were
        _record_task(study, task, objective)


def _check_task(study: optuna.Study, task: str, objective: str | None) -> None:
    """Refuse a study whose recorded task or objective is not this run's; a study with no
    recorded task passes (its budget and space are checked)."""
    recorded = study.user_attrs
    if TASK_ATTR not in recorded:
        return
    old_task, old_objective = recorded[TASK_ATTR], recorded.get(OBJECTIVE_ATTR)
    same_objective = objective is None or old_objective in (None, objective)
    if old_task == task and same_objective:
        return
    old, new = str(old_task), task
    if not same_objective:
        old, new = f"{old} for {old_objective!r}", f"{new} for {objective!r}"
    raise ValueError(
        f"the study {study.study_name!r} searched {old}, and this run asks for {new}; its "
        "trials were measured on the former, and their values and feasibility would mix "
        "with this run's. Give another --study-name.")


def _check_directions(study: optuna.Study, directions: Sequence[str]) -> None:
    """Refuse a study whose objectives go in other directions than ``directions``."""
    old = [d.name.lower() for d in study.directions]
    if old == list(directions):
        return
    names = study.metric_names or [f"objective {i}" for i in range(len(old))]
    said = ", ".join(f"{d} {n}" for d, n in zip(old, names)) if len(names) == len(old) else (
        ", ".join(old))
    raise ValueError(
        f"the study {study.study_name!r} was made to {said}, and this run's objective has "
        f"the directions {list(directions)}; a study keeps its directions. Give another "
        "--study-name.")


def _record_task(study: optuna.Study, task: str | None, objective: str | None) -> None:
    if task is not None:
        study.set_user_attr(TASK_ATTR, task)
        study.set_user_attr(OBJECTIVE_ATTR, objective)


def budget_text(c: Constraint) -> str:
    """``str(c)``, with the limit in full when six digits would round it: a study's record
    must tell ``params <= 1234567`` from ``params <= 1234570``."""
    text = str(c)
    if float(text.rpartition(" ")[2]) == c.limit:
        return text
    return f"{text.rpartition(' ')[0]} {c.limit!r}"


def _rounded(c: Constraint) -> str:
    return f"{c.metric} {'<=' if c.is_upper else '>='} {c.limit:.6g}"


def study_budget(study: optuna.Study) -> tuple[Constraint, ...]:
    """The budget of a study, for any sampler's: the one recorded (see
    :func:`record_budget`), else the bounds that its trials' constraint names
    (``params_max``) and metrics imply, with each limit read back from a trial's use and
    violation (``C = U / (1 + v)`` for an upper bound, ``C = U (1 + v)`` for a lower one).
    A constraint of another name has no limit to read: it is left out."""
    recorded = study.user_attrs.get(CONSTRAINTS_ATTR)
    if isinstance(recorded, list) and all(isinstance(c, str) for c in recorded):
        parsed = [_parse_constraint(c) for c in recorded]
        if all(c is not None for c in parsed):
            return tuple(parsed)  # type: ignore[arg-type]
    limits: dict[tuple[str, str], list[float]] = {}
    for t in study.get_trials(deepcopy=False):
        for name, v in trial_violations(t).items():
            metric, _, bound = name.rpartition("_")
            use = t.user_attrs.get(metric)
            if bound not in ("max", "min") or not isinstance(use, (int, float)) or (
                    isinstance(use, bool)) or not (math.isfinite(v) and v > -1 and use > 0):
                continue
            limits.setdefault((metric, bound), []).append(
                use / (1 + v) if bound == "max" else use * (1 + v))
    out = []
    for (metric, bound), values in limits.items():
        limit = float(sorted(values)[len(values) // 2])  # the median: rounding aside, one
        out.append(Constraint(metric, **{bound: float(f"{limit:.6g}")},
                              user=metric not in RESOURCE_METRICS))
    return tuple(out)


def _parse_constraint(text: str) -> Constraint | None:
    """The constraint that ``str(constraint)`` wrote: ``"params <= 600000"``."""
    metric, _, rest = text.partition(" ")
    op, _, limit = rest.partition(" ")
    try:
        value = float(limit)
        return Constraint(metric, **{"max" if op == "<=" else "min": value},
                          user=metric not in RESOURCE_METRICS) if op in ("<=", ">=") else None
    except ValueError:
        return None


def best_feasible_trial(study: optuna.Study,
                        constraints: Sequence[Constraint]) -> FrozenTrial | None:
    """The best complete trial that meets both the constraint values it recorded and
    ``constraints``, checked again on the metrics it recorded: whatever a study holds,
    an infeasible trial is never reported as the best feasible one."""
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    best: FrozenTrial | None = None
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.value is None or not math.isfinite(t.value):
            continue
        if not is_feasible(trial_violations(t)):
            continue
        metrics = {k: v for k, v in t.user_attrs.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if not is_feasible(violations_of(constraints, metrics)):
            continue
        if best is None or sign * t.value > sign * best.value:  # type: ignore[operator]
            best = t
    return best
