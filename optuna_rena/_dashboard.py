"""What optuna-dashboard 0.21 needs beyond Optuna's own records.

* **Feasibility.** The dashboard reads feasibility only from the legacy ``constraints``
  system attribute, a list, while Optuna 5 stores ``trial.set_constraint`` values under
  ``constraints:NAME``. :func:`mirror_trial_constraints` writes the list beside them.
* **Notes.** Each child network's layer table becomes the trial's Markdown note.
"""

from __future__ import annotations

import optuna

from optuna_rena._constraints import CONSTRAINTS_KEY
from optuna_rena._constraints import named_constraints


def mirror_trial_constraints(storage: optuna.storages.BaseStorage, trial_id: int) -> None:
    """Write a running trial's named constraints as the legacy list, sorted by name."""
    named = named_constraints(storage.get_trial_system_attrs(trial_id))
    if named:
        storage.set_trial_system_attr(trial_id, CONSTRAINTS_KEY,
                                      [named[k] for k in sorted(named)])


def mirror_constraints_for_dashboard(trial: optuna.Trial) -> None:
    """Also write a running trial's constraints as the legacy ``constraints`` list.

    optuna-dashboard 0.21 reads feasibility only from that list. RenaSampler does this for
    its trials as they finish; with another sampler, call it at the end of the objective
    (a finished trial can no longer be written). Optuna then lists each constraint twice in
    ``trial.constraints``, by name and by position, which changes no feasibility;
    :func:`~optuna_rena.trial_violations` reads each once.
    """
    mirror_trial_constraints(trial.storage, trial._trial_id)


def save_note(trial: optuna.Trial, body: str) -> None:
    """Show ``body`` as the trial's Markdown note in optuna-dashboard, when it is
    installed; without it, there is nowhere to show a note."""
    try:
        from optuna_dashboard import save_note as dashboard_save_note
    except ImportError:
        return
    dashboard_save_note(trial, body)
