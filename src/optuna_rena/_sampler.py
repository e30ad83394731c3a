"""RenaSampler: RENA's reinforcement-learning controller as an Optuna sampler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import functools
import math
import threading
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch

from optuna_rena._constraints import _mirror
from optuna_rena._constraints import trial_violations
from optuna_rena._constraints import violations_of
from optuna_rena._policy import Context
from optuna_rena._policy import RenaPolicy
from optuna_rena._policy import State
from optuna_rena._policy import Step
from optuna_rena._reward import is_feasible
from optuna_rena._reward import Outcome
from optuna_rena._reward import penalty
from optuna_rena._reward import rewards
from optuna_rena._spec import NetworkSpec


if TYPE_CHECKING:
    from optuna.study import Study

    from optuna_rena._space import ArchitectureSpace


_ORDER_KEY = "rena:order"
_ANALYTIC_METRICS = ("params", "flops", "macs", "bytes", "compute_intensity")


@dataclass(frozen=True)
class _Decision:
    """A distribution seen as a choice among finitely many options: its values, or bins
    of its range that a value is then drawn from uniformly."""

    context: Context
    distribution: BaseDistribution
    values: tuple[Any, ...] | None  # exact choices; None for bins
    edges: np.ndarray | None = None  # bin edges, in log space for log distributions

    @property
    def n(self) -> int:
        return len(self.context.choice_tokens)

    def value(self, index: int, rng: np.random.RandomState) -> Any:
        if self.values is not None:
            return self.values[index]
        d = self.distribution
        assert self.edges is not None and isinstance(d, (IntDistribution, FloatDistribution))
        x = rng.uniform(self.edges[index], self.edges[index + 1])
        if d.log:
            x = math.exp(x)
        if d.step is not None:
            x = d.low + round((x - d.low) / d.step) * d.step
        x = min(max(x, d.low), d.high)
        return int(round(x)) if isinstance(d, IntDistribution) else float(x)

    def index_of(self, value: Any) -> int:
        if self.values is not None:
            if isinstance(self.distribution, CategoricalDistribution):
                return self.distribution.to_internal_repr(value)  # type: ignore[return-value]
            return min(range(self.n), key=lambda i: abs(self.values[i] - value))  # type: ignore[index]
        assert self.edges is not None
        x = math.log(value) if self.distribution.log else float(value)  # type: ignore[attr-defined]
        return int(np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.n - 1))

    def step(self, chosen: int) -> Step:
        return Step(self.context, chosen)


@dataclass
class _Record:
    """A finished trial as the policy learns from it."""

    number: int
    steps: list[Step]
    outcome: Outcome


@dataclass
class _Episode:
    """A running trial: the controller's state, the decisions so far, and the plan of the
    space's decisions when one was drawn."""

    layers: torch.Tensor
    state: State
    order: list[str] = field(default_factory=list)
    plan: dict[str, Any] | None = None


@dataclass
class _Simulated:
    """An episode decided by the policy without a trial: its child network's JSON as a
    key, and whether the child meets the analytic constraints."""

    steps: list[Step]
    params: dict[str, Any]
    child: NetworkSpec
    violations: dict[str, float]

    @functools.cached_property
    def key(self) -> str:
        return self.child.to_json()

    @property
    def feasible(self) -> bool:
        return is_feasible(self.violations)


