"""Multi-objective studies: fronts, the expected hypervolume improvement, objectives
known exactly, and what RenaSampler does with several objectives and odd inputs."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest

from optuna_rena import Constraint
from optuna_rena import RenaSampler
from optuna_rena._sampler.acqf import log_expected_hypervolume_improvement
from optuna_rena._pareto import hypervolume as task_hypervolume
from optuna_rena._sampler.pareto import improvement_boxes
from optuna_rena._sampler.pareto import non_dominated
from optuna_rena._sampler.reward import pareto_depths

from helpers import macro_space
from helpers import synthetic_accuracy

optuna.logging.set_verbosity(optuna.logging.WARNING)


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    return task_hypervolume(points, reference, ["maximize"] * len(reference))


@pytest.mark.parametrize("k", [2, 3])
def test_the_boxes_hold_what_the_front_leaves(k: int) -> None:
    rng = np.random.RandomState(k)
    for _ in range(5):
        points = rng.rand(12, k)
        reference = np.full(k, -0.2)
        front = points[non_dominated(points)]
        # A point's hypervolume improvement is its volume inside the boxes.
        lower, upper = improvement_boxes(front, reference)
        y = rng.rand(k) * 1.2
        inside = np.prod(np.clip(np.minimum(upper, y) - lower, 0.0, None), axis=1).sum()
        assert inside == pytest.approx(
            hypervolume(np.vstack([points, y]), reference) - hypervolume(points, reference))


def test_fronts_and_depths_keep_equal_points_together() -> None:
    points = np.array([[1.0, 1.0], [2.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.0, 2.0]])
    assert non_dominated(points).tolist() == [True, True, True, False, True]
    assert pareto_depths(points).tolist() == [0, 0, 0, 1, 0]


def test_expected_hypervolume_improvement_matches_monte_carlo() -> None:
    rng = np.random.RandomState(0)
    front = np.array([[1.0, 0.2], [0.6, 0.6], [0.2, 1.0]])
    reference = np.zeros(2)
    mean = [np.array([0.7, 0.5, 0.9]), np.array([0.7, 0.5, 0.9])]
    # The third candidate's second objective is known exactly (no spread).
    std = [np.array([0.2, 0.15, 0.05]), np.array([0.2, 0.15, 0.0])]
    boxes = improvement_boxes(front, reference)
    got = np.exp(log_expected_hypervolume_improvement(list(zip(mean, std)), *boxes))
    base = hypervolume(front, reference)
    for i in range(3):
        draws = np.stack([m[i] + s[i] * rng.randn(4000) for m, s in zip(mean, std)], axis=1)
        expected = np.mean([hypervolume(np.vstack([front, y]), reference) - base
                            for y in draws])
        assert got[i] == pytest.approx(expected, rel=0.08)
    # Far behind the front, candidates still rank by how far.
    far = log_expected_hypervolume_improvement(
        [(np.array([-3.0, -5.0]), np.array([0.1, 0.1]))] * 2, *boxes)
    assert np.isfinite(far).all() and far[0] > far[1]
    # A vanishing spread far below a box is the floor, not NaN.
    tiny = log_expected_hypervolume_improvement(
        [(np.array([-1e6]), np.array([1e-300]))] * 2, *boxes)
    assert np.isfinite(tiny).all()


def _macro_objective(trial: optuna.Trial, space) -> tuple[float, float]:
    space.suggest(trial)
    return synthetic_accuracy(trial.params), trial.user_attrs["params"]


def test_two_objectives_are_planned_in_the_world_model_and_params_known_exactly() -> None:
    """Accuracy against parameters on a space: the world model plans (no repeat), and
    parameters, which the space counts, are taken as they are, not modelled."""
    space = macro_space(None)
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.set_metric_names(["accuracy", "params"])
    study.optimize(lambda t: _macro_objective(t, space), n_trials=30)
    planner = sampler._state.space_planner
    assert planner.history.exact_objectives == {1: "params"}
    assert planner.model.exact_objectives == (1,)
    children = [t.system_attrs["rena:child_spec"] for t in study.trials]
    assert len(set(children)) == len(children)
    # The model's plans reach a front better than the first trials' (random-like) one.
    assert len(study.best_trials) >= 3


def test_an_objective_that_equals_a_counted_metric_is_exact_without_its_name() -> None:
    space = macro_space(None)
    sampler = RenaSampler(seed=1)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(lambda t: _macro_objective(t, space), n_trials=12)
    assert sampler._state.space_planner.history.exact_objectives == {1: "params"}


def test_a_constraint_on_a_multi_objective_study_is_met() -> None:
    """Constraints multiply in as P(feasible); the feasible front is what is improved."""
    space = macro_space([Constraint("params", max=1_000_000)])
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        space.suggest(trial)
        return synthetic_accuracy(trial.params), trial.user_attrs["macs"]

    study.optimize(objective, n_trials=30)
    feasible = [all(v <= 0 for v in t.constraints.values()) for t in study.trials]
    assert np.mean(feasible[10:]) > 0.8
    assert all(all(v <= 0 for v in t.constraints.values()) for t in study.best_trials)


def test_a_define_by_run_study_with_sometimes_failing_trials() -> None:
    """An objective that fails now and then (Optuna stores no values): those trials teach
    the model nothing and the search goes on."""
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_categorical("y", ["a", "b", "c"])
        if trial.number % 5 == 3:
            raise RuntimeError("the run crashed")
        return x * (2 if y == "a" else 1), (1 - x) ** 2 + (y == "c")

    sampler = RenaSampler(seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=30, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 6
    # Read at the last trial's start: the 29 before it, of which 6 failed.
    history = sampler._state.relative_planner.history
    assert history.n_complete == 23
    assert history.observations().objectives.shape == (29, 2)


def test_more_objectives_than_the_model_plans_for_say_so_once() -> None:
    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x, x * x, (1 - x) ** 2

    sampler = RenaSampler(seed=0, model_startup_trials=2)
    study = optuna.create_study(directions=["minimize"] * 4, sampler=sampler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, n_trials=6)
    said = [w for w in caught if "at most 3 objectives" in str(w.message)]
    assert len(said) == 1 and "this study has 4" in str(said[0].message)
    assert len(study.trials) == 6


def test_three_objectives_with_two_counted() -> None:
    """Accuracy against parameters and MACs, as nas-bench-macro-front: both counts are
    exact, and the plan's boxes cover three objectives."""
    space = macro_space(None)
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                                sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        space.suggest(trial)
        return (synthetic_accuracy(trial.params), trial.user_attrs["params"],
                trial.user_attrs["macs"])

    study.optimize(objective, n_trials=20)
    planner = sampler._state.space_planner
    assert planner.history.exact_objectives == {1: "params", 2: "macs"}
    children = [t.system_attrs["rena:child_spec"] for t in study.trials]
    assert len(set(children)) == len(children)


