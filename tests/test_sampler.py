from __future__ import annotations

import copy
import math
from pathlib import Path
import pickle
import re
import shutil
from typing import Any
from typing import Callable

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase
from optuna.testing.pytest_samplers import MultiObjectiveSamplerTestCase
from optuna.trial import TrialState
import pytest
import torch

from optuna_rena import ArchitectureSpace
from optuna_rena import Constraint
from optuna_rena import RenaSampler
from optuna_rena import trial_violations
from optuna_rena import zoo
from optuna_rena._constraints import is_feasible
from optuna_rena._metrics import INTERRUPTED_ATTR
from optuna_rena._sampler.reward import penalty
from optuna_rena.datasets import load_nas_bench_macro

from helpers import check_learnt_once
from helpers import check_rena_trials
from helpers import LOOSE
from helpers import macro_objective
from helpers import macro_space
from helpers import synthetic_accuracy

optuna.logging.set_verbosity(optuna.logging.WARNING)

MACRO_ORDER = [f"L{i}.variant" for i in range(1, 9)]
"""The decisions of NAS-Bench-Macro's space, in the order the space takes them."""


class TestOptunaSamplerSuite(BasicSamplerTestCase, MultiObjectiveSamplerTestCase):
    """Optuna's own generic sampler tests, run against RenaSampler."""

    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: RenaSampler(seed=0, batch_size=4)


def test_seed_makes_a_study_reproducible() -> None:
    runs = []
    for _ in range(2):
        space = macro_space()
        study = optuna.create_study(direction="maximize",
                                    sampler=RenaSampler(seed=7, pretrain_episodes=0))
        study.optimize(macro_objective(space), n_trials=20)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]
    study = optuna.create_study(direction="maximize",
                                sampler=RenaSampler(seed=8, pretrain_episodes=0))
    study.optimize(macro_objective(macro_space()), n_trials=20)
    assert [t.params for t in study.trials] != runs[0]


def test_reseed_rng_changes_the_samples_and_keeps_what_was_learnt() -> None:
    """Three samplers with one seed run the same 13 trials identically. Two are then
    reseeded: each keeps its policy, and their later trials differ from the third's and
    from each other's (a fresh seed for each, not a replay of the old stream)."""
    # The policy's own sampling is under test: with the world model, a plan is the argmax
    # of the acquisition, and the random state only shapes its candidates.
    samplers = [RenaSampler(seed=1, batch_size=4, pretrain_episodes=0, world_model=False)
                for _ in range(3)]
    studies = [optuna.create_study(direction="maximize", sampler=s) for s in samplers]
    for study in studies:
        study.optimize(macro_objective(macro_space()), n_trials=13)
    first = [[t.params for t in study.trials] for study in studies]
    assert first[0] == first[1] == first[2]
    for sampler in samplers[1:]:
        weights = {k: v.clone() for k, v in sampler._state.learner.policy.state_dict().items()}
        assert sampler.n_updates == 3  # 12 finished trials when the 13th started
        sampler.reseed_rng()
        assert sampler.n_updates == 3
        for k, v in sampler._state.learner.policy.state_dict().items():
            assert torch.equal(v, weights[k])  # what was learnt is kept
    for study in studies:
        study.optimize(macro_objective(macro_space()), n_trials=3)
    later = [[t.params for t in study.trials[13:]] for study in studies]
    assert later[1] != later[0] and later[2] != later[0] and later[1] != later[2]


def test_policy_is_rebuilt_from_storage(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'rena.db'}"
    first = RenaSampler(seed=0, batch_size=4, pretrain_episodes=0)
    study = optuna.create_study(direction="maximize", sampler=first, storage=storage,
                                study_name="s")
    study.optimize(macro_objective(macro_space()), n_trials=10)
    assert first.learned_trials == list(range(8))
    # A new process: a fresh sampler on the same storage learns from every finished trial.
    again = RenaSampler(seed=0, batch_size=4, pretrain_episodes=0)
    resumed = optuna.load_study(study_name="s", storage=storage, sampler=again)
    resumed.optimize(macro_objective(macro_space()), n_trials=1)
    assert again.learned_trials == list(range(8))
    # The decision order is stored, so the replay is exact.
    assert all(t.system_attrs["rena:order"] == [f"L{i}.variant" for i in range(1, 9)]
               for t in resumed.trials)
    # Two workers alternating on one study each learn from the other's trials.
    a, b = RenaSampler(seed=1, batch_size=2, pretrain_episodes=0), RenaSampler(
        seed=2, batch_size=2, pretrain_episodes=0)
    ran: dict[str, list[int]] = {"a": [], "b": []}
    for i in range(6):
        name, sampler = ("a", a) if i % 2 == 0 else ("b", b)
        worker = optuna.load_study(study_name="s", storage=storage, sampler=sampler)
        worker.optimize(macro_objective(macro_space()), n_trials=1)
        ran[name].append(worker.trials[-1].number)
    # Batches of two: each worker has learnt from the other's trials before its last one.
    assert ran["b"][0] in a.learned_trials and ran["a"][1] in b.learned_trials


