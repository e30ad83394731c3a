"""The world model (Gaussian processes on configurations) and planning in it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial
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


class _Recording(RenaSampler):
    """RenaSampler that keeps, by trial number, what Optuna's sampler interface asked of it:
    the configuration ``sample_relative`` planned and the parameters ``sample_independent``
    decided one by one (public methods only, so it survives a refactoring of internals)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned: dict[int, dict[str, Any]] = {}
        self.one_by_one: dict[int, list[str]] = {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        plan = super().sample_relative(study, trial, search_space)
        self.planned[trial.number] = dict(plan)
        return plan

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        self.one_by_one.setdefault(trial.number, []).append(param_name)
        return super().sample_independent(study, trial, param_name, param_distribution)


STARTUP = 8  # model_startup_trials, passed explicitly below


def _outcome(t: FrozenTrial) -> float:
    return t.value if is_feasible(trial_violations(t)) else -math.inf


def test_plain_objective_is_planned_in_the_world_model() -> None:
    sampler = _Recording(seed=0, model_startup_trials=STARTUP)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_plain, n_trials=60)
    trials = study.trials
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == len(keys)  # never the same configuration twice
    # Until STARTUP trials are complete nothing is planned; from then on Optuna plans every
    # trial's whole configuration at once (sample_relative), and the trial takes it.
    assert all(sampler.planned.get(t.number, {}) == {} for t in trials[:STARTUP])
    for t in trials[STARTUP:]:
        assert sampler.planned[t.number] == t.params, t.number
        assert t.number not in sampler.one_by_one, t.number
    # The world model's plans, not the policy's: on the same seed and budget, the policy
    # alone (it plans nothing, it decides each parameter) is far worse. Over trials 16-39
    # on seeds 0-9, the planned median is 6.3-7.1 (optimum 7.33), the policy's -5.5-1.0
    # (an infeasible trial counts as -inf).
    alone = _Recording(seed=0, model_startup_trials=STARTUP, world_model=False)
    baseline = optuna.create_study(direction="maximize", sampler=alone)
    baseline.optimize(_plain, n_trials=40)
    assert not any(alone.planned.values())
    assert all(alone.one_by_one[t.number] == list(t.params) for t in baseline.trials)
    planned = np.median([_outcome(t) for t in trials[16:40]])
    unplanned = np.median([_outcome(t) for t in baseline.trials[16:40]])
    assert planned > 5.0 and unplanned < 3.0, (planned, unplanned)
    best = study.best_trial
    assert best.params["n"] <= 16 and abs(best.params["x"] - 1) < 0.5
    assert sum(best.params[f"c{i}"] == "b" for i in range(6)) >= 5


def _conditional(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["conv", "mlp"])
    width = trial.suggest_int("width", 8, 64, log=True)
    if kind == "conv":
        kernel = trial.suggest_categorical("kernel", [1, 3, 5])
        return width / 64 + kernel / 5
    return width / 64 - trial.suggest_float("dropout", 0.0, 0.5)


def test_conditional_parameters_still_work() -> None:
    """The intersection search space (kind, width) is planned in the world model; the
    conditional parameters are decided by the policy one by one, after the planned ones
    in the stored decision order; and the policy learns from every trial."""
    sampler = _Recording(seed=0, model_startup_trials=STARTUP, batch_size=16)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_conditional, n_trials=40)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert {t.params["kind"] for t in trials} == {"conv", "mlp"}
    for t in trials:
        conditional = ["kernel"] if t.params["kind"] == "conv" else ["dropout"]
        assert t.system_attrs["rena:order"] == list(t.params), t.number
        if t.number < STARTUP:
            continue
        assert sampler.planned[t.number] == {k: t.params[k] for k in ("kind", "width")}
        assert sampler.one_by_one[t.number] == conditional, t.number
    # The 40th trial started with 39 finished: two batches of 16 learnt, in order.
    assert sampler.n_updates == 2 and sampler.learned_trials == list(range(32))
    assert set(sampler.rewards()) == set(range(32))
    # Planned in the model: from its start, the best of both kinds is found.
    best = study.best_trial
    assert best.params["kind"] == "conv" and best.params["kernel"] == 5
    assert best.params["width"] >= 48


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
    model.fit(Observations(x, np.array([[1.0], [2.0], [1.1], [2.1], [0.9], [1.9]]),
                           {"latency_max": np.array([50.0, -50.0, 50.5, -50.5, 49.5, -49.5])},
                           np.array([False, True, False, True, False, True])))
    scores = model.acquisition(Features(np.array([[0], [1]]), np.zeros((2, 0))),
                               [{"params_max": -0.5}, {"params_max": 0.1}])
    assert scores[0] < -1e4  # meets the exact budget, predicted far over the latency one
    assert scores[1] < scores[0]  # breaks the exact budget: below it all the same
