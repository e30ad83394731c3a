from __future__ import annotations

import math
from typing import Any
import warnings

import optuna
import pytest

from optuna_rena import Constraint
from optuna_rena import mirror_constraints_for_dashboard
from optuna_rena import set_constraint
from optuna_rena import trial_violations
from optuna_rena._sampler.reward import penalty
from optuna_rena._sampler.reward import performances
from optuna_rena._sampler.reward import Outcome
from optuna_rena._sampler.reward import rewards
from optuna.study import StudyDirection


def test_violation_is_renas_normalised_form() -> None:
    upper = Constraint("params", max=3e6)
    assert upper.name == "params_max" and str(upper) == "params <= 3e+06"
    assert upper.violation(1.5e6) == pytest.approx(-0.5)
    assert upper.violation(3.3e6) == pytest.approx(0.1)
    lower = Constraint("compute_intensity", min=100)
    assert lower.name == "compute_intensity_min"
    assert lower.violation(50) == pytest.approx(1.0)
    assert lower.violation(200) == pytest.approx(-0.5)
    assert lower.violation(0) == math.inf
    assert Constraint("energy_mj", max=5, user=True).violation(10) == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs,message", [
    (dict(metric="parms", max=1), "unknown metric 'parms'; expected one of"),
    (dict(metric="params"), "needs exactly one of max= and min="),
    (dict(metric="params", max=1, min=2), "needs exactly one of max= and min="),
    (dict(metric="params", max=0), "limit must be a positive finite number, got 0"),
    (dict(metric="flops", max=-5), "limit must be a positive finite number, got -5"),
    (dict(metric="flops", max=math.inf), "limit must be a positive finite number, got inf"),
    (dict(metric="flops", max="1e6"), "limit must be a positive finite number, got '1e6'"),
    (dict(metric="", max=1, user=True), "metric must be a non-empty string"),
    (dict(metric="params", max=1, user="no"), "user must be True or False, got 'no'"),
    (dict(metric="energy", max=1, user=1), "user must be True or False, got 1"),
])
def test_bad_constraints(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Constraint(**kwargs)


def test_set_writes_each_constraint_once_where_optuna_and_the_dashboard_read_it() -> None:
    study = optuna.create_study()
    latency = Constraint("latency_ms", max=10)
    energy = Constraint("energy_mj", min=2, user=True)

    def objective(trial: optuna.Trial) -> float:
        latency.set(trial, 12.0)
        energy.set(trial, 4.0)
        mirror_constraints_for_dashboard(trial)  # older code's call: nothing left to do
        return 1.0

    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.user_attrs == {"latency_ms": 12.0, "energy_mj": 4.0, "violated": "latency_ms +20%"}
    # optuna-dashboard reads only the list; Optuna reads it too, so nothing is named twice.
    assert t.system_attrs["constraints"] == pytest.approx([0.2, -0.5])
    assert not any(k.startswith("constraints:") for k in t.system_attrs)
    assert t.constraints == pytest.approx({"0": 0.2, "1": -0.5})
    assert trial_violations(t) == pytest.approx({"latency_ms_max": 0.2, "energy_mj_min": -0.5})
    with pytest.raises(ValueError, match="No feasible trials"):
        study.best_trial


def test_set_constraint_is_optunas_with_the_dashboards_list() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        set_constraint(trial, "x_max", x / 0.5 - 1)
        trial.set_constraint("y_max", -1.0)  # Optuna's own joins them, once
        with pytest.warns(UserWarning, match="already set"):
            set_constraint(trial, "x_max", 5.0)
        return x

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=20)
    for t in study.trials:
        assert t.constraints == pytest.approx({"0": t.params["x"] / 0.5 - 1, "y_max": -1.0})
        assert trial_violations(t) == pytest.approx({"x_max": t.params["x"] / 0.5 - 1,
                                                     "y_max": -1.0})
        v = t.params["x"] / 0.5 - 1
        assert t.user_attrs["violated"] == (f"x_max {v:+.3g}" if v > 0 else "none")
    best = max((t for t in study.trials if t.params["x"] <= 0.5), key=lambda t: t.value)
    assert study.best_trial.number == best.number
    with pytest.raises(ValueError, match="NaN"):
        study.optimize(lambda t: set_constraint(t, "x_max", float("nan")) or 0.0, n_trials=1)