def test_threads_share_one_sampler() -> None:
    """Four threads, one sampler: whatever the interleaving, every trial's stored order
    matches its parameters, no child is planned twice, and every finished trial is learnt
    exactly once, in full batches."""
    sampler = RenaSampler(seed=0, batch_size=4, pretrain_episodes=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    space = macro_space(LOOSE)  # see LOOSE
    study.optimize(macro_objective(space), n_trials=60, n_jobs=4)
    trials = study.trials
    assert all(t.system_attrs["rena:order"] == list(t.params) == MACRO_ORDER for t in trials)
    check_rena_trials(trials)
    check_learnt_once(sampler.learned_trials, {t.number for t in trials}, 4)
    assert sampler.n_updates == len(sampler.learned_trials) // 4
    # One more trial starts with all 60 finished: it learns the rest, 60 in 15 batches.
    study.optimize(macro_objective(space), n_trials=1)
    assert sorted(sampler.learned_trials) == list(range(60)) and sampler.n_updates == 15
    assert set(sampler.rewards()) == set(range(60))


def test_published_rena_learns_feasibility_and_reward(data_dir: Path) -> None:
    """RENA as published, on NAS-Bench-Macro (real accuracies, known optimum) under tight
    constraints: over seeds, the last window of trials is more often feasible and better
    rewarded than the first. With p = 0.5 the reward's maximum is the feasible optimum."""
    table = load_nas_bench_macro(data_dir)
    p, window = 0.5, 30
    feasible_gain, reward_gain = [], []
    for seed in range(4):
        space = macro_space()

        def objective(trial: optuna.Trial) -> float:
            space.suggest(trial)
            return table[zoo.nas_bench_macro_code(trial.params)]["mean_acc"]

        study = optuna.create_study(direction="maximize",
                                    sampler=RenaSampler.paper(seed=seed, penalty_base=p))
        study.optimize(objective, n_trials=120)
        feasible = [is_feasible(trial_violations(t)) for t in study.trials]
        reward = [t.value * penalty(trial_violations(t), p) for t in study.trials]
        feasible_gain.append(np.mean(feasible[-window:]) - np.mean(feasible[:window]))
        reward_gain.append(np.mean(reward[-window:]) - np.mean(reward[:window]))
    assert min(feasible_gain) > 0 and np.median(feasible_gain) > 0.3, feasible_gain
    assert min(reward_gain) > 0 and np.median(reward_gain) > 10, reward_gain


def test_pretraining_makes_the_first_trials_feasible() -> None:
    for seed in range(3):
        sampler = RenaSampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(macro_objective(macro_space()), n_trials=10)
        assert sampler.pretrain_stats["feasible_rate"] >= 0.5
        assert sum(is_feasible(trial_violations(t)) for t in study.trials) >= 3


def test_a_budget_out_of_reach_still_explores_distinct_children() -> None:
    """No child has 380k parameters or fewer: the sampler says so before the first trial,
    does not pre-train on a penalty it cannot meet, and every trial is a new child."""
    space = macro_space([Constraint("params", max=380_000)])
    assert space.unreachable()
    sampler = RenaSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with pytest.warns(UserWarning, match="no child of this space meets params <= 380000"):
        study.optimize(macro_objective(space), n_trials=20)
    assert sampler.pretrain_stats == {}
    assert len({t.system_attrs["rena:child_spec"] for t in study.trials}) == 20


def test_pretraining_stops_when_it_makes_no_progress() -> None:
    """Pre-training pushed on an unreachable budget stops early, before the policy has
    shrunk onto one child; its pools and a uniform last resort keep plans new."""
    sampler = RenaSampler(seed=0)
    sampler.attach_space(macro_space([Constraint("params", max=380_000)]))
    planner = sampler._state.space_planner
    assert planner is not None
    stats = planner.pretrain(2048, 0.5)
    assert stats["stalled"] == 1.0 and stats["episodes"] < 2048
    assert len({s.key for s in planner.simulate(64)}) >= 8
    seen: set[str] = set()
    for _ in range(40):
        seen.add(planner._plan_policy(seen).key)
    assert len(seen) == 40


def test_avoid_repeats_evaluates_distinct_networks() -> None:
    """The synthetic objective pulls the policy hard towards one corner; planning against
    the study's child specs still keeps nearly every trial new (repeats happen only when
    three pools, up to temperature 4, hold nothing new)."""
    distinct = {}
    for avoid in (True, False):
        # Pre-training on the penalty is what concentrates the policy here.
        study = optuna.create_study(direction="maximize", sampler=RenaSampler(
            seed=0, avoid_repeats=avoid, world_model=False))
        study.optimize(macro_objective(macro_space()), n_trials=60)
        distinct[avoid] = len({t.system_attrs["rena:child_spec"] for t in study.trials})
    assert distinct[True] >= 50 and distinct[False] <= 30, distinct


def test_enqueued_and_fixed_parameters_are_in_the_decision_order() -> None:
    """A trial whose first decisions were enqueued stores every decision, in the order
    they were suggested, so the policy learns all of them."""
    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_categorical("a", ["p", "q", "r"])
        b = trial.suggest_int("b", 0, 9)
        c = trial.suggest_categorical("c", ["x", "y"])
        return float(b) + (a == "q") + (c == "y") if b > 4 else 0.0

    sampler = RenaSampler(seed=0, world_model=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial({"a": "q"})
    study.enqueue_trial({"a": "r", "b": 7})
    study.optimize(objective, n_trials=3)
    orders = [t.system_attrs.get("rena:order") for t in study.trials]
    assert orders == [["a", "b", "c"]] * 3
    steps = [sampler._state.decisions.steps_of(t) for t in study.trials]
    assert [len(s) for s in steps] == [3, 3, 3]
    assert steps[1][1].chosen == sampler._state.decisions.decision(
        "b", study.trials[1].distributions["b"], {"a": "r"}).index_of(7)


def test_plain_objective_with_user_constraints() -> None:
    """Without a space, every suggestion is a decision, and constraints set by the
    objective shape the reward: x must stay below 0.3."""
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        n = trial.suggest_int("n", 1, 64, log=True)
        kind = trial.suggest_categorical("kind", ["a", "b", "c"])
        trial.set_constraint("x_max", x / 0.3 - 1)
        return x + n / 64 + (kind == "b")

    fractions = []
    for seed in range(3):
        # The policy's own learning is under test (the world model is in test_world_model).
        sampler = RenaSampler(seed=seed, batch_size=4, learning_rate=0.02, world_model=False)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=120)
        assert sampler.learned_trials == list(range(116))
        feasible = [t.params["x"] <= 0.3 for t in study.trials]
        fractions.append(np.mean(feasible[-40:]) - np.mean(feasible[:40]))
        # The sampler writes no constraints of its own: Optuna reads each once.
        assert all(list(t.constraints) == ["x_max"] for t in study.trials)
    assert np.median(fractions) > 0.1, fractions


def test_multi_objective_rewards_follow_dominance() -> None:
    """With two objectives and no constraint, the reward is the mean fraction of trials
    that a trial equals or beats per objective: a trial that dominates another always
    gets the higher reward."""
    sampler = RenaSampler(seed=0, batch_size=4, pretrain_episodes=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    space = macro_space(None)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        space.suggest(trial)
        return synthetic_accuracy(trial.params), trial.user_attrs["params"]

    study.optimize(objective, n_trials=21)
    assert sampler.n_updates == 5
    rewards = sampler.rewards()
    assert sorted(rewards) == list(range(20))
    by_number = {t.number: t.values for t in study.trials}
    pairs = 0
    for a in rewards:
        for b in rewards:
            (acc_a, size_a), (acc_b, size_b) = by_number[a], by_number[b]
            if acc_a >= acc_b and size_a <= size_b and (acc_a, size_a) != (acc_b, size_b):
                assert rewards[a] > rewards[b], (a, b)
                pairs += 1
    assert pairs > 10


@pytest.mark.parametrize("kwargs,message", [
    (dict(penalty_base=0.0), r"penalty_base must be a number in \(0, 1\], got 0.0"),
    (dict(penalty_base=1.5), r"penalty_base must be a number in \(0, 1\], got 1.5"),
    (dict(penalty_base=math.nan), "penalty_base must be a number"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(learning_rate=-1.0), "learning_rate must be a number"),
    (dict(baseline_decay=1.0), r"baseline_decay must be a number in \[0, 1\)"),
    (dict(n_bins=1), "n_bins must be an integer >= 2"),
    (dict(seed="0"), r"seed must be an integer in \[0, 2\*\*32\) or None"),
    (dict(seed=-1), r"seed must be an integer in \[0, 2\*\*32\) or None, got -1"),
    (dict(avoid_repeats="yes"), "avoid_repeats must be True or False"),
    (dict(policy_proposals="no"), "policy_proposals must be True or False, got 'no'"),
])
def test_bad_sampler_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RenaSampler(**kwargs)


def test_seed_may_be_any_integer_type() -> None:
    # NumPy's integers are what a seed drawn with NumPy is.
    for seed in (np.int64(3), np.uint32(3), np.int8(3)):
        sampler = RenaSampler(seed=seed, pretrain_episodes=0)  # type: ignore[arg-type]
        assert sampler._seed == 3 and type(sampler._seed) is int
    for bad in (3.0, np.float64(3), True, np.int64(-1), np.uint64(2**32)):
        with pytest.raises(ValueError, match=re.escape(
                f"seed must be an integer in [0, 2**32) or None, got {bad!r}.")):
            RenaSampler(seed=bad)  # type: ignore[arg-type]


def test_a_new_study_or_space_starts_learning_afresh() -> None:
    sampler = RenaSampler(seed=0, batch_size=2, pretrain_episodes=0)
    first = optuna.create_study(direction="maximize", sampler=sampler)
    first.optimize(macro_objective(macro_space()), n_trials=5)
    assert sampler.learned_trials == [0, 1, 2, 3]
    # The same instance on another study learns that study's trials, not the first's.
    second = optuna.create_study(direction="maximize", sampler=sampler)
    second.optimize(macro_objective(macro_space()), n_trials=3)
    assert sampler.learned_trials == [0, 1]
    # A space with other decisions resets what was learnt; a remade equal space does not.
    sampler.attach_space(macro_space())
    assert sampler.learned_trials == [0, 1]
    sampler.attach_space(ArchitectureSpace(zoo.ds_cnn()))
    assert sampler.learned_trials == [] and sampler.n_updates == 0


def test_hyperband_brackets_do_not_hide_trials() -> None:
    sampler = RenaSampler(seed=0, batch_size=2, pretrain_episodes=0)
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=optuna.pruners.HyperbandPruner(max_resource=4))

    def objective(trial: optuna.Trial) -> float:
        value = macro_objective(macro_space())(trial)
        for step in range(4):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=12)
    assert len(sampler.learned_trials) == 10  # every finished trial, whatever its bracket