class RenaSampler(BaseSampler):
    """Sampler for resource-constrained architecture search with RENA's policy network.

    RENA ("Resource-Efficient Neural Architect", Zhou et al. 2018) trains a policy network
    by reinforcement learning to edit a baseline network. Here each trial is one episode:

    1. The objective calls :meth:`ArchitectureSpace.suggest`, which asks the trial for each
       scale, remove and insert decision; Optuna calls :meth:`sample_independent` for each
       decision, in order (not for fixed or enqueued parameters, nor single choices).
    2. The policy (:class:`~optuna_rena._policy.RenaPolicy`) embeds the baseline: lookup
       embeddings of each layer's hyperparameters, summed into a layer vector, and a
       bidirectional LSTM across the layers. An autoregressive LSTM takes each decision
       conditioned on the embedding of the layer it is about and on the previous decisions.
    3. When the trial finishes, its reward is ``R = P * prod_j p ** max(0, v_j)``: ``P`` the
       objective (accuracy), ``v_j`` the normalised violations that ``trial.set_constraint``
       recorded, whoever set them. Every ``batch_size`` finished trials, the policy takes one
       REINFORCE step with a moving-average baseline and an entropy bonus (Adam, gradient
       norm clipped to 1, advantages divided by the standard deviation of the rewards so
       far, which makes the step size independent of the objective's scale).

    The policy is rebuilt from storage: a new or restarted process, or another worker,
    learns from every finished trial it has not learnt from yet, in trial-number order,
    including trials of other workers and of other samplers (each trial's decision order
    is stored in its ``rena:order`` system attribute). Batches follow the order in which a
    process sees trials finish, so two processes may hold slightly different policies; each
    has learnt from the same trials.

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
    finished trials that the trial equals or beats (see :mod:`optuna_rena._reward`).

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
        batch_size: Finished trials per policy update.
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
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        penalty_base: float = 0.9,
        penalty_tightening: bool = True,
        batch_size: int = 8,
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
    ) -> None:
        _check_number("penalty_base", penalty_base, 0.0, 1.0, low_open=True)
        _check_number("learning_rate", learning_rate, 0.0, math.inf, low_open=True)
        _check_number("entropy_weight", entropy_weight, 0.0, math.inf)
        _check_number("baseline_decay", baseline_decay, 0.0, 1.0, high_open=True)
        _check_number("pretrain_target", pretrain_target, 0.0, 1.0, low_open=True)
        for name, value, low in (("batch_size", batch_size, 1), ("elite_size", elite_size, 0),
                                 ("pretrain_episodes", pretrain_episodes, 0),
                                 ("n_bins", n_bins, 2), ("plan_candidates", plan_candidates, 1),
                                 ("embedding_dim", embedding_dim, 1),
                                 ("hidden_size", hidden_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        for name, flag in (("penalty_tightening", penalty_tightening),
                           ("avoid_repeats", avoid_repeats),
                           ("prefer_feasible", prefer_feasible)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                 or not 0 <= seed < 2**32):
            raise ValueError(f"seed must be an integer in [0, 2**32) or None, got {seed!r}.")
        self._seed = seed
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
        self._dims = (embedding_dim, hidden_size)
        self._rng = np.random.RandomState(seed)
        self._lock = threading.RLock()
        self._space: ArchitectureSpace | None = None
        self._study_key: tuple[int, int] | None = None
        self._reset_learning()

    @classmethod
    def paper(cls, **kwargs: Any) -> RenaSampler:
        """RENA as published: soft penalty with a fixed ``p``, plain REINFORCE with a
        moving-average baseline; no pre-training, no tightening, no elite replay."""
        settings: dict[str, Any] = dict(penalty_tightening=False, elite_size=0,
                                        pretrain_episodes=0, avoid_repeats=False,
                                        prefer_feasible=False)
        settings.update(kwargs)
        return cls(**settings)

    # ----- learning state -----

    def _reset_learning(self) -> None:
        """A fresh policy: seeded weights, nothing learnt."""
        seed = self._seed if self._seed is not None else int(self._rng.randint(2**31))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._policy = RenaPolicy(*self._dims)
        self._optimizer = torch.optim.Adam(self._policy.parameters(), lr=self.learning_rate)
        self._baseline: float | None = None
        self._seen: set[int] = set()
        self._pending: list[_Record] = []
        self._history: list[_Record] = []
        self._episodes: dict[int, _Episode] = {}
        self._pools: dict[float, list[_Simulated]] = {}
        self._served: set[str] = set()
        self._encoded: torch.Tensor | None = None
        self._layer_tokens: list[list[str]] = (
            self._space.layer_tokens() if self._space is not None else [])
        self.n_updates = 0
        self.learned_trials: list[int] = []
        self.pretrain_stats: dict[str, float] = {}
        self._pretrained = False

    def _attach_space(self, space: ArchitectureSpace) -> None:
        """Called by :meth:`ArchitectureSpace.suggest` before its first decision."""
        with self._lock:
            current = self._space
            if current is space:
                return
            if current is not None and current.signature() == space.signature():
                self._space = space  # the same space, remade by this process
                return
            self._space = space
            # Decisions learnt without this space's context would mean something else now.
            self._reset_learning()

    def reseed_rng(self) -> None:
        """Reseed the sampling RNG; what the policy learnt is kept."""
        with self._lock:
            self._rng.seed()

    # ----- Optuna's sampler interface -----

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._lock:
            episode = self._episode(study, trial)
            decision = self._decision(param_name, param_distribution, trial.params)
            if decision.n == 1:
                return decision.value(0, self._rng)
            if (self._space is not None and self.avoid_repeats and episode.plan is None
                    and decision.values is not None
                    and self._space.context(param_name, decision.values, {}) is not None):
                episode.plan = self._plan(study)
            if episode.plan is not None and param_name in episode.plan and (
                    episode.plan[param_name] in decision.values):
                chosen = decision.index_of(episode.plan[param_name])
                with torch.no_grad():
                    _, choices, state = self._policy.scores(episode.state, episode.layers,
                                                            [decision.context])
                episode.state = self._policy.advance(state, choices, torch.tensor([chosen]))
            else:
                episode.state, chosen = self._choose(episode.state, episode.layers, decision)
            episode.order.append(param_name)
            return decision.value(chosen, self._rng)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            episode = self._episodes.pop(trial._trial_id, None)
        # The trial is still running here, so its system attributes can be written.
        if episode is not None and episode.order:
            study._storage.set_trial_system_attr(trial._trial_id, _ORDER_KEY, episode.order)
        _mirror(study._storage, trial._trial_id)

    # ----- decisions -----

    def _layers(self) -> torch.Tensor:
        """The baseline's layer encodings under the current policy (no gradient)."""
        if self._encoded is None:
            with torch.no_grad():
                self._encoded = self._policy.encode(self._layer_tokens)
        return self._encoded

    def _choose(self, state: State, layers: torch.Tensor,
                decision: _Decision) -> tuple[State, int]:
        """Sample one decision from the policy; the state after it and the index taken."""
        with torch.no_grad():
            logits, choices, state = self._policy.scores(state, layers, [decision.context])
            probs = torch.softmax(logits.double(), dim=1).numpy()
            chosen = _sample_rows(probs, self._rng)[0]
            return self._policy.advance(state, choices, torch.tensor([chosen])), chosen

    def _episode(self, study: Study, trial: FrozenTrial) -> _Episode:
        key = (id(study._storage), study._study_id)
        if self._study_key != key:
            if self._study_key is not None:
                self._reset_learning()  # another study: its trials, not this one's
            self._study_key = key
        episode = self._episodes.get(trial._trial_id)
        if episode is None:
            if self._space is not None and not self._pretrained:
                self._pretrain()
            self._sync(study)
            episode = _Episode(self._layers(), self._policy.initial_state())
            self._episodes[trial._trial_id] = episode
        return episode

    def _decision(self, name: str, distribution: BaseDistribution | tuple[Any, ...],
                  params: dict[str, Any]) -> _Decision:
        """The decision for a distribution, or for a tuple of categorical choices."""
        if isinstance(distribution, tuple):
            distribution = _categorical(distribution)
        if isinstance(distribution, CategoricalDistribution):
            choices = tuple(distribution.choices)
            context = self._space.context(name, choices, params) if self._space else None
            if context is None:
                context = _generic_context(name, tuple(f"{name}={c!r}" for c in choices))
            return _Decision(context, distribution, choices)
        assert isinstance(distribution, (IntDistribution, FloatDistribution))
        d = distribution
        if d.step is not None and (d.high - d.low) / d.step + 1 <= self.n_bins + 1e-9:
            count = int(round((d.high - d.low) / d.step)) + 1
            grid = tuple(d.low + i * d.step for i in range(count))
            values = tuple(int(v) for v in grid) if isinstance(d, IntDistribution) else tuple(
                float(min(v, d.high)) for v in grid)
            return _Decision(_generic_context(name, tuple(f"{name}={v!r}" for v in values)),
                             d, values)
        low, high = (math.log(d.low), math.log(d.high)) if d.log else (d.low, d.high)
        if isinstance(d, IntDistribution) and not d.log:
            # Integer bins cover [low - step/2, high + step/2] so each value gets its share.
            low, high = low - d.step / 2, high + d.step / 2
        edges = np.linspace(low, high, self.n_bins + 1)
        tokens = tuple(f"{name}#{k}/{self.n_bins}" for k in range(self.n_bins))
        return _Decision(_generic_context(name, tokens), d, None, edges)

    def _steps_of(self, trial: FrozenTrial) -> list[Step]:
        """Replay a finished trial's decisions, in the order they were taken."""
        order = trial.system_attrs.get(_ORDER_KEY) or list(trial.distributions)
        steps: list[Step] = []
        params: dict[str, Any] = {}
        for name in order:
            if name not in trial.params or name not in trial.distributions:
                continue
            decision = self._decision(name, trial.distributions[name], params)
            params[name] = trial.params[name]
            if decision.n > 1:
                steps.append(decision.step(decision.index_of(trial.params[name])))
        return steps

    # ----- learning -----

    def _sync(self, study: Study) -> None:
        """Learn from every finished trial not yet learnt from, in batches."""
        trials = _all_trials(study)
        retried = {t.system_attrs.get("failed_trial") for t in trials}
        finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        for t in sorted(trials, key=lambda t: t.number):
            if t.number in self._seen or t.state not in finished:
                continue
            self._seen.add(t.number)
            outcome = _outcome(t, retried, len(study.directions))
            steps = self._steps_of(t) if outcome is not None else []
            if steps:
                self._pending.append(_Record(t.number, steps, outcome))
        while len(self._pending) >= self.batch_size:
            batch = self._pending[:self.batch_size]
            self._pending = self._pending[self.batch_size:]
            self._update(batch, study.directions)

    def _effective_p(self, records: Sequence[_Record]) -> float:
        if not self.penalty_tightening:
            return self.penalty_base
        n_feasible = sum(1 for r in records
                         if r.outcome.values is not None and is_feasible(r.outcome.violations))
        return self.penalty_base ** (1 + min(n_feasible, 20))

    def _update(self, batch: list[_Record], directions: Sequence[Any]) -> None:
        everything = self._history + batch
        p = self._effective_p(everything)
        all_rewards = rewards([r.outcome for r in everything], directions, p)
        batch_rewards = all_rewards[len(self._history):]
        if self._baseline is None:
            self._baseline = float(batch_rewards.mean())
        scale = float(all_rewards.std()) + 1e-8
        advantages = (batch_rewards - self._baseline) / scale
        self._baseline = (self.baseline_decay * self._baseline
                          + (1 - self.baseline_decay) * float(batch_rewards.mean()))
        terms = [(r, float(a), False) for r, a in zip(batch, advantages)]
        if self.elite_size:
            best = np.argsort(-all_rewards, kind="stable")[:self.elite_size]
            terms += [(everything[i], float(max(0.0, (all_rewards[i] - self._baseline) / scale)),
                       True) for i in best]
        self._step([t[0].steps for t in terms], [t[1] for t in terms],
                   [0.0 if t[2] else self.entropy_weight for t in terms], len(batch))
        self._history.extend(batch)
        self.n_updates += 1
        self.learned_trials.extend(r.number for r in batch)

    def _step(self, episodes: list[list[Step]], advantages: Sequence[float],
              entropy_weights: Sequence[float], denominator: int) -> None:
        """One policy-gradient step: ascend ``advantage * log_prob + weight * entropy``."""
        log_prob, entropy = self._policy.evaluate(self._layer_tokens, episodes)
        objective = (torch.tensor(advantages, dtype=torch.float32) * log_prob
                     + torch.tensor(entropy_weights, dtype=torch.float32) * entropy)
        self._optimizer.zero_grad()
        (-objective.sum() / denominator).backward()
        torch.nn.utils.clip_grad_norm_(self._policy.parameters(), 1.0)
        self._optimizer.step()
        self._pools.clear()  # simulated with the old policy
        self._encoded = None

    def _simulate(self, n: int, temperature: float = 1.0) -> list[_Simulated]:
        """``n`` episodes of the space decided by the policy without trials, run in
        lockstep so that each step scores all episodes at once; a ``temperature`` above 1
        flattens the policy."""
        assert self._space is not None
        layers = self._layers()
        h, c, previous = self._policy.initial_state(n)
        runs = [self._space.decisions() for _ in range(n)]
        steps: list[list[Step]] = [[] for _ in range(n)]
        params: list[dict[str, Any]] = [{} for _ in range(n)]
        done: list[NetworkSpec | None] = [None] * n
        asked: list[tuple[str, tuple[Any, ...]] | None] = [next(run) for run in runs]

        def answer(b: int, value: Any) -> None:
            name = asked[b][0]  # type: ignore[index]
            params[b][name] = value
            try:
                asked[b] = runs[b].send(value)
            except StopIteration as stop:
                asked[b], done[b] = None, stop.value[0]

        while True:
            pending: list[tuple[int, _Decision]] = []
            for b in range(n):
                while asked[b] is not None:
                    name, choices = asked[b]  # type: ignore[misc]
                    decision = self._decision(name, choices, params[b])
                    if decision.n > 1:
                        pending.append((b, decision))
                        break
                    answer(b, choices[0])
            if not pending:
                break
            rows = torch.tensor([b for b, _ in pending])
            with torch.no_grad():
                logits, choices_emb, (h_t, c_t, _) = self._policy.scores(
                    (h[rows], c[rows], previous[rows]), layers, [d.context for _, d in pending])
                probs = torch.softmax(logits.double() / temperature, dim=1).numpy()
            chosen = _sample_rows(probs, self._rng)
            h, c = h.index_copy(0, rows, h_t), c.index_copy(0, rows, c_t)
            previous = previous.index_copy(
                0, rows, choices_emb[torch.arange(len(pending)), torch.tensor(chosen)])
            for (b, decision), k in zip(pending, chosen):
                steps[b].append(decision.step(k))
                answer(b, decision.values[k])  # type: ignore[index]
        space = self._space
        analytic = [c for c in space.constraints if c.metric in _ANALYTIC_METRICS]
        return [_Simulated(st, pa, ch, violations_of(  # type: ignore[arg-type]
                    analytic, space.resource_model.count(ch).as_dict()))  # type: ignore[arg-type]
                for st, pa, ch in zip(steps, params, done)]

    def _plan(self, study: Study) -> dict[str, Any]:
        """The space's decisions for a new trial: an episode simulated from the policy
        whose child network no trial has had yet (finished or running, in any worker),
        preferring one that meets the analytic constraints (parameters, FLOPs, bytes,
        compute intensity), which are known before any training.

        Episodes are simulated ``plan_candidates`` at a time and kept in a pool until the
        policy changes, so the cost is shared by the trials between two updates. When a
        pool holds nothing new, a pool from the flattened policy (temperature 2, then 4)
        is tried; failing that, the policy's own choice is repeated.
        """
        seen = {t.user_attrs.get("child_spec")
                for t in _all_trials(study)} | self._served
        for temperature in (1.0, 2.0, 4.0):
            if temperature not in self._pools:
                self._pools[temperature] = self._simulate(self.plan_candidates, temperature)
            pool = self._pools[temperature]
            novel = [c for c in pool if c.key not in seen]
            if novel:
                chosen = next((c for c in novel if c.feasible), novel[0]) if (
                    self.prefer_feasible) else novel[0]
                pool.remove(chosen)
                self._served.add(chosen.key)
                return chosen.params
        return self._simulate(1)[0].params

    def _pretrain(self) -> None:
        """Train on the resource penalty alone, on simulated episodes, before any trial."""
        self._pretrained = True
        assert self._space is not None
        if self.pretrain_episodes == 0 or not any(
                c.metric in _ANALYTIC_METRICS for c in self._space.constraints):
            return
        batch = 32
        episodes = 0
        feasible_rate = 0.0
        while episodes < self.pretrain_episodes:
            simulated = self._simulate(batch)
            episodes += batch
            violations = [s.violations for s in simulated]
            feasible_rate = float(np.mean([is_feasible(v) for v in violations]))
            if feasible_rate >= self.pretrain_target:
                break
            r = np.array([penalty(v, self.penalty_base) for v in violations])
            advantages = (r - r.mean()) / (r.std() + 1e-8)
            self._step([s.steps for s in simulated], advantages.tolist(),
                       [self.entropy_weight] * batch, batch)
        self.pretrain_stats = {"episodes": episodes, "feasible_rate": feasible_rate}


