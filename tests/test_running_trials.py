"""Running trials are part of the plan: a worker publishes its plan before deciding
anything, another worker does not choose what a running trial chose, and the world model
takes running trials as pending points (issue 20)."""

from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.trial import TrialState

from optuna_rena import RenaSampler
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.gp import GaussianProcess
from optuna_rena._space import run_decisions

from helpers import LOOSE
from helpers import macro_objective
from helpers import macro_space


def _choices(trial: optuna.Trial) -> float:
    values = [trial.suggest_categorical(f"c{i}", ["a", "b", "c"]) for i in range(6)]
    n = trial.suggest_int("n", 1, 8)
    return sum(v == "b" for v in values) + math.log2(n) / 3


def _two_workers(objective, storage=None):  # type: ignore[no-untyped-def]
    """A study of 20 random trials, then two RenaSamplers in one state (same seed, same
    trials read): without running trials in the plan they would plan the same."""
    storage = storage or optuna.storages.InMemoryStorage()
    filler = optuna.create_study(storage=storage, study_name="s", direction="maximize",
                                 sampler=optuna.samplers.RandomSampler(seed=0))
    filler.optimize(objective, n_trials=20)
    return [optuna.load_study(study_name="s", storage=storage,
                              sampler=RenaSampler(seed=0, pretrain_episodes=0))
            for _ in range(2)]


def test_a_define_by_run_plan_is_published_and_not_chosen_again() -> None:
    first, second = _two_workers(_choices)
    asked = first.ask()
    # Optuna asks for the relative plan at the first suggestion: the whole configuration
    # is planned then, and published before the first value is stored.
    asked.suggest_categorical("c0", ["a", "b", "c"])
    running = first.trials[-1]
    assert running.state == TrialState.RUNNING and list(running.params) == ["c0"]
    plan = running.system_attrs["rena:plan"]
    assert set(plan) == {f"c{i}" for i in range(6)} | {"n"}
    other = second.ask()
    _choices(asked)
    _choices(other)
    assert asked.params == plan
    assert other.params != asked.params


class _Interleaved(optuna.storages.InMemoryStorage):
    """Optuna's in-memory storage that runs ``between`` once, when a sampler reads the
    running trials right before its choice, or ``before_publish`` once, when a sampler
    is about to publish its plan: another worker plans in that moment."""

    between = None
    before_publish = None

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[int, dict]] = []  # every plan, in order

    def get_all_trials(self, study_id, deepcopy=True, states=None):  # type: ignore[no-untyped-def]
        # The sampler's second read, of the trials that may hold what it chose.
        if states is not None and TrialState.RUNNING in states and self.between is not None:
            run, self.between = self.between, None
            run()
        return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)

    def set_trial_system_attr(self, trial_id, key, value):  # type: ignore[no-untyped-def]
        if key == "rena:plan":
            self.published.append((trial_id, value))
        if key == "rena:plan" and self.before_publish is not None:
            run, self.before_publish = self.before_publish, None
            run()
        super().set_trial_system_attr(trial_id, key, value)


def test_a_plan_made_while_another_worker_plans_is_not_chosen_again() -> None:
    """The second worker read the study before the first planned; it reads the running
    trials again right before its choice, and chooses something else."""
    storage = _Interleaved()
    first, second = _two_workers(_choices, storage)
    late = second.ask()
    early = first.ask()
    storage.between = lambda: early.suggest_categorical("c0", ["a", "b", "c"])
    _choices(late)
    _choices(early)
    assert storage.between is None  # the first worker planned in between
    assert late.params != early.params


def test_of_two_workers_that_chose_alike_the_second_to_publish_chooses_again() -> None:
    """Both chose before either published: the one that publishes second reads the
    running trials after both wrote, sees the clash and chooses again."""
    storage = _Interleaved()
    first, second = _two_workers(_choices, storage)
    late = second.ask()
    early = first.ask()
    storage.before_publish = lambda: early.suggest_categorical("c0", ["a", "b", "c"])
    _choices(late)  # chose, then the other worker planned and published the same
    _choices(early)
    assert storage.before_publish is None
    assert late.params != early.params
    assert late.params == second.trials[-2].system_attrs["rena:plan"]


def test_a_trial_that_ran_to_its_end_while_another_planned_is_not_repeated() -> None:
    """A worker's whole trial starts and ends while another worker plans (between its
    read of the study and its claim): the configuration it evaluated is not running any
    more, yet the planning worker must not choose it."""
    storage = _Interleaved()
    first, second = _two_workers(_choices, storage)
    late = second.ask()

    def run_a_whole_trial() -> None:
        early = first.ask()
        first.tell(early, _choices(early))

    storage.before_publish = run_a_whole_trial
    _choices(late)
    early = first.trials[-1]  # asked after ``late``
    assert storage.before_publish is None and early.state == TrialState.COMPLETE
    # The same seed and the same trials read: both planned alike, and the second chose
    # again.
    assert late.params != early.params
    assert second.trials[-2].system_attrs["rena:plan"] != early.params


def test_a_clash_drops_every_configuration_the_others_hold() -> None:
    """While one worker plans, the other runs eight whole trials, the first of them the
    same plan: after that clash the planning worker's next choice is none of the eight
    (it chose once more, not once per trial it met)."""
    storage = _Interleaved()
    first, second = _two_workers(_choices, storage)
    late = second.ask()

    def run_eight_trials() -> None:
        for _ in range(8):
            early = first.ask()
            first.tell(early, _choices(early))

    storage.before_publish = run_eight_trials
    _choices(late)
    ran = [t.params for t in first.trials[-8:]]
    assert late.params not in ran
    assert [plan for trial_id, plan in storage.published
            if trial_id == late._trial_id] == [ran[0], late.params]


def test_a_space_plan_is_published_at_its_first_decision() -> None:
    space = macro_space(LOOSE)
    first, second = _two_workers(macro_objective(space))
    asked = first.ask()
    first.sampler.attach_space(space)
    name, choices = next(space.decisions())
    asked.suggest_categorical(name, choices)  # the plan is made here; the child is not yet
    running = first.trials[-1]
    assert "rena:child_spec" not in running.system_attrs
    plan = running.system_attrs["rena:plan"]
    other = second.ask()
    space.suggest(other)
    planned = run_decisions(space.decisions(), lambda name, choices: plan[name])[0]
    assert second.trials[-1].system_attrs["rena:child_spec"] != planned.to_json()


def test_running_trials_are_believed_at_the_mean() -> None:
    """A pending point keeps the posterior mean and shrinks the uncertainty near it, so
    the acquisition turns elsewhere."""
    rng = np.random.RandomState(0)
    x = Features(rng.randint(3, size=(30, 4)), np.zeros((30, 0)))
    y = (x.categorical == 1).sum(axis=1) + 0.1 * rng.randn(30)
    gp = GaussianProcess()
    gp.fit(x, y)
    pending = Features(np.array([[1, 1, 1, 1], [0, 2, 0, 2]]), np.zeros((2, 0)))
    mean, std = gp.predict(pending)
    believed_mean, believed_std = gp.believing(pending).predict(pending)
    assert np.allclose(believed_mean, mean, atol=1e-6)
    assert (believed_std < std).all()
    assert np.array_equal(gp.predict(pending)[1], std)  # the process itself is unchanged