def test_a_new_process_may_plan_again_the_child_of_a_trial_that_ctrl_c_stopped() -> None:
    """The stopped trial said nothing about its child, so a run that continues the study
    (a new sampler, as after a restart) plans it as new; a failed child would be skipped."""
    def first_child(interrupted: bool) -> tuple[str, str]:
        space = macro_space()
        study = optuna.create_study(direction="maximize",
                                    sampler=RenaSampler(seed=3, world_model=False))

        def stopped(trial: optuna.Trial) -> float:
            space.suggest(trial)
            if interrupted:
                study._storage.set_trial_system_attr(trial._trial_id, INTERRUPTED_ATTR, True)
            raise RuntimeError("stopped")

        study.optimize(stopped, n_trials=1, catch=(RuntimeError,))
        study.sampler = RenaSampler(seed=3, world_model=False)  # the run that continues
        study.optimize(macro_objective(space), n_trials=1)
        first, second = study.trials
        assert first.state == TrialState.FAIL
        return first.user_attrs["child"], second.user_attrs["child"]

    stopped_child, next_child = first_child(interrupted=True)
    assert next_child == stopped_child
    failed_child, after_failure = first_child(interrupted=False)
    assert failed_child == stopped_child and after_failure != failed_child


def _define_by_run(trial: optuna.Trial) -> float:
    """A define-by-run objective with a conditional parameter: the plan covers the
    intersection search space and the policy decides ``depth`` alone."""
    x = trial.suggest_float("x", -2.0, 2.0)
    n = trial.suggest_int("n", 1, 64, log=True)
    kind = trial.suggest_categorical("kind", ["wide", "deep"])
    depth = trial.suggest_int("depth", 1, 8) if kind == "deep" else 0
    return -(x - 0.5) ** 2 + math.log(n) / 4 + depth / 8


