"""What optuna-dashboard 0.21 needs beyond Optuna's own records.

* **Feasibility, for every sampler.** The dashboard reads a trial's feasibility only from
  the ``constraints`` system attribute, a list; Optuna 5's ``trial.set_constraint`` writes
  ``constraints:NAME`` instead, so the dashboard drew every such trial as feasible, and its
  best-value line went through infeasible ones. Writing the list beside the named values
  (as RenaSampler once did after each of its trials) is no cure: Optuna reads both forms
  and lists each constraint twice, so GPSampler fits two models of it, and the studies of
  Optuna's samplers still lacked the list. So the objective's side writes each value once,
  into the list, which both Optuna and the dashboard read, with the names beside it
  (:func:`~optuna_rena.set_constraint`, which :meth:`ArchitectureSpace.suggest
  <optuna_rena.ArchitectureSpace.suggest>` and :meth:`Constraint.set
  <optuna_rena.Constraint.set>` use). The objective runs whatever the sampler, so every
  study that ``search``, ``benchmark`` or a user's objective writes this way is right, with
  no sampler's help. The dashboard's "Best Trial" card asks the storage for its best trial,
  which is blind to constraints; ``optuna-rena dashboard`` serves the storage with that
  answer made feasible, and shows trials whose objective called Optuna's own
  ``trial.set_constraint`` with their feasibility too (:func:`dashboard_storage`). The history plot's
  best-value line and the figures below are right in either. Of a multi-objective study,
  the Pareto-front view reads the list and draws the feasible front, but the "Best
  Trials" card lists the front of every complete trial, feasible or not; ``optuna-rena
  dashboard`` lists the feasible front there (:func:`feasible_best_trials`).
* **Notes.** Each child network's layer table becomes the trial's Markdown note; the
  budget and the space, the study's.
* **Figures.** Plotly figures (:mod:`optuna_rena.visualization`) shown on the study page.
"""

from __future__ import annotations

from collections.abc import Container
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
import contextlib
import copy
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import CONSTRAINT_NAMES_KEY
from optuna_rena._constraints import CONSTRAINTS_KEY
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._constraints import named_constraints
from optuna_rena._metrics import CHILD_ATTR
from optuna_rena._metrics import VIOLATED_ATTR


def mirror_constraints_for_dashboard(trial: optuna.Trial) -> None:
    """Also write the constraints that Optuna's ``trial.set_constraint`` set into the
    ``constraints`` list that optuna-dashboard 0.21 reads; call it at the end of the
    objective.

    Prefer :func:`~optuna_rena.set_constraint` instead of ``trial.set_constraint``: this
    mirror makes Optuna list each constraint twice in ``trial.constraints``, by name and by
    position, which changes no feasibility (so neither ``study.best_trial`` nor a sampler's
    choice of feasible trials) but makes GPSampler fit each constraint twice.
    :func:`~optuna_rena.trial_violations` reads each once. Constraints that
    :func:`~optuna_rena.set_constraint` wrote are in the list already and are left alone;
    named values beside them are appended with their names, and those above 0 join the
    trial's ``violated`` attribute.
    """
    storage, trial_id = trial.storage, trial._trial_id
    attrs = storage.get_trial_system_attrs(trial_id)
    named = named_constraints(attrs)
    names = attrs.get(CONSTRAINT_NAMES_KEY)
    if not named:
        return
    if CONSTRAINTS_KEY not in attrs:
        storage.set_trial_system_attr(trial_id, CONSTRAINTS_KEY,
                                      [named[k] for k in sorted(named)])
    elif names is not None:
        # A list that set_constraint wrote: without the objective's own named values the
        # dashboard, which reads the list only, would draw a trial that breaks them feasible.
        missing = [k for k in sorted(named) if k not in names]
        if not missing:
            return
        listed = list(attrs[CONSTRAINTS_KEY])
        # Names first, as set_constraint writes them: a reader in between sees no value
        # without its name.
        storage.set_trial_system_attr(trial_id, CONSTRAINT_NAMES_KEY, list(names) + missing)
        storage.set_trial_system_attr(trial_id, CONSTRAINTS_KEY,
                                      listed + [named[k] for k in missing])
        before = trial.user_attrs.get(VIOLATED_ATTR)
        broken = [] if before in (None, "none") else str(before).split(", ")
        broken += [f"{k} {named[k]:+.3g}" for k in missing if named[k] > 0]
        trial.set_user_attr(VIOLATED_ATTR, ", ".join(broken) or "none")
    # A list without names beside named values was written by someone else (a mirror of an
    # older version, a sampler's constraints_func): it is left as it is.


def save_note(study_or_trial: optuna.Study | optuna.Trial, body: str, *,
              keep: bool = False) -> None:
    """Show ``body`` as the study's or trial's Markdown note in optuna-dashboard, when it is
    installed; without it, there is nowhere to show a note. With ``keep``, a note already
    there (which a person may have edited in the dashboard) is left as it is."""
    try:
        from optuna_dashboard import get_note
        from optuna_dashboard import save_note as dashboard_save_note
    except ImportError:
        return
    if keep and get_note(study_or_trial):
        return
    dashboard_save_note(study_or_trial, body)


def save_figures(study: optuna.Study, figures: Mapping[str, Any]) -> bool:
    """Show plotly figures on the study's page in optuna-dashboard, each replacing the
    figure of the same id; ``False`` when optuna-dashboard is not installed."""
    try:
        from optuna_dashboard import save_plotly_graph_object
    except ImportError:
        return False
    for graph_id, figure in figures.items():
        save_plotly_graph_object(study, figure, graph_object_id=graph_id)
    return True


