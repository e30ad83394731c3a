"""What a RenaSampler knows of one study, in one object: built when the sampler meets the
study (or another space: other decisions or another budget), dropped when it moves on.

It holds the policy and its learner, the decisions, the planners with their world models
and trial histories, and the episodes of the trials running in this process. Its methods
are the steps of a trial: :meth:`StudyState.start_trial` at a trial's first call (learn
from every trial finished since, after pre-training once), :meth:`StudyState.plan_relative`
for a define-by-run objective's intersection search space, and :meth:`StudyState.decide`
for each decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch

from optuna_rena._sampler.candidates import child_keys
from optuna_rena._sampler.candidates import PLAN_KEY
from optuna_rena._sampler.candidates import ParamEpisodes
from optuna_rena._sampler.candidates import SpaceEpisodes
from optuna_rena._sampler.decisions import DecisionMaker
from optuna_rena._sampler.decisions import RunningEpisode
from optuna_rena._sampler.learner import Learner
from optuna_rena._sampler.options import RenaOptions
from optuna_rena._sampler.planner import Planner
from optuna_rena._sampler.policy import RenaPolicy


if TYPE_CHECKING:
    from optuna.study import Study

    from optuna_rena._space import ArchitectureSpace


class StudyState:
    """A fresh policy (seeded weights, nothing learnt) and everything learnt in one study.

    Args:
        options: The sampler's options.
        space: The space the study searches, or ``None``.
        seed: The seed of the policy's initial weights.
        rng: The sampler's random state, shared with it (``reseed_rng`` reseeds it).
    """

    def __init__(self, options: RenaOptions, space: ArchitectureSpace | None, seed: int,
                 rng: np.random.RandomState) -> None:
        self.options = options
        self.rng = rng
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            policy = RenaPolicy(options.embedding_dim, options.hidden_size)
        self.decisions = DecisionMaker(space, options.n_bins)
        self.learner = Learner(policy, space.layer_tokens() if space is not None else [],
                               options)
        self.space_planner = None if space is None else Planner(
            SpaceEpisodes(space), self.decisions, self.learner, rng, options)
        self.relative_planner: Planner | None = None
        self._relative_names: list[str] = []
        self.episodes: dict[int, RunningEpisode] = {}
        self.trials: list[FrozenTrial] = []
        self.pretrain_stats: dict[str, float] = {}
        self._started = False

    def start_trial(self, study: Study, trial: FrozenTrial) -> RunningEpisode:
        """The running trial's episode. At its first call for a trial: read every trial
        of the study and learn from those finished since (pre-training first, once per
        study)."""
        episode = self.episodes.get(trial._trial_id)
        if episode is not None:
            return episode
        if self.space_planner is not None and not self._started:
            self._started = True  # before: a warning made an error must not repeat it
            self.pretrain_stats = self.space_planner.start_study()
        # Read once per trial; the learner and the planners share what was read. From
        # storage: pruners such as Hyperband hand the sampler a study filtered to one
        # bracket, and the policy learns from all of them.
        self.trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        self.learner.learn(self.trials, study.directions, self.decisions)
        episode = RunningEpisode(self.learner.layers(), self.learner.policy.initial_state())
        self.episodes[trial._trial_id] = episode
        return episode

    def plan_relative(self, study: Study, trial: FrozenTrial,
                      search_space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
        """A planned configuration of a define-by-run objective's search space; empty
        until the world model has ``model_startup_trials`` complete trials."""
        names = sorted(search_space)
        if self.relative_planner is None or names != self._relative_names:
            # Another search space: trials are configurations of other parameters.
            self._relative_names = names
            self.relative_planner = Planner(ParamEpisodes(search_space), self.decisions,
                                            self.learner, self.rng, self.options)
        return self.relative_planner.plan_in_model(
            self.trials, study.directions, _TrialClaims(study, trial, self.trials),
            _metric_names(study)) or {}

    def decide(self, study: Study, trial: FrozenTrial, name: str,
               distribution: BaseDistribution) -> Any:
        """The value of one decision: the policy's, or the plan's when the trial has one
        (the policy's state then follows the plan)."""
        episode = self.start_trial(study, trial)
        episode.catch_up(trial, self.decisions, self.learner.policy, self.rng)
        decision = self.decisions.decision(name, distribution, trial.params)
        if decision.n == 1:
            return decision.value(0, self.rng)
        if (self.space_planner is not None and episode.plan is None
                and self.decisions.is_space_decision(name, decision)):
            episode.plan = self._plan_space(study, trial)
        chosen = None
        if episode.plan is not None and name in episode.plan and (
                episode.plan[name] in decision.values):  # type: ignore[operator]
            chosen = [decision.index_of(episode.plan[name])]
        episode.state, (index,) = self.learner.policy.act(
            episode.state, episode.layers, [decision.context], self.rng, chosen=chosen)
        episode.order.append(name)
        return decision.value(index, self.rng)

    def end_trial(self, trial: FrozenTrial) -> list[str]:
        """Close the trial's episode; the order of its decisions, for its ``rena:order``
        (empty when this process decided none of them)."""
        episode = self.episodes.pop(trial._trial_id, None)
        if episode is None:
            return []
        episode.catch_up(trial, self.decisions, self.learner.policy, self.rng, advance=False)
        return episode.order

    def use_equal_space(self, space: ArchitectureSpace) -> None:
        """Decide in ``space``, a space equal to this state's (the same
        ``signature_with_budget()``) made anew: its decisions and rewards are the same, so
        what was learnt and planned stays; only the decisions' contexts are read from it."""
        self.decisions.space = space

    def discard_pools(self) -> None:
        """Forget the space's simulated episodes not yet served (drawn with an older seed).
        A define-by-run planner keeps its pool: Optuna reseeds before every trial of a
        study run with ``n_jobs > 1``, and a pool is meant to serve many trials."""
        if self.space_planner is not None:
            self.space_planner.discard_pools()

    def _plan_space(self, study: Study, trial: FrozenTrial) -> dict[str, Any] | None:
        """A planned child of the space: from the world model once it has data, else
        from the policy alone; ``None`` when plans are off. A plan is published on the
        trial at once."""
        planner = self.space_planner
        assert planner is not None
        claims = _TrialClaims(study, trial, self.trials)
        plan = None
        if self.options.world_model:
            plan = planner.plan_in_model(self.trials, study.directions, claims,
                                         _metric_names(study))
        if plan is None and self.options.avoid_repeats:
            plan = planner.plan_from_policy(child_keys(self.trials), claims)
        return plan


_HOLDING = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
"""The states of trials that hold a configuration (the plan, or the values decided)."""


def _metric_names(study: Study) -> list[str] | None:
    """The study's metric names with several objectives (they name the counted metric an
    objective is); ``None`` with one, where nothing reads them (a storage read saved)."""
    if len(study.directions) == 1:
        return None
    # Through the class: Hyperband hands samplers a bracket's study, which hides the
    # property but holds the storage it reads.
    return optuna.Study.metric_names.fget(study)  # type: ignore[attr-defined]


class _TrialClaims:
    """A trial's plan in storage (:class:`~.planner.Claims`): published as its
    ``rena:plan`` system attribute, the moment it is made, before the trial stores any
    decision; and the study's other trials that hold a configuration not among
    ``known``, the trials the plan was made from: those running now, and those finished
    since ``known`` was read."""

    def __init__(self, study: Study, trial: FrozenTrial,
                 known: Sequence[FrozenTrial]) -> None:
        self._study, self._trial = study, trial
        self._finished = {t._trial_id for t in known if t.state.is_finished()}
        self._finished.add(trial._trial_id)

    def others(self) -> list[FrozenTrial]:
        study = self._study
        # Without WAITING: an enqueued trial holds no configuration before it starts.
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False,
                                               states=_HOLDING)
        return [t for t in trials if t._trial_id not in self._finished]

    def publish(self, params: dict[str, Any]) -> None:
        if params:
            self._study._storage.set_trial_system_attr(self._trial._trial_id, PLAN_KEY,
                                                       params)