@pytest.mark.parametrize("objective_kind", ["define-by-run", "space"])
def test_a_pickled_or_copied_sampler_resumes_its_study(tmp_path: Path,
                                                       objective_kind: str) -> None:
    """Optuna's FAQ resumes a study with a pickled sampler. A pickled and a deep-copied
    sampler, each continuing its own copy of the study's database, decide exactly the
    trials that the original decides continuing the original, with what it learnt."""
    if objective_kind == "space":
        space = macro_space()
        objective: Callable[[optuna.Trial], float] = macro_objective(space)
    else:
        objective = _define_by_run
    # Pre-training, two policy updates and a world model that plans: all of it is kept.
    sampler = RenaSampler(seed=0, batch_size=4, pretrain_episodes=64, model_startup_trials=4)
    storage = f"sqlite:///{tmp_path / 'a.db'}"
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage,
                                study_name="s")
    study.optimize(objective, n_trials=10)
    learnt = (sampler.n_updates, sampler.learned_trials)
    assert learnt == (2, list(range(8)))
    copies = {"pickled": pickle.loads(pickle.dumps(sampler)),
              "deep-copied": copy.deepcopy(sampler)}
    continued = {}
    for name, other in copies.items():
        assert (other.n_updates, other.learned_trials) == learnt
        assert other.options == sampler.options
        shutil.copy(tmp_path / "a.db", tmp_path / f"{name}.db")
        resumed = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / name}.db",
                                    sampler=other)
        resumed.optimize(objective, n_trials=6)
        continued[name] = [t.params for t in resumed.trials[10:]]
        assert other.learned_trials == list(range(12))
    study.optimize(objective, n_trials=6)
    assert sampler.learned_trials == list(range(12))
    original = [t.params for t in study.trials[10:]]
    assert continued == {"pickled": original, "deep-copied": original}


