"""The world model (Gaussian processes on configurations) and planning in it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
import pytest
from scipy import stats

from optuna_rena import RenaSampler
from optuna_rena import trial_violations
from optuna_rena._constraints import is_feasible
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.gp import GaussianProcess
from optuna_rena._sampler.acqf import log_expected_improvement
from optuna_rena.datasets import load_nas_bench_macro

from helpers import macro_objective
from helpers import macro_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _macro(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = load_nas_bench_macro(data_dir)
    codes = sorted(table)
    x = np.array([[int(d) for d in code] for code in codes])
    return (x, np.array([table[c]["mean_acc"] for c in codes]),
            np.array([table[c]["params"] for c in codes], dtype=float))


def _features(x: np.ndarray) -> Features:
    return Features(x, np.zeros((len(x), 0)))


def test_predicts_nas_bench_macro_from_few_networks(data_dir: Path) -> None:
    x, accuracy, params = _macro(data_dir)
    rng = np.random.default_rng(0)
    seen = rng.choice(len(x), 60, replace=False)
    for y, least in ((params, 0.999), (accuracy, 0.75)):
        gp = GaussianProcess()
        gp.fit(_features(x[seen]), y[seen])
        mean, std = gp.predict(_features(x))
        assert np.corrcoef(mean, y)[0, 1] > least
        assert (std > 0).all()
        # Where it has seen the network, it knows it.
        assert np.abs(mean[seen] - y[seen]).max() < 0.05 * np.ptp(y)


def test_adding_observations_matches_a_refit(data_dir: Path) -> None:
    x, accuracy, _ = _macro(data_dir)
    rows = np.random.default_rng(1).choice(len(x), 40, replace=False)
    grown = GaussianProcess()
    grown.fit(_features(x[rows[:30]]), accuracy[rows[:30]])
    grown.fit(_features(x[rows[:36]]), accuracy[rows[:36]])  # below the refit schedule
    fresh = GaussianProcess()
    fresh.fit(_features(x[rows[:30]]), accuracy[rows[:30]])
    fresh._kernel, fresh._relevance = grown._kernel, grown._relevance
    fresh._refit_with_kernel(_features(x[rows[:36]]), accuracy[rows[:36]])
    a, b = grown.predict(_features(x[rows])), fresh.predict(_features(x[rows]))
    assert np.allclose(a[0], b[0], atol=1e-6) and np.allclose(a[1], b[1], atol=1e-6)


def test_learns_which_choices_matter() -> None:
    """Like a NAS-Bench-201 edge set to ``none``: one choice of one feature cuts the
    path, and then the other features do not matter. The learnt relevance weighs that
    choice most, and predicts unseen configurations better than one shared
    length-scale (by about half, on three seeds of this data)."""
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 5, size=(400, 6))
    y = ((codes[:, 0] != 1) * (2.0 + (codes[:, 1:] == 2).sum(axis=1))
         + 0.05 * rng.randn(400))
    x = Features(codes, np.zeros((400, 0)))
    seen, unseen = np.arange(100), np.arange(100, 400)
    learnt = GaussianProcess()
    learnt.fit(x.take(seen), y[seen])
    shared = GaussianProcess(learn_relevance=False)
    shared.fit(x.take(seen), y[seen])
    assert shared.relevance is None and learnt.relevance is not None
    first = learnt.relevance[0]  # index code + 1
    assert first.argmax() == 2 and first[2] > 2.0 * np.median(first[1:])
    errors = [np.abs(gp.predict(x.take(unseen))[0] - y[unseen]).mean()
              for gp in (learnt, shared)]
    assert errors[0] < 0.8 * errors[1], errors
    # Grown by a row, it predicts as a fresh fit with the same kernel and relevance.
    learnt.fit(x.take(np.arange(101)), y[:101])
    fresh = GaussianProcess()
    fresh._kernel, fresh._relevance = learnt._kernel, learnt._relevance
    fresh._mean, fresh._scale = learnt._mean, learnt._scale
    fresh._refit_with_kernel(x.take(np.arange(101)), y[:101])
    a, b = learnt.predict(x.take(unseen)), fresh.predict(x.take(unseen))
    assert np.allclose(a[0], b[0], atol=1e-6) and np.allclose(a[1], b[1], atol=1e-6)


def test_a_long_study_conditions_on_a_bounded_subset() -> None:
    """Beyond 256 observations a GP keeps at most 384 of them, the best among them, and
    still predicts what it was given."""
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 4, size=(2000, 6))
    y = (codes == 1).sum(axis=1) + 0.01 * rng.randn(2000)
    x = Features(codes, np.zeros((2000, 0)))
    gp = GaussianProcess()
    for n in (200, 300, 600, 1000, 1500, 2000):
        gp.fit(x.take(range(n)), y[:n])
        assert gp.n == n if n <= 256 else 256 <= gp.n <= 384
        assert y[:n].argmax() in gp._rows  # the best observation is kept
    mean, _ = gp.predict(x.take(range(1900, 2000)))
    assert np.corrcoef(mean, y[1900:])[0, 1] > 0.95
    near_zero = GaussianProcess(keep="near_zero")
    near_zero.fit(x, y - 3.0)
    assert np.abs(y - 3.0).argmin() in near_zero._rows


def test_log_expected_improvement() -> None:
    mean = np.array([-30.0, -3.0, -1.0, 0.0, 2.0, 30.0])
    std = np.ones_like(mean)
    z = mean
    exact = np.log(stats.norm.pdf(z) + z * stats.norm.cdf(z))
    got = log_expected_improvement(mean, std, 0.0)
    assert np.allclose(got[1:], exact[1:], rtol=1e-9)
    assert np.isfinite(got[0]) and got[0] < got[1]  # far below: tiny, not -inf


def _plain(trial: optuna.Trial) -> float:
    """12 parameters of three kinds; the size constraint cuts the best region in two."""
    cats = [trial.suggest_categorical(f"c{i}", ["a", "b", "c"]) for i in range(6)]
    n = trial.suggest_int("n", 1, 64, log=True)
    x = trial.suggest_float("x", -3.0, 3.0)
    trial.set_constraint("size_max", n / 16 - 1)
    return sum(c == "b" for c in cats) - (x - 1) ** 2 + math.log2(n) / 3


def test_plain_objective_is_planned_in_the_world_model() -> None:
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_plain, n_trials=60)
    trials = study.trials
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == len(keys)  # never the same configuration twice
    planned = trials[sampler.options.model_startup_trials + 1:]
    feasible = [is_feasible(trial_violations(t)) for t in planned]
    assert np.mean(feasible) > 0.7
    best = study.best_trial
    assert best.params["n"] <= 16 and abs(best.params["x"] - 1) < 0.5
    assert sum(best.params[f"c{i}"] == "b" for i in range(6)) >= 5
    # Optuna planned the configuration at once (sample_relative), not one by one.
    assert sampler.infer_relative_search_space(study, trials[-1]).keys() == set(
        trials[-1].params)


def test_conditional_parameters_still_work() -> None:
    def objective(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["conv", "mlp"])
        width = trial.suggest_int("width", 8, 64, log=True)
        if kind == "conv":
            kernel = trial.suggest_categorical("kernel", [1, 3, 5])
            return width / 64 + kernel / 5
        return width / 64 - trial.suggest_float("dropout", 0.0, 0.5)

    study = optuna.create_study(direction="maximize", sampler=RenaSampler(seed=0))
    study.optimize(objective, n_trials=40)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert {t.params["kind"] for t in study.trials} == {"conv", "mlp"}


def test_a_restarted_worker_rebuilds_the_world_model(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'model.db'}"
    first = optuna.create_study(storage=storage, study_name="s", direction="maximize",
                                sampler=RenaSampler(seed=0))
    first.optimize(_plain, n_trials=20)
    again = RenaSampler(seed=1)
    resumed = optuna.load_study(study_name="s", storage=storage, sampler=again)
    resumed.optimize(_plain, n_trials=1)
    planner = again._state.relative_planner
    assert planner is not None and planner.history.n_complete == 20  # read all of storage
    new = resumed.trials[-1]
    assert tuple(sorted(new.params.items())) not in {
        tuple(sorted(t.params.items())) for t in resumed.trials[:-1]}
    assert new.params.keys() == again.infer_relative_search_space(resumed, new).keys()


def test_a_space_is_planned_in_the_world_model() -> None:
    """NAS-Bench-Macro's space under the tight budget, with a synthetic accuracy: the
    analytic budget is exact and the accuracy is modelled; every child is new."""
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(macro_objective(macro_space()), n_trials=40)
    children = [t.system_attrs["rena:child_spec"] for t in study.trials]
    assert len(set(children)) == len(children)
    # 39 of 6561 children are feasible: most trials find new ones.
    feasible = [is_feasible(trial_violations(t)) for t in study.trials[10:]]
    assert np.mean(feasible) > 0.6


@pytest.mark.parametrize("kwargs,message", [
    (dict(model_startup_trials=0), "model_startup_trials must be an integer >= 1"),
    (dict(local_steps=-1), "local_steps must be an integer >= 0"),
    (dict(dyna_weight=-1.0), "dyna_weight must be a number"),
    (dict(world_model="yes"), "world_model must be True or False"),
])
def test_bad_world_model_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RenaSampler(**kwargs)


def test_one_sampler_on_two_studies_plans_both() -> None:
    sampler = RenaSampler(seed=0)
    storage = optuna.storages.InMemoryStorage()
    for _ in range(2):
        study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage)
        study.optimize(_plain, n_trials=14)
        # Optuna's intersection cache serves one study: each study gets its own.
        assert sampler.infer_relative_search_space(study, study.trials[-1]).keys() == set(
            study.trials[-1].params)


def test_the_encoding_cache_survives_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from optuna.distributions import FloatDistribution
    from optuna_rena._sampler import encoding
    from optuna_rena._sampler.candidates import ParamEpisodes

    monkeypatch.setattr(encoding, "_CACHE", 3)
    encoder = encoding.ConfigurationEncoder(None)
    encoder.observe({"x": FloatDistribution(0.0, 1.0)})
    source = ParamEpisodes({"x": FloatDistribution(0.0, 1.0)})
    made = [source.candidate({"x": v}) for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
    encoder.encode_candidates(made[:4])
    rows = encoder.encode_candidates([made[0], made[4]])
    assert rows.numeric[:, 0] == pytest.approx([0.1, 0.5])


def test_a_broken_exact_budget_ranks_below_every_candidate_that_meets_it() -> None:
    from optuna_rena._sampler.world_model import Observations
    from optuna_rena._sampler.world_model import WorldModel

    # Choice 0 is far over a measured latency budget; choice 1 is well within it.
    x = Features(np.array([[0], [1], [0], [1], [0], [1]]), np.zeros((6, 0)))
    model = WorldModel()
    model.fit(Observations(x, np.array([1.0, 2.0, 1.1, 2.1, 0.9, 1.9]),
                           {"latency_max": np.array([50.0, -50.0, 50.5, -50.5, 49.5, -49.5])},
                           np.array([False, True, False, True, False, True])))
    scores = model.acquisition(Features(np.array([[0], [1]]), np.zeros((2, 0))),
                               [{"params_max": -0.5}, {"params_max": 0.1}])
    assert scores[0] < -1e4  # meets the exact budget, predicted far over the latency one
    assert scores[1] < scores[0]  # breaks the exact budget: below it all the same
