"""RenaSampler: RENA's reinforcement-learning controller as an Optuna sampler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import math
import threading
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
import optuna
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
from optuna_rena._policy import RenaPolicy
from optuna_rena._policy import Step
from optuna_rena._reward import is_feasible
from optuna_rena._reward import Outcome
from optuna_rena._reward import penalty
from optuna_rena._reward import rewards


if TYPE_CHECKING:
    from optuna.study import Study

    from optuna_rena._space import ArchitectureSpace


_ORDER_KEY = "rena:order"
_ANALYTIC_METRICS = ("params", "flops", "macs", "bytes", "compute_intensity")


@dataclass(frozen=True)
class _Decision:
    """A distribution seen as a choice among finitely many options: its values, or bins
    of its range that a value is then drawn from uniformly."""

    layer: int | None
    key: str
    choice_tokens: tuple[str, ...]
    choice_layers: tuple[int | None, ...]
    distribution: BaseDistribution
    values: tuple[Any, ...] | None  # exact choices; None for bins
    edges: np.ndarray | None = None  # bin edges, in log space for log distributions

    @property
    def n(self) -> int:
        return len(self.choice_tokens)

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
        return Step(self.layer, self.key, self.choice_tokens, self.choice_layers, chosen)


@dataclass
class _Record:
    """A finished trial as the policy learns from it."""

    number: int
    steps: list[Step]
    outcome: Outcome


@dataclass
class _Episode:
    """A running trial: the controller's state and the decisions so far."""

    layers: torch.Tensor
    state: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    order: list[str] = field(default_factory=list)
    synced: bool = False