def dashboard_storage(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """``storage`` as ``optuna-rena dashboard`` serves it to optuna-dashboard 0.21, which
    then reads every study as Optuna does, whoever wrote it:

    * a trial's constraints: a trial whose objective called Optuna's own
      ``trial.set_constraint`` is shown with its named values in the ``constraints`` list
      that the dashboard reads, beside any that :func:`~optuna_rena.set_constraint` wrote
      there, each once (in what is read, never written back);
    * a study's "Best Trial": ``get_best_trial`` answers as ``study.best_trial`` does, the
      best complete trial that meets every constraint it recorded, where Optuna's storages
      ignore constraints. When no trial is feasible, the storage's own answer stands (the
      dashboard needs one; the trial is still drawn infeasible);
    * the trial table's columns: a trial's ``violated`` and ``child`` attributes come
      first among its user attributes (:func:`_as_shown`).

    Only this instance's methods change: the dashboard calls them on the instance.
    """
    own_best, own_all, own_get = (storage.get_best_trial, storage.get_all_trials,
                                  storage.get_trial)

    def get_all_trials(study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return [_as_shown(t) for t in own_all(study_id, deepcopy=deepcopy, states=states)]

    def get_trial(trial_id: int) -> FrozenTrial:
        return _as_shown(own_get(trial_id))

    def get_best_trial(study_id: int) -> FrozenTrial:
        maximize = storage.get_study_directions(study_id)[0] == StudyDirection.MAXIMIZE
        feasible = [t for t in own_all(study_id, deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.values is not None and is_feasible(trial_violations(t))]
        if not feasible:
            return _as_shown(own_best(study_id))
        best = (max if maximize else min)(feasible, key=lambda t: t.values[0])
        return get_trial(best._trial_id)

    storage.get_all_trials = get_all_trials  # type: ignore[method-assign]
    storage.get_trial = get_trial  # type: ignore[method-assign]
    storage.get_best_trial = get_best_trial  # type: ignore[method-assign]
    return storage


@contextlib.contextmanager
def feasible_best_trials() -> Iterator[None]:
    """While the context lasts, optuna-dashboard 0.21's "Best Trials" of a multi-objective
    study are the Pareto front of its feasible complete trials (those whose every
    constraint value is ``<= 0``, whoever wrote it), as ``study.best_trials`` is; when no
    trial is feasible, the front of them all, as before (the card then shows infeasible
    trials, drawn as such). The Pareto-front view already reads feasibility; the card did
    not.

    The dashboard computes that list with a function of its own module (``optuna_dashboard.
    _app.get_pareto_front_trials``), not through the storage that
    :func:`dashboard_storage` serves, so the function itself is replaced, in this process,
    and put back at the end. A dashboard without it is left as it is.
    """
    try:
        from optuna_dashboard import _app
    except ImportError:
        yield
        return
    own = getattr(_app, "get_pareto_front_trials", None)
    if own is None:  # another optuna-dashboard than 0.21's: nothing known to replace
        yield
        return

    def front(trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
              ) -> list[FrozenTrial]:
        feasible = [t for t in trials if t.state == TrialState.COMPLETE
                    and is_feasible(trial_violations(t))]
        return own(feasible if feasible else trials, directions)

    _app.get_pareto_front_trials = front
    try:
        yield
    finally:
        _app.get_pareto_front_trials = own


_LEADING_ATTRS = (VIOLATED_ATTR, CHILD_ATTR)
"""The user attributes that optuna-dashboard's trial table shows first, in this order."""


def _as_shown(trial: FrozenTrial) -> FrozenTrial:
    """``trial`` as ``optuna-rena dashboard`` shows it: with every constraint value in its
    ``constraints`` list (:func:`_with_constraint_list`), and its ``violated`` and ``child``
    attributes ahead of the others.

    optuna-dashboard 0.21 puts a trial table's user-attribute columns after every parameter
    column (Number, State, Value, the parameters by name, then the user attributes, in
    its bundle) and orders those in the order that the storage returns a trial's
    attributes, first seen over the trials: by name from an RDB such as SQLite
    (``bytes``, ``child``, ..., ``violated`` last), as written from a journal file. The
    parameters' place is the bundle's; the attributes' order is what is read here.
    """
    shown = _with_constraint_list(trial)
    attrs = shown.user_attrs
    lead = [k for k in _LEADING_ATTRS if k in attrs]
    if list(attrs)[:len(lead)] == lead:
        return shown
    if shown is trial:
        shown = copy.copy(trial)  # the storage's own object is left as it is
    shown._user_attrs = {**{k: attrs[k] for k in lead},
                         **{k: v for k, v in attrs.items() if k not in lead}}
    return shown


def _with_constraint_list(trial: FrozenTrial) -> FrozenTrial:
    """``trial``, or a copy of it whose ``constraints`` list holds every constraint value it
    recorded, each once, when named values (``trial.set_constraint``'s) are missing from
    its list; the storage's own object is left as it is."""
    attrs = trial.system_attrs
    if not named_constraints(attrs):
        return trial
    # trial_violations reads the list and the named values and counts each once; the
    # dashboard, which reads the list only, must see all of them, or a trial that breaks a
    # named constraint beside a set_constraint list is drawn feasible.
    values = list(trial_violations(trial).values())
    if values == list(attrs.get(CONSTRAINTS_KEY) or ()):
        return trial
    shown = copy.copy(trial)
    shown._system_attrs = {**attrs, CONSTRAINTS_KEY: values}
    return shown