def test_trial_violations_reads_the_old_mirror_once() -> None:
    # What RenaSampler and mirror_constraints_for_dashboard wrote before: both forms.
    trial = optuna.trial.create_trial(value=1.0, system_attrs={
        "constraints:b_max": 0.5, "constraints:a_max": -1.0, "constraints": [-1.0, 0.5]})
    assert trial_violations(trial) == {"a_max": -1.0, "b_max": 0.5}


def test_trial_violations_reads_legacy_only_studies() -> None:
    trial = optuna.trial.create_trial(value=1.0, system_attrs={"constraints": [0.5, -1.0]})
    assert trial_violations(trial) == {"0": 0.5, "1": -1.0}


def test_penalty_and_reward() -> None:
    assert penalty({}, 0.9) == 1.0
    assert penalty({"a": -3.0}, 0.9) == 1.0
    assert penalty({"a": 1.0, "b": 0.5}, 0.9) == pytest.approx(0.9**1.5)
    assert penalty({"a": math.inf}, 0.9) == 0.0
    assert penalty({"a": 5.0}, 1.0) == 1.0
    out = [Outcome((90.0,), {"a": 0.1}), Outcome((80.0,), {}), Outcome(None, {})]
    assert rewards(out, [StudyDirection.MAXIMIZE], 0.9) == pytest.approx(
        [90 * 0.9**0.1, 80.0, 0.0])


def test_performance_rules() -> None:
    maximize, minimize = [StudyDirection.MAXIMIZE], [StudyDirection.MINIMIZE]
    assert performances([Outcome((0.5,), {}), Outcome((0.0,), {})], maximize) == pytest.approx([0.5, 0.0])
    assert performances([Outcome((0.25,), {}), Outcome((2.0,), {})], minimize) == pytest.approx([4.0, 0.5])
    # A negative value switches the study to ranks: the fraction each trial equals or beats.
    assert performances([Outcome((-1.0,), {}), Outcome((3.0,), {}), Outcome((1.0,), {})],
                        maximize) == pytest.approx([1 / 3, 1.0, 2 / 3])
    assert performances([Outcome((-1.0,), {}), Outcome((3.0,), {})], minimize) == pytest.approx([1.0, 0.5])
    # Two objectives: 1 - Pareto depth / fronts, feasible trials sorted first, so an
    # infeasible trial that dominates them all lies behind them.
    two = [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE]
    assert performances([Outcome((1.0, 1.0), {}), Outcome((2.0, 5.0), {}),
                         Outcome((3.0, 0.5), {}), Outcome((0.5, 9.0), {"c": 0.5}),
                         Outcome(None, {})], two) == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3, 0.0])


def test_a_constraints_func_does_not_wipe_out_the_spaces_constraints() -> None:
    """NSGA-II's constraints_func writes the legacy list after each trial, over anything
    there: the space's values then go where Optuna keeps both."""
    from optuna_rena import ArchitectureSpace
    from optuna_rena import zoo

    space = ArchitectureSpace(zoo.ds_cnn(), [Constraint("flops", max=1000)], max_inserts=0,
                              notes=False)  # no child meets it
    with pytest.warns(FutureWarning):  # constraints_func is deprecated in Optuna 5
        sampler = optuna.samplers.NSGAIISampler(seed=0, constraints_func=lambda t: [-1.0])
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: float(len(space.suggest(t).layers)), n_trials=4)
    trial = study.trials[0]
    assert trial_violations(trial) == {"0": -1.0, "flops_max": pytest.approx(
        trial.user_attrs["flops"] / 1000 - 1)}
    with pytest.raises(ValueError, match="No feasible trials"):
        study.best_trial


def test_a_retried_trial_replaces_the_killed_trials_values_silently() -> None:
    from optuna_rena import ArchitectureSpace
    from optuna_rena import zoo

    space = ArchitectureSpace(zoo.ds_cnn(), [Constraint("params", max=20_000)], max_inserts=0,
                              notes=False)
    study = optuna.create_study(direction="maximize")
    killed = study.ask()
    space.suggest(killed)
    study._storage.set_trial_system_attr(killed._trial_id, "constraints", [123.0])  # stale
    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)(
        study, study._storage.get_trial(killed._trial_id))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "already set" warning
        study.optimize(lambda t: float(len(space.suggest(t).layers)), n_trials=1)
    retry = study.trials[-1]
    assert retry.system_attrs["failed_trial"] == killed.number
    assert trial_violations(retry) == {"params_max": pytest.approx(
        retry.user_attrs["params"] / 20_000 - 1)}
