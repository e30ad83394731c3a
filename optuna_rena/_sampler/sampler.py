"""RenaSampler: RENA's reinforcement-learning controller as an Optuna sampler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import math
import numbers
import threading
import warnings
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch

from optuna_rena._metrics import INTERRUPTED_ATTR
from optuna_rena._metrics import stored_child_spec
from optuna_rena._sampler.acquisition import WorldModel
from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.candidates import ParamEpisodes
from optuna_rena._sampler.candidates import SpaceEpisodes
from optuna_rena._sampler.decisions import DecisionMaker
from optuna_rena._sampler.decisions import ORDER_KEY
from optuna_rena._sampler.encoding import ConfigurationEncoder
from optuna_rena._sampler.history import TrialHistory
from optuna_rena._sampler.learner import Learner
from optuna_rena._sampler.learner import LearnerOptions
from optuna_rena._sampler.planner import Planner
from optuna_rena._sampler.policy import one_torch_thread
from optuna_rena._sampler.policy import RenaPolicy
from optuna_rena._sampler.policy import State
from optuna_rena._sampler.world_model import one_blas_thread
from optuna_rena._space import UnreachableBudgetWarning
from optuna_rena._spec import NetworkSpec


if TYPE_CHECKING:
    from optuna.study import Study

    from optuna_rena._space import ArchitectureSpace


class RenaSampler(BaseSampler):
    """Sampler for resource-constrained architecture search with RENA's policy network.

    RENA ("Resource-Efficient Neural Architect", Zhou et al. 2018) trains a policy network
    by reinforcement learning to edit a baseline network. Here each trial is one episode:

    1. The objective calls :meth:`ArchitectureSpace.suggest`, which asks the trial for each
       scale, remove and insert decision; Optuna calls :meth:`sample_independent` for each
       decision, in order (not for fixed or enqueued parameters, nor single choices).
    2. The policy (:class:`~optuna_rena._sampler.policy.RenaPolicy`) embeds the baseline: lookup
       embeddings of each layer's hyperparameters, summed into a layer vector, and a
       bidirectional LSTM across the layers. An autoregressive LSTM takes each decision
       conditioned on the embedding of the layer it is about and on the previous decisions.
    3. When the trial finishes, its reward is ``R = P * prod_j p ** max(0, v_j)``: ``P`` the
       objective (accuracy), ``v_j`` the normalised violations that ``trial.set_constraint``
       recorded, whoever set them. Every ``batch_size`` finished trials, the policy takes one
       REINFORCE step with a moving-average baseline and an entropy bonus (Adam, gradient
       norm clipped to 1, advantages divided by the standard deviation of the rewards so
       far, which makes the step size independent of the objective's scale).

    **Model-based RENA** (``world_model=True``, the default). Each trial's configuration
    is planned before it decides anything, once ``model_startup_trials`` trials are done:

    4. A world model (``world_model.py``) predicts, from the finished trials, the objective
       and each constraint value they recorded, with uncertainty: one Gaussian process per
       output on the configuration's choices (and, with a space, on the child's counted
       structure, from which measured metrics such as latency are forecast); when every
       parameter is categorical, it also learns how much each choice matters. Metrics
       that the resource model counts are never predicted: they are exact.
    5. The policy proposes candidates (a batch of episodes, simulated in lockstep); RENA's
       own local edits around the best trials and a short hill-climb add more; each is
       new (no configuration is evaluated twice while new ones exist).
    6. The trial takes the candidate with the best acquisition, ``log EI + sum_j log
       P(c_j <= 0)`` (``acquisition.py``); a candidate that breaks an exact budget ranks
       below all that meet it, and until some trial is feasible the acquisition is the
       probability of feasibility.
    7. Every few plans, the policy takes a REINFORCE step on its own imagined episodes,
       rewarded by the acquisition's ranks (Dyna), so it proposes better candidates
       between real trials. Real trials still train it as in step 3.

    With an :class:`ArchitectureSpace` the plan is made at the space's first decision;
    for a define-by-run objective it is made for Optuna's intersection search space in
    :meth:`sample_relative`, as GPSampler does, and parameters outside it (conditional
    ones) are decided one by one by the policy in :meth:`sample_independent`. The world
    model serves single-objective studies; with several objectives the policy plans
    alone. ``world_model=False`` is the policy-only RenaSampler of version 0.1.

    The modules of this package hold the parts: ``decisions`` (distributions as choices),
    ``policy`` (the ``nn.Module``), ``learner`` (REINFORCE, baseline, elite replay),
    ``planner`` (lockstep simulation, planning, pre-training), ``world_model`` and
    ``acquisition``, ``encoding`` (configurations as features), ``candidates`` (episodes
    and local moves), ``history`` (the study's trials as observations) and ``reward``.
    ``RenaSampler`` itself only answers Optuna's sampler interface and the space's hook
    (:class:`~optuna_rena.SpaceAwareSampler`).

    The policy and the world model are rebuilt from storage: a new or restarted process,
    or another worker, learns from every finished trial it has not learnt from yet, in
    trial-number order, including trials of other workers and of other samplers (each
    trial's decision order is stored in its ``rena:order`` system attribute). Batches
    follow the order in which a process sees trials finish, so two processes may hold
    slightly different policies; each has learnt from the same trials.

    Beyond the paper, five options, all on by default, make the search sample-efficient;
    ``RenaSampler.paper()`` turns them off:

    * ``pretrain_episodes``: the constraints on parameters, FLOPs, bytes and compute
      intensity are known before any training, so before the first trial the policy is
      trained on simulated episodes whose reward is the penalty alone, until
      ``pretrain_target`` of a batch is feasible.
    * ``penalty_tightening``: the soft penalty trades accuracy against violation. With
      ``p = 0.9``, a slightly infeasible network can out-score every feasible one. Once
      feasible trials appear, ``p`` tightens to ``p ** (1 + min(n_feasible, 20))``, so the
      penalty guides the search while nothing is feasible and then enforces the budget.
    * ``elite_size``: the best trials so far are replayed in every update, with their
      positive advantages only (self-imitation), so good architectures are not forgotten.
    * ``avoid_repeats``: with a space, each trial's decisions are planned at its first
      decision: episodes are simulated from the policy, ``plan_candidates`` at a time and
      in lockstep, and the first whose child network no trial has had (in any worker) is
      taken; when none is new, the policy is flattened (temperature 2, then 4).
    * ``prefer_feasible``: among new candidates, one that meets the constraints on
      parameters, FLOPs, bytes and compute intensity comes first, since those are known
      without training it.

    Without an :class:`ArchitectureSpace`, RenaSampler is a plain RL sampler for any
    define-by-run objective: each parameter is a decision keyed by its name; integer and
    float ranges are split into ``n_bins`` bins (in log space for log distributions), and
    a value is drawn uniformly within the chosen bin.

    With several objectives, ``P`` is the mean over the objectives of the fraction of
    finished trials that the trial equals or beats (see :mod:`optuna_rena._sampler.reward`).

    Example:

        .. code-block:: python

            import optuna
            from optuna_rena import ArchitectureSpace, Constraint, RenaSampler, zoo

            space = ArchitectureSpace(zoo.ds_cnn(), [Constraint("params", max=20_000)])

            def objective(trial):
                child = space.suggest(trial)
                return 1.0 / (1.0 + trial.user_attrs["flops"] / 1e7)  # train `child` here

            study = optuna.create_study(direction="maximize", sampler=RenaSampler(seed=0))
            study.optimize(objective, n_trials=10)

    Args:
        seed: Seed for the policy's initial weights and for sampling.
        penalty_base: ``p`` of the soft penalty, in (0, 1]; 1 ignores constraints.
        penalty_tightening: Tighten ``p`` as feasible trials appear.
        batch_size: Finished trials per policy update; by default 16 with the world model
            (as many as the plans between two imagined updates) and 8 without.
        learning_rate: Adam's learning rate.
        entropy_weight: Weight of the entropy bonus.
        baseline_decay: Decay of the reward's moving-average baseline, in [0, 1).
        elite_size: Best trials replayed in each update; 0 disables.
        pretrain_episodes: Most simulated episodes for pre-training on the resource penalty;
            0 disables.
        pretrain_target: Feasible fraction of a simulated batch that ends pre-training.
        avoid_repeats: Plan each trial to give a child network no trial has had.
        plan_candidates: Episodes simulated at once when planning.
        prefer_feasible: Plan analytically feasible children first.
        n_bins: Bins for integer and float distributions.
        embedding_dim: Size of the policy's embeddings.
        hidden_size: Size of the policy's LSTM states.
        world_model: Plan each trial in the world model (model-based RENA).
        model_startup_trials: Complete trials before the world model plans.
        local_steps: Rounds of hill-climbing on the acquisition; 0 disables.
        dyna_weight: Weight of the policy's steps on imagined episodes; 0 disables.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        penalty_base: float = 0.9,
        penalty_tightening: bool = True,
        batch_size: int | None = None,
        learning_rate: float = 0.01,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
        elite_size: int = 8,
        pretrain_episodes: int = 2048,
        pretrain_target: float = 0.5,
        avoid_repeats: bool = True,
        plan_candidates: int = 32,
        prefer_feasible: bool = True,
        n_bins: int = 16,
        embedding_dim: int = 32,
        hidden_size: int = 64,
        world_model: bool = True,
        model_startup_trials: int = 8,
        local_steps: int = 2,
        dyna_weight: float = 1.0,
    ) -> None:
        _check_number("penalty_base", penalty_base, 0.0, 1.0, low_open=True)
        _check_number("learning_rate", learning_rate, 0.0, math.inf, low_open=True)
        _check_number("entropy_weight", entropy_weight, 0.0, math.inf)
        _check_number("baseline_decay", baseline_decay, 0.0, 1.0, high_open=True)
        _check_number("pretrain_target", pretrain_target, 0.0, 1.0, low_open=True)
        _check_number("dyna_weight", dyna_weight, 0.0, math.inf)
        if batch_size is None:
            # The world model's imagined updates come every 16 plans, and an update from
            # real trials as often shares the policy's cost among 16 trials; the policy
            # alone keeps version 0.1's 8.
            batch_size = 16 if world_model is True else 8
        for name, value, low in (("batch_size", batch_size, 1), ("elite_size", elite_size, 0),
                                 ("pretrain_episodes", pretrain_episodes, 0),
                                 ("n_bins", n_bins, 2), ("plan_candidates", plan_candidates, 1),
                                 ("embedding_dim", embedding_dim, 1),
                                 ("hidden_size", hidden_size, 1),
                                 ("model_startup_trials", model_startup_trials, 1),
                                 ("local_steps", local_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        for name, flag in (("penalty_tightening", penalty_tightening),
                           ("avoid_repeats", avoid_repeats),
                           ("prefer_feasible", prefer_feasible),
                           ("world_model", world_model)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}.")
        # Any integer type, since a seed drawn with NumPy is a NumPy integer; not a bool.
        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, numbers.Integral)
                                 or not 0 <= seed < 2**32):
            raise ValueError(f"seed must be an integer in [0, 2**32) or None, got {seed!r}.")
        self._seed = None if seed is None else int(seed)
        self._learner_options = LearnerOptions(
            batch_size=batch_size, learning_rate=float(learning_rate),
            entropy_weight=float(entropy_weight), baseline_decay=float(baseline_decay),
            elite_size=elite_size, penalty_base=float(penalty_base),
            penalty_tightening=penalty_tightening)
        self.penalty_base = float(penalty_base)
        self.penalty_tightening = penalty_tightening
        self.batch_size = batch_size
        self.learning_rate = float(learning_rate)
        self.entropy_weight = float(entropy_weight)
        self.baseline_decay = float(baseline_decay)
        self.elite_size = elite_size
        self.pretrain_episodes = pretrain_episodes
        self.pretrain_target = float(pretrain_target)
        self.avoid_repeats = avoid_repeats
        self.plan_candidates = plan_candidates
        self.prefer_feasible = prefer_feasible
        self.n_bins = n_bins
        self.world_model = world_model
        self.model_startup_trials = model_startup_trials
        self.local_steps = local_steps
        self.dyna_weight = float(dyna_weight)
        self._dims = (embedding_dim, hidden_size)
        self._intersection = IntersectionSearchSpace()
        self._intersection_key: tuple[int, int] | None = None
        self._rng = np.random.RandomState(seed)
        self._lock = threading.RLock()
        self._space: ArchitectureSpace | None = None
        self._study_key: tuple[int, int] | None = None
        self._reset_learning()

    @classmethod
    def paper(cls, **kwargs: Any) -> RenaSampler:
        """RENA as published: soft penalty with a fixed ``p``, plain REINFORCE with a
        moving-average baseline; no pre-training, no tightening, no elite replay, no
        planning."""
        settings: dict[str, Any] = dict(penalty_tightening=False, elite_size=0,
                                        pretrain_episodes=0, avoid_repeats=False,
                                        prefer_feasible=False, world_model=False)
        settings.update(kwargs)
        return cls(**settings)

    # ----- what was learnt -----

    @property
    def n_updates(self) -> int:
        """Policy updates from finished trials so far."""
        return self._learner.n_updates

    @property
    def learned_trials(self) -> list[int]:
        """Numbers of the trials the policy has learnt from, in the order it learnt them."""
        return list(self._learner.learned_trials)

    def rewards(self) -> dict[int, float]:
        """RENA's reward ``R = P * prod_j p ** max(0, v_j)`` of each trial learnt from, by
        trial number, under the current ``p``; a failed trial's is 0."""
        with self._lock:
            return self._learner.rewards()

    def _reset_learning(self) -> None:
        """A fresh policy: seeded weights, nothing learnt."""
        seed = self._seed if self._seed is not None else int(self._rng.randint(2**31))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            policy = RenaPolicy(*self._dims)
        space = self._space
        self._decisions = DecisionMaker(space, self.n_bins)
        self._learner = Learner(policy, space.layer_tokens() if space is not None else [],
                                self._learner_options)
        self._planner = None if space is None else Planner(
            SpaceEpisodes(space), self._decisions, self._learner, self._rng,
            self.plan_candidates, self.prefer_feasible)
        self._model = WorldModel()
        self._history = TrialHistory(
            ConfigurationEncoder(space), self._space_candidate if space is not None else (
                self._param_candidate),
            {c.name for c in space.analytic_constraints} if space is not None else set())
        self._relative_names: tuple[str, ...] = ()
        self._relative_planner: Planner | None = None
        self._episodes: dict[int, _Episode] = {}
        self._trials: list[FrozenTrial] = []
        self._pretrained = False
        self.pretrain_stats: dict[str, float] = {}

    # ----- the space's hook -----

    def attach_space(self, space: ArchitectureSpace) -> None:
        """Read the space that the study searches (:class:`~optuna_rena.SpaceAwareSampler`).

        :meth:`ArchitectureSpace.suggest` calls this before its first decision. An equal
        space (the same signature), remade by this process or another, keeps what was
        learnt; another space starts learning afresh, since decisions learnt in one space
        mean something else in another.
        """
        with self._lock:
            current = self._space
            if current is space:
                return
            self._space = space
            if current is not None and current.signature_with_budget() == space.signature_with_budget():
                self._decisions.space = space
                return
            self._reset_learning()

    def reseed_rng(self) -> None:
        """Reseed the sampling RNG; what the policy learnt is kept."""
        with self._lock:
            self._rng.seed()
            if self._planner is not None:
                self._planner.discard_pools()  # drawn with the old seed

    # ----- Optuna's sampler interface -----

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        # A space's decisions are planned at its first decision, with the space's view.
        if not self.world_model or self._space is not None or study._is_multi_objective():
            return {}
        with self._lock:
            key = (id(study._storage), study._study_id)
            if self._intersection_key != key:  # Optuna's cache serves one study
                self._intersection, self._intersection_key = IntersectionSearchSpace(), key
            return {name: d for name, d in self._intersection.calculate(study).items()
                    if not d.single()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        with self._lock, one_torch_thread(), one_blas_thread():
            self._episode(study, trial)
            names = tuple(sorted(search_space))
            if names != self._relative_names or self._relative_planner is None:
                # Another search space: trials are configurations of other parameters.
                self._relative_names = names
                self._relative_planner = Planner(
                    ParamEpisodes(search_space), self._decisions, self._learner, self._rng,
                    self.plan_candidates, self.prefer_feasible)
                self._model = WorldModel()
                self._history = TrialHistory(ConfigurationEncoder(None), self._param_candidate,
                                             set())
            self._history.update(self._trials, study.direction)
            if self._history.n_complete < self.model_startup_trials:
                return {}
            return self._plan_with_model(self._relative_planner)

    def _plan_with_model(self, planner: Planner) -> dict[str, Any]:
        """Fit the world model to the history and plan the best new candidate."""
        self._model.fit(self._history.observations())
        return planner.plan_with_model(
            self._model, self._history.encoder.encode_candidates, self._history.seen(),
            self._history.elites(2), local_steps=self.local_steps,
            dyna_weight=self.dyna_weight)

    def _space_candidate(self, trial: FrozenTrial) -> Candidate | None:
        assert self._space is not None
        spec = stored_child_spec(trial)
        if spec is None or self._planner is None:
            return None
        source = self._planner.source
        params = {k: v for k, v in trial.params.items()
                  if self._space.context(k, (v,), trial.params) is not None}
        return source.candidate(params, NetworkSpec.from_json(spec))

    def _param_candidate(self, trial: FrozenTrial) -> Candidate | None:
        params = {k: trial.params[k] for k in self._relative_names if k in trial.params}
        if len(params) < len(self._relative_names) or not params:
            return None
        return ParamEpisodes({}).candidate(params)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._lock, one_torch_thread():
            episode = self._episode(study, trial)
            self._catch_up(episode, trial)
            decision = self._decisions.decision(param_name, param_distribution, trial.params)
            if decision.n == 1:
                return decision.value(0, self._rng)
            if (self._planner is not None and episode.plan is None
                    and self._decisions.is_space_decision(param_name, decision)):
                episode.plan = self._plan_space(study)
            chosen = None
            if episode.plan is not None and param_name in episode.plan and (
                    episode.plan[param_name] in decision.values):  # type: ignore[operator]
                chosen = [decision.index_of(episode.plan[param_name])]
            episode.state, (index,) = self._learner.policy.act(
                episode.state, episode.layers, [decision.context], self._rng, chosen=chosen)
            episode.order.append(param_name)
            return decision.value(index, self._rng)

    def _catch_up(self, episode: _Episode, trial: FrozenTrial, advance: bool = True) -> None:
        """Take into the episode the parameters that the trial holds but the policy did not
        decide (enqueued, fixed or planned ones), in the order they were suggested: the
        stored order then replays every decision, and the controller's state has seen
        them all, as it has when it learns from the trial."""
        for name, value in trial.params.items():
            if name in episode.order or name not in trial.distributions:
                continue
            if advance:
                params = {k: trial.params[k] for k in episode.order}
                decision = self._decisions.decision(name, trial.distributions[name], params)
                if decision.n > 1:
                    episode.state, _ = self._learner.policy.act(
                        episode.state, episode.layers, [decision.context], self._rng,
                        chosen=[decision.index_of(value)])
            episode.order.append(name)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            episode = self._episodes.pop(trial._trial_id, None)
            if episode is not None:
                self._catch_up(episode, trial, advance=False)  # the episode has ended
        # The trial is still running here, so its system attributes can be written.
        if episode is not None and episode.order:
            study._storage.set_trial_system_attr(trial._trial_id, ORDER_KEY, episode.order)

    def _plan_space(self, study: Study) -> dict[str, Any] | None:
        """A planned child of the space: from the world model once it has data, else
        from the policy alone; ``None`` when plans are off."""
        assert self._planner is not None
        if self.world_model and not study._is_multi_objective():
            self._history.update(self._trials, study.direction)
            if self._history.n_complete >= self.model_startup_trials:
                with one_blas_thread():
                    return self._plan_with_model(self._planner)
        if self.avoid_repeats:
            return self._planner.plan(_child_specs(self._trials))
        return None

    def _episode(self, study: Study, trial: FrozenTrial) -> _Episode:
        """The running trial's episode; at a trial's first decision, learn first."""
        key = (id(study._storage), study._study_id)
        if self._study_key != key:
            if self._study_key is not None:
                self._reset_learning()  # another study: its trials, not this one's
            self._study_key = key
        episode = self._episodes.get(trial._trial_id)
        if episode is None:
            if self._planner is not None and not self._pretrained:
                self._pretrained = True
                assert self._space is not None
                unreachable = self._space.unreachable()
                for problem in unreachable:
                    # Said once, before any trial is spent on a budget out of reach.
                    warnings.warn(problem + "; loosen it or widen the space.",
                                  UnreachableBudgetWarning, stacklevel=2)
                # Pre-training on a penalty that no child can bring to 1 would only
                # collapse the policy onto the least infeasible child.
                if self.pretrain_episodes and not unreachable and (
                        self._space.has_analytic_constraints):
                    self.pretrain_stats = self._planner.pretrain(
                        self.pretrain_episodes, self.pretrain_target, self.penalty_base,
                        self.entropy_weight)
            # Read once per trial; the learner and the planner share what was read.
            self._trials = _all_trials(study)
            self._learner.learn(self._trials, study.directions, self._decisions)
            episode = _Episode(self._learner.layers(), self._learner.policy.initial_state())
            self._episodes[trial._trial_id] = episode
        return episode


@dataclass
class _Episode:
    """A running trial: the controller's state, the decisions so far, and the plan of the
    space's decisions when one was drawn."""

    layers: torch.Tensor
    state: State
    order: list[str] = field(default_factory=list)
    plan: dict[str, Any] | None = None


def _all_trials(study: Study) -> list[FrozenTrial]:
    """Every trial of the study, from storage: pruners such as Hyperband hand the sampler
    a study filtered to one bracket, and the policy learns from all of them."""
    return study._storage.get_all_trials(study._study_id, deepcopy=False)


def _child_specs(trials: Sequence[FrozenTrial]) -> set[str]:
    """The child networks of the trials, finished or running, as JSON; not those of
    trials that Ctrl-C stopped, which said nothing about their child."""
    return {stored_child_spec(t) for t in trials
            if not t.system_attrs.get(INTERRUPTED_ATTR)} - {None}


def _check_number(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
                  high_open: bool = False) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