class RenaSampler(BaseSampler):
    """Sampler for resource-constrained architecture search with RENA's policy network.

    RENA ("Resource-Efficient Neural Architect", Zhou et al. 2018) trains a policy network
    by reinforcement learning to edit a baseline network. Here each trial is one episode:

    1. The objective calls :meth:`ArchitectureSpace.suggest`, which asks the trial for each
       scale, remove and insert decision; Optuna calls :meth:`sample_independent` once per
       decision, in order.
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

    The policy is a function of the study's finished trials, so it is rebuilt from storage:
    a new or restarted process, or another worker, replays every finished trial it has not
    learnt from, in trial-number order, including trials of other workers and of other
    samplers. Each trial's decision order is stored in its ``rena:order`` system attribute.

    Beyond the paper, three options, all on by default, make the search sample-efficient;
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
        learning_rate: float = 0.005,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
        elite_size: int = 4,
        pretrain_episodes: int = 2048,
        pretrain_target: float = 0.5,
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
                                 ("n_bins", n_bins, 2), ("embedding_dim", embedding_dim, 1),
                                 ("hidden_size", hidden_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if not isinstance(penalty_tightening, bool):
            raise ValueError(f"penalty_tightening must be True or False, got "
                             f"{penalty_tightening!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer or None, got {seed!r}.")
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
        self.n_bins = n_bins
        self._dims = (embedding_dim, hidden_size)
        self._rng = np.random.RandomState(seed)
        self._lock = threading.RLock()
        self._space: ArchitectureSpace | None = None
        self._reset_learning()

    @classmethod
    def paper(cls, **kwargs: Any) -> RenaSampler:
        """RENA as published: soft penalty with a fixed ``p``, plain REINFORCE with a
        moving-average baseline; no pre-training, no tightening, no elite replay."""
        settings: dict[str, Any] = dict(penalty_tightening=False, elite_size=0,
                                        pretrain_episodes=0)
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
            if current is not None and (current.baseline, current.constraints) == (
                    space.baseline, space.constraints):
                self._space = space  # the same space, remade by this process
                return
            self._space = space
            # Decisions learnt without the space's context would mean something else now.
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
            with torch.no_grad():
                logits, state = self._policy.step(
                    episode.state, episode.layers, decision.layer, decision.key,
                    decision.choice_tokens, decision.choice_layers)
                probs = torch.softmax(logits.double(), dim=0).numpy()
            chosen = int(self._rng.choice(decision.n, p=probs / probs.sum()))
            episode.state = self._policy.advance(state, chosen)
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

    def _episode(self, study: Study, trial: FrozenTrial) -> _Episode:
        episode = self._episodes.get(trial._trial_id)
        if episode is None:
            if self._space is not None and not self._pretrained:
                self._pretrain()
            self._sync(study)
            with torch.no_grad():
                layers = self._policy.encode(self._layer_tokens)
            episode = _Episode(layers, self._policy.initial_state())
            self._episodes[trial._trial_id] = episode
        return episode

    def _decision(self, name: str, distribution: BaseDistribution,
                  params: dict[str, Any]) -> _Decision:
        if isinstance(distribution, CategoricalDistribution):
            choices = tuple(distribution.choices)
            context = self._space.context(name, choices, params) if self._space else None
            if context is not None:
                return _Decision(context.layer, context.key, context.choice_tokens,
                                 context.choice_layers, distribution, choices)
            return _Decision(None, f"param={name}", tuple(f"{name}={c!r}" for c in choices),
                             (None,) * len(choices), distribution, choices)
        assert isinstance(distribution, (IntDistribution, FloatDistribution))
        d = distribution
        if d.step is not None and (d.high - d.low) / d.step + 1 <= self.n_bins + 1e-9:
            count = int(round((d.high - d.low) / d.step)) + 1
            grid = tuple(d.low + i * d.step for i in range(count))
            values = tuple(int(v) for v in grid) if isinstance(d, IntDistribution) else tuple(
                float(min(v, d.high)) for v in grid)
            return _Decision(None, f"param={name}", tuple(f"{name}={v!r}" for v in values),
                             (None,) * len(values), d, values)
        low, high = (math.log(d.low), math.log(d.high)) if d.log else (d.low, d.high)
        if isinstance(d, IntDistribution) and not d.log:
            # Integer bins cover [low - step/2, high + step/2] so each value gets its share.
            low, high = low - d.step / 2, high + d.step / 2
        edges = np.linspace(low, high, self.n_bins + 1)
        tokens = tuple(f"{name}#{k}/{self.n_bins}" for k in range(self.n_bins))
        return _Decision(None, f"param={name}", tokens, (None,) * self.n_bins, d, None, edges)

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
        trials = study._get_trials(deepcopy=False, use_cache=True)
        retried = {t.system_attrs.get("failed_trial") for t in trials}
        finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        for t in sorted(trials, key=lambda t: t.number):
            if t.number in self._seen or t.state not in finished:
                continue
            self._seen.add(t.number)
            outcome = _outcome(t, retried, len(study.directions))
            if outcome is None:
                continue
            steps = self._steps_of(t)
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
        self._optimizer.zero_grad()
        loss = torch.zeros(())
        for record, advantage, elite in terms:
            log_prob, entropy = self._policy.evaluate(self._layer_tokens, record.steps)
            loss = loss - advantage * log_prob
            if not elite:
                loss = loss - self.entropy_weight * entropy
        (loss / len(batch)).backward()
        _clip_gradients(self._policy)
        self._optimizer.step()
        self._history.extend(batch)
        self.n_updates += 1
        self.learned_trials.extend(r.number for r in batch)

    def _simulate(self) -> tuple[list[Step], dict[str, float]]:
        """One episode decided by the policy without a trial; its constraint violations."""
        assert self._space is not None
        space = self._space
        with torch.no_grad():
            layers = self._policy.encode(self._layer_tokens)
        state = self._policy.initial_state()
        steps: list[Step] = []
        params: dict[str, Any] = {}

        def choose(name: str, choices: tuple[Any, ...]) -> Any:
            nonlocal state
            decision = self._decision(name, CategoricalDistribution(choices), params)
            chosen = 0
            if decision.n > 1:
                with torch.no_grad():
                    logits, state = self._policy.step(
                        state, layers, decision.layer, decision.key,
                        decision.choice_tokens, decision.choice_layers)
                    probs = torch.softmax(logits.double(), dim=0).numpy()
                chosen = int(self._rng.choice(decision.n, p=probs / probs.sum()))
                state = self._policy.advance(state, chosen)
                steps.append(decision.step(chosen))
            params[name] = choices[chosen]
            return choices[chosen]

        child, _ = space._decide(choose)
        metrics = space.resource_model.count(child).as_dict()
        analytic = [c for c in space.constraints if c.metric in _ANALYTIC_METRICS]
        return steps, violations_of(analytic, metrics)

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
            simulated = [self._simulate() for _ in range(batch)]
            episodes += batch
            feasible_rate = float(np.mean([is_feasible(v) for _, v in simulated]))
            if feasible_rate >= self.pretrain_target:
                break
            r = np.array([penalty(v, self.penalty_base) for _, v in simulated])
            advantages = (r - r.mean()) / (r.std() + 1e-8)
            self._optimizer.zero_grad()
            loss = torch.zeros(())
            for (steps, _), advantage in zip(simulated, advantages):
                log_prob, entropy = self._policy.evaluate(self._layer_tokens, steps)
                loss = loss - float(advantage) * log_prob - self.entropy_weight * entropy
            (loss / batch).backward()
            _clip_gradients(self._policy)
            self._optimizer.step()
        self.pretrain_stats = {"episodes": episodes, "feasible_rate": feasible_rate}


def _clip_gradients(module: torch.nn.Module) -> None:
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)


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
