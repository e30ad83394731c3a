from __future__ import annotations

import optuna
from optuna.trial import TrialState

from optuna_rena._sampler.trial_cursor import TrialCursor


def _trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study._storage.get_all_trials(study._study_id, deepcopy=False)


def test_looks_again_at_trials_that_were_running_and_at_new_ones_in_order() -> None:
    study = optuna.create_study()
    running = [study.ask() for _ in range(3)]
    study.tell(running[1], 1.0)
    cursor = TrialCursor()
    assert [t.number for t in cursor.update(_trials(study))] == [0, 1, 2]
    # Trial 2 finishes before trial 0 (another worker's); a new trial 3 starts.
    study.tell(running[2], 2.0)
    study.ask()
    assert [t.number for t in cursor.update(_trials(study))] == [0, 2, 3]
    assert [t.number for t in cursor.update(_trials(study))] == [0, 3]
    study.tell(running[0], state=TrialState.FAIL)
    assert [t.number for t in cursor.update(_trials(study))] == [0, 3]
    assert [t.number for t in cursor.update(_trials(study))] == [3]


def test_a_list_not_in_number_order_is_read_whole() -> None:
    study = optuna.create_study()
    for x in range(4):
        study.enqueue_trial({"x": x})
        study.optimize(lambda t: t.suggest_int("x", 0, 9), n_trials=1)
    cursor = TrialCursor()
    cursor.update(_trials(study))
    shuffled = list(reversed(_trials(study)))
    assert [t.number for t in cursor.update(shuffled)] == [3, 2, 1, 0]
    assert cursor.update(_trials(study)) == []


def test_reads_which_failed_trials_were_retried() -> None:
    study = optuna.create_study()
    failed = study.ask()
    study.tell(failed, state=TrialState.FAIL)
    cursor = TrialCursor()
    cursor.update(_trials(study))
    assert cursor.retried == set()
    optuna.storages.RetryFailedTrialCallback()(study, study.trials[0])
    cursor.update(_trials(study))
    assert cursor.retried == {0}