@functools.lru_cache(maxsize=4096)
def _categorical(choices: tuple[Any, ...]) -> CategoricalDistribution:
    return CategoricalDistribution(choices)


def _all_trials(study: Study) -> list[FrozenTrial]:
    """Every trial of the study, from storage: pruners such as Hyperband hand the sampler
    a study filtered to one bracket, and the policy learns from all of them."""
    return study._storage.get_all_trials(study._study_id, deepcopy=False)


def _sample_rows(probs: np.ndarray, rng: np.random.RandomState) -> list[int]:
    """One index per row of ``probs``, by inverse CDF: one uniform draw per row."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random_sample(len(probs)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1).tolist()


def _generic_context(name: str, tokens: tuple[str, ...]) -> Context:
    """A parameter that is not an architecture decision: keyed by its name, about no layer."""
    return Context(None, f"param={name}", tokens, (None,) * len(tokens))


def _outcome(trial: FrozenTrial, retried: set[Any], n_objectives: int) -> Outcome | None:
    """What a finished trial teaches; ``None`` for nothing (see :mod:`optuna_rena._reward`)."""
    violations = trial_violations(trial)
    if trial.state == TrialState.FAIL:
        return None if trial.number in retried else Outcome(None, violations)
    if trial.state == TrialState.PRUNED:
        if not trial.intermediate_values or n_objectives > 1:
            return None
        values: tuple[float, ...] = (trial.intermediate_values[max(trial.intermediate_values)],)
    else:
        values = tuple(trial.values)
    if not all(math.isfinite(v) for v in values):
        return Outcome(None, violations)
    return Outcome(values, violations)


def _check_number(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
                  high_open: bool = False) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
