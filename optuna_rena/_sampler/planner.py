"""Planning a trial's configuration before the trial decides anything.

* **Lockstep simulation.** Episodes are decided by the policy without any trial, many at
  once: each step scores all episodes that wait on a decision in one batched call. An
  episode comes from a generator (a space's decisions, or a search space's parameters), so
  each can follow its own path (an insertion's type depends on its position).
* **Planning in the world model.** Once the world model has data, a trial takes the best
  candidate by the acquisition (:mod:`.acquisition`): candidates are the policy's
  episodes, local moves around the best trials, and a short hill-climb on the acquisition
  from the best of those. The policy then takes a step on its own episodes, rewarded by
  the acquisition every few plans (Dyna: it keeps learning between trials).
* **No-repeat planning.** Without a world model, a trial takes the first simulated child
  that no trial has had (finished or running, in any worker), preferring one that meets
  the analytic constraints (parameters, FLOPs, bytes, compute intensity).
* **Pre-training.** Before the first trial, the policy learns the resource penalty alone
  on simulated episodes, until enough of a batch is feasible.

Either way, no configuration is evaluated twice while new ones exist.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any
from typing import Protocol

import numpy as np
import torch

from optuna_rena._constraints import is_feasible
from optuna_rena._sampler.acquisition import WorldModel
from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.candidates import Episode
from optuna_rena._sampler.decisions import Decision
from optuna_rena._sampler.decisions import DecisionMaker
from optuna_rena._sampler.learner import Learner
from optuna_rena._sampler.policy import Step
from optuna_rena._sampler.reward import penalty
from optuna_rena._sampler.world_model import Features


class EpisodeSource(Protocol):
    """What the policy decides over (see :mod:`.candidates`)."""

    def episode(self) -> Episode: ...

    def candidate(self, params: dict[str, Any], result: Any) -> Candidate: ...

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
        """Whether it meets the constraints known without training."""
        return is_feasible(self.candidate.violations)


Encode = Callable[[Sequence[Candidate]], Features]


class Planner:
    """Simulates episodes from the learner's policy and plans trials.

    Args:
        source: What an episode decides over.
        decisions: Turns choices and distributions into decisions.
        learner: Holds the policy; its ``version`` tells when simulations are stale.
        rng: The sampler's random state.
        candidates: Episodes simulated at once when planning.
        prefer_feasible: Plan analytically feasible children first (without a model).
    """

    _TEMPERATURES = (1.0, 2.0, 4.0)
    _LAST_RESORT = math.inf
    """A uniform pool, tried when the policy's pools hold nothing new and nothing within
    the exact budget: a policy pushed onto the least infeasible child must not make every
    trial train that child again. (When the budget's few children are all used up, the
    policy's own choice is repeated, as before.)"""
    dream_every = 16
    """Plans between two imagined updates: as many as the trials of an update from real
    ones at the default ``batch_size``, so that the policy's cost is shared by 16 trials."""
    frontier = 1
    """Candidates that the hill-climb moves from in each round. Two cost a third more
    scoring and gave the same NAS-Bench-201 regrets over 30 seeds."""

    def __init__(self, source: EpisodeSource, decisions: DecisionMaker, learner: Learner,
                 rng: np.random.RandomState, candidates: int, prefer_feasible: bool) -> None:
        self.source, self.decisions, self.learner = source, decisions, learner
        self.rng = rng
        self.candidates, self.prefer_feasible = candidates, prefer_feasible
        self._pools: dict[float, list[Simulated]] = {}
        self._pools_version = -1
        self._served: set[str] = set()
        self._plans_since_dream = 0
        self._wider_wait = 0
        self._feasible_found: dict[str, Candidate] = {}

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

    def plan(self, seen: set[str]) -> dict[str, Any]:
        """A configuration for a new trial from the policy alone: a simulated episode
        whose key is not in ``seen`` (the study's trials) nor served to another trial.

        Episodes are simulated ``candidates`` at a time and kept in a pool until the
        policy changes, so the cost is shared by the trials between two updates. When a
        pool holds nothing new, a pool from the flattened policy (temperature 2, then 4)
        is tried; failing that, a uniform pool when none of those pools holds a child
        within the exact budget (its first new child is taken), else the policy's own
        choice is repeated.
        """
        return self._plan_policy(seen).candidate.params

    def _plan_policy(self, seen: set[str]) -> Simulated:
        if self._pools_version != self.learner.version:
            self.discard_pools()  # simulated with an older policy
            self._pools_version = self.learner.version
        seen = seen | self._served
        for temperature in self._TEMPERATURES:
            if temperature not in self._pools:
                self._pools[temperature] = self.simulate(self.candidates, temperature)
            pool = self._pools[temperature]
            novel = [s for s in pool if s.key not in seen]
            if novel:
                chosen = next((s for s in novel if s.feasible), novel[0]) if (
                    self.prefer_feasible) else novel[0]
                pool.remove(chosen)
                self._served.add(chosen.key)
                return chosen
        if any(s.feasible for pool in self._pools.values() for s in pool):
            return self.simulate(1)[0]
        uniform = [s for s in self.simulate(self.candidates, self._LAST_RESORT)
                   if s.key not in seen]
        if uniform:
            self._served.add(uniform[0].key)
            return uniform[0]
        return self.simulate(1)[0]

    def plan_with_model(self, model: WorldModel, encode: Encode, seen: set[str],
                        elites: Sequence[Candidate], *, local_steps: int = 2,
                        dyna_weight: float = 1.0) -> dict[str, Any]:
        """The best new candidate by the world model's acquisition.

        Args:
            model: The fitted world model.
            encode: Candidates to features.
            seen: Keys of the study's trials.
            elites: The best trials so far, whose neighbours are candidates.
            local_steps: Rounds of hill-climbing on the acquisition.
            dyna_weight: Scales the policy's step on its own episodes; 0 disables it.
        """
        seen = seen | self._served
        if self._pools_version != self.learner.version or 1.0 not in self._pools:
            self._pools = {1.0: self.simulate(self.candidates)}
            self._pools_version = self.learner.version
        simulated = self._pools[1.0]
        pool: dict[str, Candidate] = {}
        for c in [s.candidate for s in simulated] + [
                n for e in elites for n in self.source.neighbours(e, self.rng)]:
            if c.key not in seen:
                pool.setdefault(c.key, c)
        scores: dict[str, float] = {}
        self._score(model, encode, list(pool.values()), scores)
        # Hill-climb from the best (``frontier`` of them): each round scores all their
        # neighbours.
        frontier = sorted(scores, key=scores.__getitem__, reverse=True)[:self.frontier]
        for _ in range(local_steps):
            moves = {n.key: n for key in frontier
                     for n in self.source.neighbours(pool[key], self.rng)
                     if n.key not in seen and n.key not in scores}
            if not moves:
                break
            pool.update(moves)
            self._score(model, encode, list(moves.values()), scores)
            frontier = [k for k in sorted(scores, key=scores.__getitem__,
                                          reverse=True)[:self.frontier] if k in moves]
            if not frontier:
                break  # no move beat the best so far
        self._plans_since_dream += 1
        if dyna_weight > 0 and self._plans_since_dream >= self.dream_every:
            self._dream(model, encode, simulated, dyna_weight)
            self._plans_since_dream = 0
        chosen = max(scores, key=scores.__getitem__, default=None)
        if chosen is None or not is_feasible(pool[chosen].violations):
            # Nothing new within the exact budget among the candidates: search wider
            # with the policy, flattened step by step, for new children that meet it.
            wider = self._feasible_episodes(seen) if self._wider_wait == 0 else []
            self._wider_wait = max(0, self._wider_wait - 1)
            if wider:
                self._score(model, encode, wider, scores)
                pool.update({c.key: c for c in wider})
                chosen = max((c.key for c in wider), key=scores.__getitem__)
            elif chosen is None:
                return self._plan_policy(seen).candidate.params
        self._served.add(chosen)
        return pool[chosen].params

    def _feasible_episodes(self, seen: set[str], batches: int = 2) -> list[Candidate]:
        """New candidates that meet the exact budget: those found by earlier searches and
        not yet taken, else those of up to ``batches`` pools at each temperature (the
        first temperature that finds some wins). A small budget's children are rare, so
        every one found is kept for later plans."""
        kept = {k: c for k, c in self._feasible_found.items() if k not in seen}
        self._feasible_found = kept
        if kept:
            return list(kept.values())
        for temperature in self._TEMPERATURES:
            for _ in range(batches):
                kept.update({s.key: s.candidate for s in self.simulate(self.candidates,
                                                                         temperature)
                             if s.feasible and s.key not in seen})
                if kept:
                    return list(kept.values())
        # The budget's new children look used up: wait before searching this wide again.
        self._wider_wait = 8
        return []

    @staticmethod
    def _score(model: WorldModel, encode: Encode, candidates: Sequence[Candidate],
               scores: dict[str, float]) -> None:
        if not candidates:
            return
        values = model.acquisition(encode(candidates), [c.violations for c in candidates])
        scores.update({c.key: float(v) for c, v in zip(candidates, values)})

    def _dream(self, model: WorldModel, encode: Encode, simulated: Sequence[Simulated],
               weight: float) -> None:
        """One policy-gradient step on imagined episodes, rewarded by the world model's
        acquisition (ranks, so its scale does not matter)."""
        episodes = [s for s in simulated if s.steps]
        if len(episodes) < 2:
            return
        values = model.acquisition(encode([s.candidate for s in episodes]),
                                   [s.candidate.violations for s in episodes])
        ranks = np.argsort(np.argsort(values)).astype(float)
        advantages = weight * (ranks - ranks.mean()) / (ranks.std() + 1e-8)
        self.learner.step([s.steps for s in episodes], advantages.tolist(),
                          [self.learner.options.entropy_weight] * len(episodes),
                          len(episodes))
        # The pool stays: its episodes are still good candidates, and a fresh one comes
        # with the next update from real trials. Simulating again after every imagined
        # step doubled the policy's share of a trial's cost.
        self._pools_version = self.learner.version

    def pretrain(self, episodes: int, target: float, penalty_base: float,
                 entropy_weight: float, batch: int = 32, patience: int = 8) -> dict[str, float]:
        """Train the policy on the resource penalty alone, on simulated episodes, until
        ``target`` of a batch meets the analytic constraints or ``episodes`` ran.

        It stops early when it makes no progress: while nothing is feasible, when the
        batch's mean penalty has not improved for ``patience`` batches, or when a batch
        holds fewer than a quarter distinct children. Pushing on would only shrink the
        policy onto the least infeasible child, and every trial would then train it.

        Returns:
            The episodes run, the feasible fraction of the last batch, and whether it
            stopped for want of progress (1.0) or not (0.0).
        """
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
            r = np.array([penalty(v, penalty_base) for v in violations])
            if feasible_rate == 0.0:
                since_best = 0 if r.mean() > best * (1 + 1e-3) else since_best + 1
                best = max(best, float(r.mean()))
                distinct = len({s.key for s in simulated})
                if since_best >= patience or 4 * distinct < batch:
                    return {"episodes": run, "feasible_rate": feasible_rate, "stalled": 1.0}
            advantages = (r - r.mean()) / (r.std() + 1e-8)
            self.learner.step([s.steps for s in simulated], advantages.tolist(),
                              [entropy_weight] * batch, batch)
        return {"episodes": run, "feasible_rate": feasible_rate, "stalled": 0.0}
