"""What a study records of its search, once, before its trials: the budget, the space and
the task as study user attributes (:func:`~optuna_rena._budget.record_budget`, which
refuses a continued study of another), the objectives' names as its metric names, and a
note for optuna-dashboard with the budget, the space and which dashboard shows the best
feasible trial.

``optuna-rena search`` and the benchmark record their studies through
:meth:`Task.record <optuna_rena._tasks.Task.record>`, a user's own script through
:meth:`ArchitectureSpace.record <optuna_rena.ArchitectureSpace.record>`: one way, so
a study of either reads the same in the dashboard and in ``optuna-rena report``.
"""

from __future__ import annotations

from collections.abc import Sequence
import warnings

import optuna
from optuna.study import StudyDirection

from optuna_rena._budget import record_budget
from optuna_rena._constraints import Constraint
from optuna_rena._dashboard import save_note
from optuna_rena._report import study_note


def record_search(study: optuna.Study, constraints: Sequence[Constraint],
                  metric_names: Sequence[str], *, space_fingerprint: str | None = None,
                  space_summary: str | None = None, task: str | None = None,
                  objective: str | None = None,
                  directions: Sequence[str] | None = None) -> None:
    """Record on ``study`` what it searches (see the module docstring).

    Args:
        study: The study, new or continued.
        constraints: The budget.
        metric_names: One name per objective, the quality first.
        space_fingerprint: The space's :attr:`decisions_fingerprint
            <optuna_rena.ArchitectureSpace.decisions_fingerprint>`; ``None`` without one.
        space_summary: The space's :attr:`summary <optuna_rena.ArchitectureSpace.summary>`.
        task: The task's name, recorded and checked with ``objective`` (by default the
            names joined); ``None`` records none (a user's own script).
        objective: The objective's name beside the task.
        directions: ``"maximize"`` or ``"minimize"`` per objective, which the study must
            have; ``None``: the study's own.

    Raises:
        ValueError: The study was searched for another task, holds trials of another
            budget or space, has other directions, or ``metric_names`` does not name each
            of its objectives.
    """
    names = list(metric_names)
    # Against the directions asked, when given: record_budget says first, in its own
    # words, that a continued study has others.
    count = len(directions) if directions is not None else len(study.directions)
    if len(names) != count:
        raise ValueError(f"the study {study.study_name!r} has {count} "
                         f"{'objective' if count == 1 else 'objectives'}; got {len(names)} "
                         f"names for them: {names}.")
    if objective is None:
        objective = ", ".join(names)
    record_budget(study, constraints, space_fingerprint, space_summary, task=task,
                  objective=objective, directions=directions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)
    maximize = [d == StudyDirection.MAXIMIZE for d in study.directions]
    if len(names) > 1:
        note = study_note(names, maximize, constraints, space_summary, space_fingerprint)
    else:
        note = study_note(names[0], maximize[0], constraints, space_summary,
                          space_fingerprint)
    # A continued study keeps its note: a person may have added to it in the dashboard.
    save_note(study, note, keep=True)
