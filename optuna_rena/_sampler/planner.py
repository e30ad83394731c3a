"""Planning a trial's architecture from the policy, before the trial decides anything.

* **Lockstep simulation.** Episodes of the space are decided by the policy without any
  trial, many at once: each step scores all episodes that wait on a decision in one
  batched call. The space's decisions come from a generator, so each episode can follow
  its own path (an insertion's type depends on its position).
* **No-repeat planning.** A trial takes the first simulated child that no trial has had
  (finished or running, in any worker), preferring one that meets the analytic
  constraints (parameters, FLOPs, bytes, compute intensity), known before any training.
* **Pre-training.** Before the first trial, the policy learns the resource penalty alone
  on simulated episodes, until enough of a batch is feasible.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
import torch

from optuna_rena._constraints import is_feasible
from optuna_rena._sampler.decisions import Decision
from optuna_rena._sampler.decisions import DecisionMaker
from optuna_rena._sampler.learner import Learner
from optuna_rena._sampler.policy import Step
from optuna_rena._sampler.reward import penalty
from optuna_rena._spec import NetworkSpec


if TYPE_CHECKING:
    from optuna_rena._space import ArchitectureSpace


@dataclass
class Simulated:
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


class Planner:
    """Simulates episodes of ``space`` from the learner's policy and plans trials.

    Args:
        space: The space whose decisions are simulated.
        decisions: Turns the space's choices into decisions.
        learner: Holds the policy; its ``version`` tells when simulations are stale.
        rng: The sampler's random state.
        candidates: Episodes simulated at once when planning.
        prefer_feasible: Plan analytically feasible children first.
    """

    _TEMPERATURES = (1.0, 2.0, 4.0)

    def __init__(self, space: ArchitectureSpace, decisions: DecisionMaker, learner: Learner,
                 rng: np.random.RandomState, candidates: int, prefer_feasible: bool) -> None:
        self.space = space
        self.decisions = decisions
        self.learner = learner
        self.rng = rng
        self.candidates = candidates
        self.prefer_feasible = prefer_feasible
        self._pools: dict[float, list[Simulated]] = {}
        self._pools_version = -1
        self._served: set[str] = set()

    def simulate(self, n: int, temperature: float = 1.0) -> list[Simulated]:
        """``n`` episodes of the space decided by the policy, in lockstep; a
        ``temperature`` above 1 flattens the policy."""
        policy = self.learner.policy
        layers = self.learner.layers()
        h, c, previous = policy.initial_state(n)
        runs = [self.space.decisions() for _ in range(n)]
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
            pending: list[tuple[int, Decision]] = []
            for b in range(n):
                while asked[b] is not None:
                    name, choices = asked[b]  # type: ignore[misc]
                    decision = self.decisions.decision(name, choices, params[b])
                    if decision.n > 1:
                        pending.append((b, decision))
                        break
                    answer(b, choices[0])
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
                answer(b, decision.values[k])  # type: ignore[index]
        return [Simulated(st, pa, ch, self.space.analytic_violations(ch))  # type: ignore[arg-type]
                for st, pa, ch in zip(steps, params, done)]

    def discard_pools(self) -> None:
        """Forget the simulated episodes not yet served."""
        self._pools.clear()

    def plan(self, seen: set[str]) -> dict[str, Any]:
        """The space's decisions for a new trial: a simulated episode whose child is not in
        ``seen`` (the child specs of the study's trials) nor served to another trial.

        Episodes are simulated ``candidates`` at a time and kept in a pool until the
        policy changes, so the cost is shared by the trials between two updates. When a
        pool holds nothing new, a pool from the flattened policy (temperature 2, then 4)
        is tried; failing that, the policy's own choice is repeated.
        """
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
                return chosen.params
        return self.simulate(1)[0].params

    def pretrain(self, episodes: int, target: float, penalty_base: float,
                 entropy_weight: float, batch: int = 32) -> dict[str, float]:
        """Train the policy on the resource penalty alone, on simulated episodes, until
        ``target`` of a batch meets the analytic constraints or ``episodes`` ran.

        Returns:
            The episodes run and the feasible fraction of the last batch.
        """
        run = 0
        feasible_rate = 0.0
        while run < episodes:
            simulated = self.simulate(batch)
            run += batch
            violations = [s.violations for s in simulated]
            feasible_rate = float(np.mean([is_feasible(v) for v in violations]))
            if feasible_rate >= target:
                break
            r = np.array([penalty(v, penalty_base) for v in violations])
            advantages = (r - r.mean()) / (r.std() + 1e-8)
            self.learner.step([s.steps for s in simulated], advantages.tolist(),
                              [entropy_weight] * batch, batch)
        return {"episodes": run, "feasible_rate": feasible_rate}