def test_a_pickled_sampler_on_another_study_starts_afresh() -> None:
    """What a sampler learnt in one study means nothing in another, pickled or not."""
    sampler = RenaSampler(seed=0, batch_size=2, pretrain_episodes=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_define_by_run, n_trials=5)
    assert sampler.learned_trials == [0, 1, 2, 3]
    again = pickle.loads(pickle.dumps(sampler))
    other = optuna.create_study(direction="maximize", sampler=again)
    other.optimize(_define_by_run, n_trials=3)
    assert again.learned_trials == [0, 1]


def test_numpy_numbers_are_options() -> None:
    """NumPy numbers (what NumPy computes, e.g. a grid's values) are options, stored as
    Python's, so the study is the one the same Python numbers give."""
    given = dict(learning_rate=np.float32(0.05), entropy_weight=np.float64(0.02),
                 penalty_base=np.float16(0.5), batch_size=np.int64(2),
                 elite_size=np.int32(3), n_bins=np.uint8(8), hidden_size=np.int16(16),
                 embedding_dim=np.int64(8), pretrain_episodes=np.int64(0))
    numpy_sampler = RenaSampler(seed=0, world_model=False, **given)  # type: ignore[arg-type]
    plain = {k: float(v) if isinstance(v, np.floating) else int(v) for k, v in given.items()}
    for name, value in plain.items():
        stored = getattr(numpy_sampler.options, name)
        assert stored == value and type(stored) is type(value), name
    runs = []
    for sampler in (numpy_sampler, RenaSampler(seed=0, world_model=False, **plain)):
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(_define_by_run, n_trials=8)
        runs.append([t.params for t in study.trials])
        assert sampler.n_updates == 3
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kwargs,message", [
    (dict(hidden_size=10**9), "hidden_size must be an integer in [1, 1024], got 1000000000."),
    (dict(embedding_dim=1025), "embedding_dim must be an integer in [1, 1024], got 1025."),
    (dict(n_bins=np.int64(10**6)),
     "n_bins must be an integer in [2, 1024], got np.int64(1000000)."),
    (dict(plan_candidates=10**5),
     "plan_candidates must be an integer in [1, 10000], got 100000."),
    (dict(batch_size=10**7), "batch_size must be an integer in [1, 10000], got 10000000."),
    # Still refused, with the messages they had: a bool, NumPy's too, and a float.
    (dict(batch_size=np.bool_(True)), "batch_size must be an integer >= 1, got np.True_."),
    (dict(hidden_size=64.0), "hidden_size must be an integer >= 1, got 64.0."),
    (dict(learning_rate=np.bool_(True)),
     "learning_rate must be a number in (0, inf], got np.True_."),
    (dict(learning_rate=np.float32("nan")), "learning_rate must be a number in (0, inf]"),
])
def test_sizes_are_bounded_and_named(kwargs: dict[str, Any], message: str) -> None:
    # hidden_size=10**9 was a raw torch allocation error; the others were accepted.
    with pytest.raises(ValueError, match=re.escape(message)):
        RenaSampler(**kwargs)
