"""RenaSampler: RENA's reinforcement-learning controller as an Optuna sampler."""

from __future__ import annotations

from collections.abc import Sequence
import numbers
import threading
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._sampler.decisions import ORDER_KEY
from optuna_rena._sampler.options import PLANS_PER_DREAM
from optuna_rena._sampler.options import RenaOptions
from optuna_rena._sampler.study_state import StudyState
from optuna_rena._sampler.thread_limiting import one_blas_thread
from optuna_rena._sampler.thread_limiting import one_torch_thread


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
       far, which makes the step size independent of the objective's scale). A pruned
       trial teaches with a stand-in value (``pruned.py``): the final value at its rank
       among the completed trials at the step where the pruner stopped it.

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
       P(c_j <= 0)`` (``acqf.py``); with several objectives, ``log EHVI + sum_j log
       P(c_j <= 0)``, the expected improvement of the feasible front's hypervolume,
       exact over the boxes the front leaves (``pareto.py``). An objective that a
       space's resource model counts (parameters, FLOPs, ...: equal to the child's
       count in every complete trial, ``study.set_metric_names`` picking among several
       counts that are) is known exactly and not modelled. A candidate that breaks an exact budget ranks
       below all that meet it, and until some trial is feasible the acquisition is the
       probability of feasibility.
    7. Every few plans, the policy takes a REINFORCE step on its own imagined episodes,
       rewarded by the acquisition's ranks (Dyna), so it proposes better candidates
       between real trials. Real trials still train it as in step 3.

    With an :class:`ArchitectureSpace` the plan is made at the space's first decision;
    for a define-by-run objective it is made for Optuna's intersection search space in
    :meth:`sample_relative`, as GPSampler does, and parameters outside it (conditional
    ones) are decided one by one by the policy in :meth:`sample_independent`. The world
    model plans for up to three objectives; with more, the policy plans alone (a warning
    says so). ``world_model=False`` is the policy-only RenaSampler of version 0.1.

    The modules of this package hold the parts: ``options`` (this class's arguments, checked
    once), ``study_state`` (what is known of one study), ``decisions`` (distributions as
    choices), ``policy`` (the ``nn.Module``), ``learner`` (REINFORCE, baseline, elite
    replay), ``planner`` (lockstep simulation, planning, pre-training), ``world_model``
    (one ``gp`` per output), ``acqf`` (the acquisition) with ``pareto`` (fronts),
    ``encoding`` (configurations as features) with ``ranges`` (numeric ranges),
    ``candidates`` (episodes and local moves), ``history`` (the study's trials as
    observations), ``pruned`` (pruned trials' stand-in values) and ``reward``.
    ``RenaSampler`` itself only answers Optuna's sampler interface and the space's hook
    (:class:`~optuna_rena.SpaceAwareSampler`).

    The policy and the world model are rebuilt from storage: a new or restarted process,
    or another worker, learns from every finished trial it has not learnt from yet, in
    trial-number order, including trials of other workers and of other samplers (each
    trial's decision order is stored in its ``rena:order`` system attribute). Batches
    follow the order in which a process sees trials finish, so two processes may hold
    slightly different policies; each has learnt from the same trials. Workers also plan
    around the trials still running: a trial's plan is published on it (its
    ``rena:plan`` system attribute) the moment it is made and claimed against the other
    trials running, and those finished since the study was read, so no worker trains a
    configuration that another runs or has just run, and the world
    model takes running trials as pending points (believed at its posterior mean), so
    workers spread out.

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

    A RenaSampler can be pickled (and deep-copied), as Optuna's FAQ does to resume a
    study: given the study it was pickled with again (``optuna.load_study`` with the
    same study name, in any process), it keeps what it learnt and decides the trials the
    original would have; given another study, it starts afresh.

    Without an :class:`ArchitectureSpace`, RenaSampler is a plain RL sampler for any
    define-by-run objective: each parameter is a decision keyed by its name; integer and
    float ranges are split into ``n_bins`` bins (in log space for log distributions), and
    a value is drawn uniformly within the chosen bin.

    With several objectives, ``P`` rewards the front: ``1 - depth / fronts``, the
    trial's Pareto depth among the finished trials, sorted as NSGA-II sorts them with
    feasible trials first (see :mod:`optuna_rena._sampler.reward`).

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
        policy_proposals: Plans choose among the policy's episodes; ``False`` draws them
            uniformly instead (the policy still learns), which measures what the
            policy adds.
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
        policy_proposals: bool = True,
    ) -> None:
        if batch_size is None:
            # With the world model, an update from real trials as often as an imagined one
            # shares the policy's cost among that many trials; the policy alone keeps
            # version 0.1's 8.
            batch_size = PLANS_PER_DREAM if world_model is True else 8
        self._options = RenaOptions(
            penalty_base=penalty_base, penalty_tightening=penalty_tightening,
            batch_size=batch_size, learning_rate=learning_rate, entropy_weight=entropy_weight,
            baseline_decay=baseline_decay, elite_size=elite_size,
            pretrain_episodes=pretrain_episodes, pretrain_target=pretrain_target,
            avoid_repeats=avoid_repeats, plan_candidates=plan_candidates,
            prefer_feasible=prefer_feasible, n_bins=n_bins, embedding_dim=embedding_dim,
            hidden_size=hidden_size, world_model=world_model,
            model_startup_trials=model_startup_trials, local_steps=local_steps,
            dyna_weight=dyna_weight, policy_proposals=policy_proposals)
        # Any integer type, since a seed drawn with NumPy is a NumPy integer; not a bool.
        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, numbers.Integral)
                                 or not 0 <= seed < 2**32):
            raise ValueError(f"seed must be an integer in [0, 2**32) or None, got {seed!r}.")
        self._seed = None if seed is None else int(seed)
        self._rng = np.random.RandomState(seed)
        self._lock = threading.RLock()
        self._intersection = IntersectionSearchSpace()
        self._intersection_key: tuple[int, int] | None = None
        self._space: ArchitectureSpace | None = None
        self._study_key: tuple[int, int] | None = None
        # The study's name and id, which (unlike the storage object's id in the key) mean
        # the same study in another process: an unpickled sampler resumes its study by them.
        self._study_identity: tuple[str, int] | None = None
        self._state = self._new_state()

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

    # ----- pickling (Optuna's FAQ: pickle a sampler to resume its study) -----

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:  # not halfway through a trial's update
            state = self.__dict__.copy()
        del state["_lock"]  # a lock cannot be pickled, and guards this process only
        # Both keys hold the id of a storage object of this process, which another object
        # may have in the process that unpickles: they are dropped. The study is then
        # recognised by its identity, and the intersection search space is recomputed
        # from the study's trials (Optuna's cache, which gives the same space).
        state["_study_key"] = None
        state["_intersection"] = IntersectionSearchSpace()
        state["_intersection_key"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ----- what was set and what was learnt -----

    @property
    def options(self) -> RenaOptions:
        """The options this sampler was made with (``batch_size``'s default resolved)."""
        return self._options

    @property
    def n_updates(self) -> int:
        """Policy updates from finished trials so far."""
        return self._state.learner.n_updates

    @property
    def learned_trials(self) -> list[int]:
        """Numbers of the trials the policy has learnt from, in the order it learnt them."""
        return list(self._state.learner.learned_trials)

    @property
    def pretrain_stats(self) -> dict[str, float]:
        """The pre-training's figures in this study (see ``pretrain_episodes``): the
        episodes run, the feasible fraction of the last batch, and whether it stopped for
        want of progress (1.0); empty when it did not run."""
        return self._state.pretrain_stats

    def rewards(self) -> dict[int, float]:
        """RENA's reward ``R = P * prod_j p ** max(0, v_j)`` of each trial learnt from, by
        trial number, under the current ``p``; a failed trial's is 0."""
        with self._lock:
            return self._state.learner.rewards()

    def _new_state(self) -> StudyState:
        seed = self._seed if self._seed is not None else int(self._rng.randint(2**31))
        return StudyState(self._options, self._space, seed, self._rng)

    def _study_state(self, study: Study) -> StudyState:
        """The state of ``study``: a fresh one when the sampler moves to another study,
        whose trials mean nothing to what was learnt from this one's."""
        key = _study_key(study)
        if self._study_key != key:
            identity = (study.study_name, study._study_id)
            # A sampler that has met no study (``_study_identity`` is None) keeps its fresh
            # state; so does one unpickled (no key) that meets the study it was pickled with,
            # loaded again from storage (another storage object).
            if self._study_key is not None or self._study_identity not in (None, identity):
                self._state = self._new_state()
            self._study_key, self._study_identity = key, identity
        return self._state

    # ----- the space's hook -----

    def attach_space(self, space: ArchitectureSpace) -> None:
        """Read the space that the study searches (:class:`~optuna_rena.SpaceAwareSampler`).

        :meth:`ArchitectureSpace.suggest` calls this before its first decision. An equal
        space (the same ``signature_with_budget()``), remade by this process or another,
        keeps what was learnt; another space starts learning afresh, since decisions
        learnt in one space mean something else in another.
        """
        with self._lock:
            current = self._space
            if current is space:
                return
            self._space = space
            if current is not None and (
                    current.signature_with_budget() == space.signature_with_budget()):
                self._state.use_equal_space(space)
                return
            self._state = self._new_state()

    def reseed_rng(self) -> None:
        """Reseed the sampling RNG; what the policy learnt is kept."""
        with self._lock:
            self._rng.seed()
            self._state.discard_pools()

    # ----- Optuna's sampler interface -----

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        # A space's decisions are planned at its first decision, with the space's view.
        if not self._options.world_model or self._space is not None:
            return {}
        with self._lock:
            key = _study_key(study)
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
            state = self._study_state(study)
            state.start_trial(study, trial)
            return state.plan_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._lock, one_torch_thread():
            return self._study_state(study).decide(study, trial, param_name,
                                                   param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            order = self._state.end_trial(trial)
        # The trial is still running here, so its system attributes can be written.
        if order:
            study._storage.set_trial_system_attr(trial._trial_id, ORDER_KEY, order)


def _study_key(study: Study) -> tuple[int, int]:
    """Which study: its storage object and its id there."""
    return id(study._storage), study._study_id
