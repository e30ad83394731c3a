"""Planning a trial's configuration before the trial decides anything.

* **Lockstep simulation.** Episodes are decided by the policy without any trial, many at
  once: each step scores all episodes that wait on a decision in one batched call. An
  episode comes from a generator (a space's decisions, or a search space's parameters), so
  each can follow its own path (an insertion's type depends on its position).
* **Planning in the world model.** Once the world model has data, a trial takes the best
  candidate by the acquisition (:mod:`.acqf`): candidates are the policy's
  episodes, local moves around the best trials, and a short hill-climb on the acquisition
  from the best of those. The policy then takes a step on its own episodes, rewarded by
  the acquisition every few plans (Dyna: it keeps learning between trials).
* **No-repeat planning.** Without a world model, a trial takes the first simulated child
  that no trial has had (finished or running, in any worker), preferring one that meets
  the analytic constraints (parameters, FLOPs, bytes, compute intensity).
* **Pre-training.** Before the first trial, the policy learns the resource penalty alone
  on simulated episodes, until enough of a batch is feasible; a budget that no child of
  the space meets is said then, once, and not pre-trained for.

Either way, no configuration is evaluated twice while new ones exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any
from typing import Protocol
from typing import TYPE_CHECKING
import warnings

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
import torch

from optuna_rena._constraints import is_feasible
from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.candidates import Episode
from optuna_rena._sampler.decisions import Decision
from optuna_rena._sampler.decisions import DecisionMaker
from optuna_rena._sampler.encoding import ConfigurationEncoder
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.history import TrialHistory
from optuna_rena._sampler.learner import advantages
from optuna_rena._sampler.learner import Learner
from optuna_rena._sampler.options import PLANS_PER_DREAM
from optuna_rena._sampler.options import RenaOptions
from optuna_rena._sampler.policy import Step
from optuna_rena._sampler.reward import penalty
from optuna_rena._sampler.thread_limiting import one_blas_thread
from optuna_rena._sampler.world_model import WorldModel
from optuna_rena._space import UnreachableBudgetWarning


if TYPE_CHECKING:
    from optuna_rena._space import ArchitectureSpace


class Claims(Protocol):
    """How a trial claims its plan against the other trials (other workers', other
    threads'): see :meth:`Planner.claim`."""

    def others(self) -> Sequence[FrozenTrial]:
        """The other trials that may hold a configuration this trial has not read, read
        from storage now: those running, and those finished since this trial read the
        study (a worker's whole trial can start and end while another plans)."""

    def publish(self, params: dict[str, Any]) -> None:
        """Write ``params`` on the trial as its plan, where the others read it."""


class EpisodeSource(Protocol):
    """What the policy decides over (see :mod:`.candidates`)."""

    @property
    def space(self) -> ArchitectureSpace | None:
        """The space whose decisions an episode takes; ``None`` for a search space of
        parameters."""

    def episode(self) -> Episode: ...

    def candidate(self, params: dict[str, Any], result: Any) -> Candidate: ...

    def trial_candidate(self, trial: FrozenTrial) -> Candidate | None: ...

    def neighbours(self, candidate: Candidate,
                   rng: np.random.RandomState) -> list[Candidate]: ...


@dataclass
class Simulated:
    """An episode decided by the policy without a trial, and the candidate it gives."""

    steps: list[Step]
    candidate: Candidate

    @property
    def key(self) -> str:
        return self.candidate.key

    @property
    def feasible(self) -> bool:
        return self.candidate.feasible


_TEMPERATURES = (1.0, 2.0, 4.0)
_UNIFORM = math.inf
"""A uniform pool, tried when the policy's pools hold nothing new and nothing within the
exact budget: a policy pushed onto the least infeasible child must not make every trial
train that child again. (When the budget's few children are all used up, the policy's
own choice is repeated, as before.)"""
_FRONTIER = 1
"""Candidates that the hill-climb moves from in each round. Two cost a third more scoring
and gave the same NAS-Bench-201 regrets over 30 seeds."""
_ELITES = 2
"""The best trials whose neighbours are candidates of every plan."""
_FRONT_ELITES = 4
"""With several objectives, the trials of the feasible front whose neighbours are
candidates of every plan: a front has many best trials, each good for another trade-off."""
MAX_OBJECTIVES = 3
"""Most objectives the world model plans for: its hypervolume improvement sums over up
to ``(front + 1) ** (objectives - 1)`` boxes, a few thousand for three objectives and a
front of 50, but 185 000 for four (seconds per scoring, gigabytes per batch). Beyond, the
policy plans alone (a warning says so once)."""
_WIDER_POOLS = 2
"""Pools simulated at each temperature when searching wider for children within budget."""
_WIDER_WAIT = 8
"""Plans without a wider search after one found nothing new within the budget."""
_CLAIMS = 8
"""Choices a trial makes before it keeps a plan that clashes. A clash drops every
configuration the other trials hold, so each further one is a plan that another trial
published in the moment between two reads, and eight in a row do not happen. (Dropping
only the clashing one let a long plan on a busy machine meet a trial that ran meanwhile
at each try, and keep the eighth: 2 repeats in 600 trials at 8 workers.)"""
_PRETRAIN_BATCH = 32
"""Simulated episodes per pre-training step."""
_PRETRAIN_PATIENCE = 8
"""Pre-training batches without progress before it stops."""
_PRETRAIN_PROGRESS = 1e-3
"""A relative rise of the batch's mean penalty that counts as progress."""
_PRETRAIN_MIN_DISTINCT = 0.25
"""The share of distinct children below which a batch has collapsed onto a few."""


class Planner:
    """Simulates episodes from the learner's policy and plans trials.

    It holds what planning learns from: the study's trials as observations of this
    source's configurations (:class:`~.history.TrialHistory`) and the world model fitted
    to them.

    Args:
        source: What an episode decides over.
        decisions: Turns choices and distributions into decisions.
        learner: Holds the policy; its ``version`` tells when simulations are stale.
        rng: The sampler's random state.
        options: The sampler's options.
    """

    def __init__(self, source: EpisodeSource, decisions: DecisionMaker, learner: Learner,
                 rng: np.random.RandomState, options: RenaOptions) -> None:
        self.source, self.decisions, self.learner = source, decisions, learner
        self.rng = rng
        self.options = options
        space = source.space
        self.history = TrialHistory(
            ConfigurationEncoder(space), source.trial_candidate,
            {c.name for c in space.analytic_constraints} if space is not None else set())
        self.model = WorldModel()
        self._warned_objectives = False
        self._temperatures = _TEMPERATURES if options.policy_proposals else (_UNIFORM,)
        self._pools: dict[float, list[Simulated]] = {}
        self._pools_version = -1
        self._served: set[str] = set()
        self._plans_since_dream = 0
        self._wider_wait = 0
        self._feasible_found: dict[str, Candidate] = {}

    # ----- episodes without a trial -----

    def simulate(self, n: int, temperature: float = 1.0) -> list[Simulated]:
        """``n`` episodes decided by the policy, in lockstep; a ``temperature`` above 1
        flattens the policy."""
        policy = self.learner.policy
        layers = self.learner.layers()
        h, c, previous = policy.initial_state(n)
        runs = [self.source.episode() for _ in range(n)]
        steps: list[list[Step]] = [[] for _ in range(n)]
        params: list[dict[str, Any]] = [{} for _ in range(n)]
        done: list[Any] = [None] * n
        asked: list[tuple[str, Any] | None] = [next(run) for run in runs]

        def answer(b: int, value: Any) -> None:
            name = asked[b][0]  # type: ignore[index]
            params[b][name] = value
            try:
                asked[b] = runs[b].send(value)
            except StopIteration as stop:
                asked[b], done[b] = None, stop.value

        while True:
            pending: list[tuple[int, Decision]] = []
            for b in range(n):
                while asked[b] is not None:
                    name, choices = asked[b]  # type: ignore[misc]
                    decision = self.decisions.decision(name, choices, params[b])
                    if decision.n > 1:
                        pending.append((b, decision))
                        break
                    answer(b, decision.value(0, self.rng))
            if not pending:
                break
            rows = torch.tensor([b for b, _ in pending])
            (h_t, c_t, previous_t), chosen = policy.act(
                (h[rows], c[rows], previous[rows]), layers, [d.context for _, d in pending],
                self.rng, temperature)
            h, c = h.index_copy(0, rows, h_t), c.index_copy(0, rows, c_t)
            previous = previous.index_copy(0, rows, previous_t)
            for (b, decision), k in zip(pending, chosen):
                steps[b].append(Step(decision.context, k))
                answer(b, decision.value(k, self.rng))
        return [Simulated(st, self.source.candidate(pa, result))
                for st, pa, result in zip(steps, params, done)]

    def discard_pools(self) -> None:
        """Forget the simulated episodes not yet served."""
        self._pools.clear()

    def _pool(self, temperature: float) -> list[Simulated]:
        """The pool of simulated episodes at ``temperature``, simulated afresh once the
        policy has changed: the cost of a pool is shared by the trials between two
        updates."""
        if self._pools_version != self.learner.version:
            self.discard_pools()
            self._pools_version = self.learner.version
        if temperature not in self._pools:
            self._pools[temperature] = self.simulate(self.options.plan_candidates, temperature)
        return self._pools[temperature]

    # ----- before the first trial -----

    def start_study(self) -> dict[str, float]:
        """Once per study, before its first trial: warn of each budget that no child of
        the space meets, and pre-train the policy on the penalty when there are budgets
        known before training and all are within reach.

        Returns:
            The pre-training's figures (see :meth:`pretrain`); empty when it did not run.
        """
        space = self.source.space
        assert space is not None
        unreachable = space.unreachable()
        for problem in unreachable:
            # Said once, before any trial is spent on a budget out of reach.
            warnings.warn(problem, UnreachableBudgetWarning, stacklevel=2)
        # Pre-training on a penalty that no child can bring to 1 would only collapse the
        # policy onto the least infeasible child.
        if not self.options.pretrain_episodes or unreachable or not (
                space.has_analytic_constraints):
            return {}
        return self.pretrain(self.options.pretrain_episodes, self.options.pretrain_target)

    def pretrain(self, episodes: int, target: float) -> dict[str, float]:
        """Train the policy on the resource penalty alone, on simulated episodes, until
        ``target`` of a batch meets the analytic constraints or ``episodes`` ran.

        It stops early when it makes no progress: while nothing is feasible, when the
        batch's mean penalty has not improved for ``_PRETRAIN_PATIENCE`` batches, or when
        a batch has collapsed onto a few children. Pushing on would only shrink the policy
        onto the least infeasible child, and every trial would then train it.

        Returns:
            The episodes run, the feasible fraction of the last batch, and whether it
            stopped for want of progress (1.0) or not (0.0).
        """
        batch = _PRETRAIN_BATCH
        run = 0
        feasible_rate = 0.0
        best, since_best = -math.inf, 0
        while run < episodes:
            simulated = self.simulate(batch)
            run += batch
            violations = [s.candidate.violations for s in simulated]
            feasible_rate = float(np.mean([is_feasible(v) for v in violations]))
            if feasible_rate >= target:
                break
            r = np.array([penalty(v, self.options.penalty_base) for v in violations])
            if feasible_rate == 0.0:
                progress = r.mean() > best * (1 + _PRETRAIN_PROGRESS)
                since_best = 0 if progress else since_best + 1
                best = max(best, float(r.mean()))
                distinct = len({s.key for s in simulated})
                if since_best >= _PRETRAIN_PATIENCE or distinct < _PRETRAIN_MIN_DISTINCT * batch:
                    return {"episodes": run, "feasible_rate": feasible_rate, "stalled": 1.0}
            self.learner.reinforce_step(
                [s.steps for s in simulated], advantages(r, r.mean(), r.std()).tolist(),
                [self.options.entropy_weight] * batch, batch)
        return {"episodes": run, "feasible_rate": feasible_rate, "stalled": 0.0}

    # ----- a trial's plan -----

    def _plan_policy(self, seen: set[str]) -> Simulated:
        seen = seen | self._served
        for temperature in self._temperatures:
            pool = self._pool(temperature)
            novel = [s for s in pool if s.key not in seen]
            if novel:
                chosen = next((s for s in novel if s.feasible), novel[0]) if (
                    self.options.prefer_feasible) else novel[0]
                pool.remove(chosen)
                self._served.add(chosen.key)
                return chosen
        if any(s.feasible for pool in self._pools.values() for s in pool):
            return self.simulate(1, self._temperatures[0])[0]
        uniform = [s for s in self.simulate(self.options.plan_candidates, _UNIFORM)
                   if s.key not in seen]
        if uniform:
            self._served.add(uniform[0].key)
            return uniform[0]
        return self.simulate(1, self._temperatures[0])[0]

    def plan_in_model(self, trials: Sequence[FrozenTrial],
                      directions: Sequence[StudyDirection], claims: Claims,
                      metric_names: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The best new candidate by the world model, claimed (:meth:`claim`), once
        ``model_startup_trials`` trials are complete; ``None`` before, and with more than
        ``MAX_OBJECTIVES`` objectives. ``metric_names`` are the study's (see
        :meth:`.history.TrialHistory.update`)."""
        if len(directions) > MAX_OBJECTIVES:
            if not self._warned_objectives:
                self._warned_objectives = True
                warnings.warn(f"RenaSampler's world model plans for at most {MAX_OBJECTIVES} "
                              f"objectives; this study has {len(directions)}, so the policy "
                              "plans alone.", stacklevel=2)
            return None
        with one_blas_thread():
            self.history.update(trials, directions, metric_names)
            if self.history.n_complete < self.options.model_startup_trials:
                return None
            pending = self.history.pending()
            self.model.fit(self.history.observations(),
                           self._encode(pending) if pending else None,
                           tuple(self.history.exact_objectives))
            return self._plan_with_fitted_model(claims)

    def held_keys(self, trials: Sequence[FrozenTrial]) -> set[str]:
        """The keys of what ``trials`` evaluate or evaluated: their configurations, or
        the plans that running ones published before deciding anything."""
        keys = set()
        for trial in trials:
            candidate = self.source.trial_candidate(trial)
            if candidate is not None:
                keys.add(candidate.key)
        return keys

    def claim(self, candidate: Candidate, claims: Claims) -> set[str]:
        """Publish ``candidate`` as the trial's plan, then read the other trials again
        (:meth:`Claims.others`): the keys they hold. When ``candidate``'s is among them,
        another trial holds it too, and this trial must choose again, without any of
        them (a long plan on a busy machine can meet many).

        Whoever sees the clash yields. Of two trials that chose alike, the one that
        published second reads after both wrote, sees the clash and yields, so no two
        running trials keep one plan (on a storage whose reads see every write that
        finished before them, as a journal file's and a database's do); nor does a
        trial keep what a trial that ran while it planned evaluated. When both see
        the clash, both choose again, each without the other's."""
        claims.publish(candidate.params)
        return self.held_keys(claims.others())

    def plan_from_policy(self, seen: set[str], claims: Claims) -> dict[str, Any]:
        """A configuration for a new trial from the policy alone: a simulated episode
        whose key is not in ``seen`` (the study's trials) nor served to another trial.

        Episodes are simulated ``plan_candidates`` at a time and kept in a pool until the
        policy changes, so the cost is shared by the trials between two updates. When a
        pool holds nothing new, a pool from the flattened policy (temperature 2, then 4)
        is tried; failing that, a uniform pool when none of those pools holds a child
        within the exact budget (its first new child is taken), else the policy's own
        choice is repeated. What other trials hold (:meth:`Claims.others`) is not
        planned, and the plan is claimed (:meth:`claim`).
        """
        seen = seen | self.held_keys(claims.others())
        for _ in range(_CLAIMS):
            chosen = self._plan_policy(seen)
            held = self.claim(chosen.candidate, claims)
            if chosen.key not in held:
                break
            seen = seen | held
        return chosen.candidate.params

    def _plan_with_fitted_model(self, claims: Claims) -> dict[str, Any]:
        """The best new candidate by the fitted world model's acquisition: the policy's
        episodes and the best trials' neighbours are scored, the best climbs the
        acquisition through its neighbours, and the best of all that meets the exact
        budget and that no other trial holds is taken (searching wider when none
        does) and claimed. Every few plans the policy takes a step on its own episodes
        (Dyna)."""
        seen = self.history.seen() | self._served
        simulated = self._pool(self._temperatures[0])
        pool = self._new_candidates(simulated, seen)
        scores = self._scores(list(pool.values()))
        self._hill_climb(pool, scores, seen)
        self._dream_now_and_then(simulated)
        # What other workers chose, or even ran to the end, since this trial read the
        # study.
        seen = self._drop(self.held_keys(claims.others()), seen, scores)
        for _ in range(_CLAIMS):
            chosen = self._best_within_budget(pool, scores, seen)
            if chosen is None:
                candidate = self._plan_policy(seen).candidate
            else:
                candidate = pool[chosen]
                self._served.add(chosen)
            held = self.claim(candidate, claims)
            if candidate.key not in held:
                break
            seen = self._drop(held, seen, scores)
        return candidate.params

    @staticmethod
    def _drop(keys: set[str], seen: set[str], scores: dict[str, float]) -> set[str]:
        """``seen`` with ``keys``, which no longer compete for the choice."""
        for key in keys - seen:
            scores.pop(key, None)
        return seen | keys

    def _new_candidates(self, simulated: Sequence[Simulated],
                        seen: set[str]) -> dict[str, Candidate]:
        """The policy's episodes and the best trials' neighbours that are new, by key."""
        pool: dict[str, Candidate] = {}
        for c in [s.candidate for s in simulated] + [
                n for e in self.history.elites(self._elites)
                for n in self.source.neighbours(e, self.rng)]:
            if c.key not in seen:
                pool.setdefault(c.key, c)
        return pool

    def _hill_climb(self, pool: dict[str, Candidate], scores: dict[str, float],
                    seen: set[str]) -> None:
        """``local_steps`` rounds from the best ``_FRONTIER`` candidates: each round scores
        all their new neighbours, and moves on from those that beat the best so far."""
        frontier = sorted(scores, key=scores.__getitem__, reverse=True)[:_FRONTIER]
        for _ in range(self.options.local_steps):
            moves = {n.key: n for key in frontier
                     for n in self.source.neighbours(pool[key], self.rng)
                     if n.key not in seen and n.key not in scores}
            if not moves:
                break
            pool.update(moves)
            scores.update(self._scores(list(moves.values())))
            frontier = [k for k in sorted(scores, key=scores.__getitem__,
                                          reverse=True)[:_FRONTIER] if k in moves]
            if not frontier:
                break  # no move beat the best so far

    def _dream_now_and_then(self, simulated: Sequence[Simulated]) -> None:
        """Every ``PLANS_PER_DREAM`` plans, one policy-gradient step on the pool's episodes,
        rewarded by the world model's acquisition (ranks, so its scale does not matter)."""
        self._plans_since_dream += 1
        if (self.options.dyna_weight == 0 or self._plans_since_dream < PLANS_PER_DREAM
                or not self.options.policy_proposals):
            # Uniform episodes would be an off-policy gradient, and nothing reads the
            # policy's proposals then.
            return
        self._plans_since_dream = 0
        episodes = [s for s in simulated if s.steps]
        if len(episodes) < 2:
            return
        values = self._acquisition([s.candidate for s in episodes])
        ranks = np.argsort(np.argsort(values)).astype(float)
        self.learner.reinforce_step(
            [s.steps for s in episodes],
            advantages(ranks, ranks.mean(), ranks.std(), self.options.dyna_weight).tolist(),
            [self.options.entropy_weight] * len(episodes), len(episodes))
        # The pool stays: its episodes are still good candidates, and a fresh one comes
        # with the next update from real trials. Simulating again after every imagined
        # step doubled the policy's share of a trial's cost.
        self._pools_version = self.learner.version

    def _best_within_budget(self, pool: dict[str, Candidate], scores: dict[str, float],
                            seen: set[str]) -> str | None:
        """The best-scored key that meets the exact budget; when none does, the best of a
        wider search with the flattened policy, else the best that breaks it; ``None``
        when nothing was new."""
        chosen = max(scores, key=scores.__getitem__, default=None)
        if chosen is not None and pool[chosen].feasible:
            return chosen
        wider = self._feasible_episodes(seen) if self._wider_wait == 0 else []
        self._wider_wait = max(0, self._wider_wait - 1)
        if not wider:
            return chosen
        scores.update(self._scores(wider))
        pool.update({c.key: c for c in wider})
        return max((c.key for c in wider), key=scores.__getitem__)

    def _feasible_episodes(self, seen: set[str]) -> list[Candidate]:
        """New candidates that meet the exact budget: those found by earlier searches and
        not yet taken, else those of up to ``_WIDER_POOLS`` pools at each temperature (the
        first temperature that finds some wins). A small budget's children are rare, so
        every one found is kept for later plans."""
        kept = {k: c for k, c in self._feasible_found.items() if k not in seen}
        self._feasible_found = kept
        if kept:
            return list(kept.values())
        for temperature in self._temperatures:
            for _ in range(_WIDER_POOLS):
                simulated = self.simulate(self.options.plan_candidates, temperature)
                kept.update({s.key: s.candidate for s in simulated
                             if s.feasible and s.key not in seen})
                if kept:
                    return list(kept.values())
        # The budget's new children look used up: wait before searching this wide again.
        self._wider_wait = _WIDER_WAIT
        return []

    def _scores(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        if not candidates:
            return {}
        values = self._acquisition(candidates)
        return {c.key: float(v) for c, v in zip(candidates, values)}

    def _acquisition(self, candidates: Sequence[Candidate]) -> np.ndarray:
        return self.model.acquisition(self._encode(candidates),
                                      [c.violations for c in candidates],
                                      self.history.exact_values(candidates))

    @property
    def _elites(self) -> int:
        return _FRONT_ELITES if self.history.n_objectives > 1 else _ELITES

    def _encode(self, candidates: Sequence[Candidate]) -> Features:
        return self.history.encoder.encode_candidates(candidates)