def test_a_single_objective_that_is_a_count_is_modelled() -> None:
    """Minimising parameters alone: the objective is the child's count, but one exact
    objective would leave every candidate that does not beat the best tied; it is
    modelled as any objective."""
    space = macro_space(None)
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        return trial.user_attrs["params"]

    study.optimize(objective, n_trials=14)
    assert sampler._state.space_planner.history.exact_objectives == {}
    assert sampler._state.space_planner.model.exact_objectives == ()


def test_a_measured_constraint_on_a_define_by_run_front() -> None:
    """A constraint that trials measure (no space) is predicted and multiplies in; the
    model plans once trials are complete, and feasible trials come to dominate."""
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        cost = x + (c == "c")
        trial.set_constraint("cost_max", cost - 1.2)
        return x + (c == "c") * 0.5, 1 - x + (c == "b") * 0.3

    sampler = RenaSampler(seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=40)
    feasible = [t.constraints["cost_max"] <= 0 for t in study.trials]
    assert np.mean(feasible[20:]) > np.mean(feasible[:8])
    model = sampler._state.relative_planner.model
    assert list(model._constraints) == ["cost_max"]


def test_a_pickled_sampler_resumes_a_two_objective_study(tmp_path) -> None:
    """As with one objective: a pickled sampler continuing a copy of the study's database
    decides the trials the original decides continuing the original."""
    import pickle
    import shutil

    space = macro_space(None)
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="front",
                                storage=f"sqlite:///{tmp_path / 'a.db'}",
                                sampler=RenaSampler(seed=3))
    study.optimize(lambda t: _macro_objective(t, space), n_trials=12)
    copied = pickle.loads(pickle.dumps(study.sampler))
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    again = optuna.load_study(study_name="front", storage=f"sqlite:///{tmp_path / 'b.db'}",
                              sampler=copied)
    again.optimize(lambda t: _macro_objective(t, space), n_trials=4)
    study.optimize(lambda t: _macro_objective(t, space), n_trials=4)
    assert [t.params for t in again.trials[12:]] == [t.params for t in study.trials[12:]]
