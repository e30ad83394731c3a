"""Pruned trials teach the world model and the policy (optuna_rena._sampler.pruned)."""

from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.trial import TrialState
import pytest

from optuna_rena import RenaSampler
from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.encoding import ConfigurationEncoder
from optuna_rena._sampler.history import TrialHistory
from optuna_rena._sampler.pruned import last_report
from optuna_rena._sampler.pruned import PrunedStandIns


def test_a_pruned_trial_stands_in_with_the_final_value_at_its_rank() -> None:
    curves = PrunedStandIns()
    assert math.isnan(curves.stand_in(3, 0.5))  # nothing completed: nothing to rank against
    # Three completed trials: reports at steps 0-9, finals 0.80, 0.85, 0.90.
    for start, final in ((0.5, 0.80), (0.6, 0.85), (0.7, 0.90)):
        curves.add_complete({s: start + 0.01 * s for s in range(10)}, final)
    # Behind all of them at step 2: the worst final value.
    assert curves.stand_in(2, 0.1) == pytest.approx(0.80)
    # Between the first and the second at step 2: between their final values.
    assert 0.80 < curves.stand_in(2, 0.56) < 0.85
    # Ahead of all: never above the best completed value.
    assert curves.stand_in(2, 5.0) == pytest.approx(0.90)
    # A step before any report of theirs: the worst completed value.
    assert curves.stand_in(-1, 5.0) == pytest.approx(0.80)


def test_later_reports_rank_by_the_last_one_at_or_before_the_step() -> None:
    curves = PrunedStandIns()
    curves.add_complete({0: 0.1, 4: 0.9}, 0.95)  # ran well from step 4 on
    curves.add_complete({0: 0.5, 4: 0.5}, 0.60)
    assert curves.stand_in(3, 0.3) == pytest.approx(0.775)  # between 0.1 and 0.5 at step 0
    assert curves.stand_in(5, 0.3) == pytest.approx(0.60)  # behind both at step 4


def test_last_report_skips_values_that_are_not_finite() -> None:
    study = optuna.create_study()
    trial = study.ask()
    trial.report(0.3, 0)
    trial.report(float("nan"), 1)
    study.tell(trial, state=TrialState.PRUNED)
    assert last_report(study.trials[0]) == (0, 0.3)


def _history(study: optuna.Study) -> TrialHistory:
    def candidate_of(trial: optuna.trial.FrozenTrial) -> Candidate:
        return Candidate(dict(trial.params), repr(trial.params), None, {})
    history = TrialHistory(ConfigurationEncoder(None), candidate_of, set())
    history.update(study.get_trials(deepcopy=False), study.directions)
    return history


def test_the_world_model_learns_stand_ins_but_never_takes_one_as_the_incumbent() -> None:
    """A feasible pruned trial that ranked above every feasible one at its step stands in
    above the best feasible value: it must not become the incumbent of expected
    improvement (no trial has that value)."""
    study = optuna.create_study(direction="minimize")  # error: smaller is better
    distribution = optuna.distributions.FloatDistribution(0, 1)

    def add(x: float, reports: list[float], state: TrialState, value: float | None,
            feasible: bool) -> None:
        trial = study.ask({"x": distribution})
        for step, v in enumerate(reports):
            trial.report(v, step)
        trial.set_constraint("c", -1.0 if feasible else 1.0)
        study.tell(trial, value, state=state)

    add(0.1, [0.9, 0.5], TrialState.COMPLETE, 0.30, feasible=True)
    add(0.2, [0.2, 0.1], TrialState.COMPLETE, 0.05, feasible=False)
    add(0.3, [0.3], TrialState.PRUNED, None, feasible=True)  # between them at step 0
    add(0.4, [0.95], TrialState.PRUNED, None, feasible=True)  # behind both
    add(0.5, [], TrialState.PRUNED, None, feasible=True)  # nothing reported: nothing learnt
    observations = _history(study).observations()
    values = -observations.objectives[:, 0]  # back to error
    assert list(observations.stand_in) == [False, False, True, True, False]
    assert 0.05 < values[2] < 0.30
    assert values[3] == pytest.approx(0.30)
    assert math.isnan(values[4])
    assert observations.best_feasible == pytest.approx(-0.30)  # the measured trial's
    assert list(observations.complete) == [True, True, True, True, False]


def _toy(trial: optuna.Trial) -> float:
    """Issue 22's objective: every trial away from x = 1 is pruned by the median pruner."""
    x = trial.suggest_float("x", -5, 5)
    c = trial.suggest_categorical("c", ["a", "b"])
    for step in range(10):
        v = -(x - 1) ** 2 + step * 0.1 + (c == "a")
        trial.report(v, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return v


@pytest.mark.parametrize("seed", [0, 1])
def test_a_region_that_keeps_being_pruned_is_left(seed: int) -> None:
    """Read as missing, pruned trials left the search at |x - 1| of about 3.3 over trials
    20-39 (seeds 1 and 2), where every trial is pruned; TPE reaches about 1.3."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=RenaSampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    study.optimize(_toy, n_trials=40)
    late = np.median([abs(t.params["x"] - 1) for t in study.trials[20:]])
    assert late < 1.0
    assert study.best_value > 1.89


def test_hyperband_pruned_trials_stand_in_against_every_bracket() -> None:
    """Hyperband hands the sampler one bracket's trials; pruned trials are ranked against
    the completed trials of every bracket, as the whole study is read from storage."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = RenaSampler(seed=0, model_startup_trials=4)
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=optuna.pruners.HyperbandPruner(max_resource=9))
    study.optimize(_toy, n_trials=40)
    learned = set(sampler.learned_trials)  # in full batches, so the last few wait
    pruned = [t.number for t in study.trials if t.state == TrialState.PRUNED]
    assert len(pruned) > 10
    assert all(n in learned for n in pruned if n < max(learned))
    late = np.median([abs(t.params["x"] - 1) for t in study.trials[20:]])
    assert late < 1.0
