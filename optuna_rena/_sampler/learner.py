"""RENA's learner: REINFORCE with a moving-average baseline, an entropy bonus and elite
replay, on the finished trials of a study.

Finished trials are learnt in trial-number order, ``batch_size`` at a time. For each batch
the reward ``R`` of every trial learnt so far is computed afresh (the penalty's ``p`` may
have tightened, and ranks change as trials arrive); the batch's advantages are
``(R - baseline) / std(R)``, so the step size does not depend on the objective's scale.
Elite replay adds the best trials so far, with their positive advantage only
(self-imitation), so good architectures are not forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch

from optuna_rena._constraints import is_feasible
from optuna_rena._sampler.decisions import DecisionMaker
from optuna_rena._sampler.options import RenaOptions
from optuna_rena._sampler.policy import RenaPolicy
from optuna_rena._sampler.policy import Step
from optuna_rena._sampler.pruned import last_report
from optuna_rena._sampler.pruned import PrunedStandIns
from optuna_rena._sampler.reward import Outcome
from optuna_rena._sampler.reward import outcome_of
from optuna_rena._sampler.reward import rewards
from optuna_rena._sampler.trial_cursor import TrialCursor


@dataclass
class Record:
    """A finished trial as the policy learns from it."""

    number: int
    steps: list[Step]
    outcome: Outcome


_MAX_GRAD_NORM = 1.0
"""Gradients are clipped to this norm: one lucky trial must not swing the policy."""
_EPS = 1e-8
_TIGHTENING_CAP = 20
"""The penalty tightens with the feasible trials up to this many: ``p ** 21`` is 0.11 at
``p = 0.9``, which already rules a violation out against any feasible network."""


class Learner:
    """Owns the policy and its optimiser, and learns from finished trials.

    Args:
        policy: The policy to train.
        layer_tokens: The baseline's layer tokens (empty without a space).
        options: The sampler's options; the learner reads the reward's and REINFORCE's.
    """

    def __init__(self, policy: RenaPolicy, layer_tokens: list[list[str]],
                 options: RenaOptions) -> None:
        self.policy = policy
        self.layer_tokens = layer_tokens
        self.options = options
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=options.learning_rate)
        self.version = 0  # counts policy updates, so that simulations know they are stale
        self.n_updates = 0
        self.learned_trials: list[int] = []
        self.history: list[Record] = []
        self._baseline: float | None = None
        self._seen: set[int] = set()
        self._cursor = TrialCursor()
        self._pending: list[Record] = []
        self._encoded: torch.Tensor | None = None
        self._directions: Sequence[StudyDirection] = (StudyDirection.MAXIMIZE,)
        self._curves = PrunedStandIns()  # completed trials' curves, larger better
        self._unranked: list[FrozenTrial] = []

    def layers(self) -> torch.Tensor:
        """The baseline's layer encodings under the current policy (no gradient)."""
        if self._encoded is None:
            with torch.no_grad():
                self._encoded = self.policy.encode(self.layer_tokens)
        return self._encoded

    def learn(self, trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection],
              decisions: DecisionMaker) -> None:
        """Learn from every finished trial not yet learnt from, in full batches."""
        self._directions = directions
        look = self._cursor.update(trials)
        retried = self._cursor.retried
        finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        new = [t for t in look if t.number not in self._seen and t.state in finished]
        for t in new:
            self._seen.add(t.number)
        sign = 1.0 if directions[0] == StudyDirection.MAXIMIZE else -1.0
        if len(directions) == 1:
            # Pruned trials are ranked against every completed trial read so far; those
            # pruned before any trial completed wait for one.
            for t in new:
                if (t.state == TrialState.COMPLETE and t.values is not None
                        and math.isfinite(t.values[0])):
                    self._curves.add_complete(
                        {s: sign * v for s, v in t.intermediate_values.items()},
                        sign * t.values[0])
            if len(self._curves):
                new, self._unranked = new + self._unranked, []
        for t in sorted(new, key=lambda t: t.number):
            report = last_report(t) if t.state == TrialState.PRUNED else None
            if report is not None and len(directions) == 1 and not len(self._curves):
                self._unranked.append(t)
                continue
            stand_in = (sign * self._curves.stand_in(report[0], sign * report[1])
                        if report is not None else None)
            outcome = outcome_of(t, retried, len(directions), stand_in)
            steps = decisions.steps_of(t) if outcome is not None else []
            if steps:
                self._pending.append(Record(t.number, steps, outcome))  # type: ignore[arg-type]
        batch_size = self.options.batch_size
        while len(self._pending) >= batch_size:
            batch, self._pending = self._pending[:batch_size], self._pending[batch_size:]
            self._update(batch)

    def effective_p(self, records: Sequence[Record]) -> float:
        """The penalty's ``p``: ``penalty_base``, tightened as feasible trials appear."""
        o = self.options
        if not o.penalty_tightening:
            return o.penalty_base
        n_feasible = sum(1 for r in records
                         if r.outcome.values is not None and is_feasible(r.outcome.violations))
        return o.penalty_base ** (1 + min(n_feasible, _TIGHTENING_CAP))

    def rewards(self) -> dict[int, float]:
        """The reward of each trial learnt from, under the current ``p``."""
        values = rewards([r.outcome for r in self.history], self._directions,
                         self.effective_p(self.history))
        return {r.number: float(v) for r, v in zip(self.history, values)}

    def _update(self, batch: list[Record]) -> None:
        """One REINFORCE step on a batch of finished trials, with elite replay."""
        o = self.options
        everything = self.history + batch
        all_rewards = rewards([r.outcome for r in everything], self._directions,
                              self.effective_p(everything))
        batch_rewards = all_rewards[len(self.history):]
        if self._baseline is None:
            self._baseline = float(batch_rewards.mean())
        # Divided by the spread of every reward so far, so that the step's size does not
        # depend on the objective's scale.
        spread = float(all_rewards.std())
        batch_advantages = advantages(batch_rewards, self._baseline, spread)
        self._baseline = (o.baseline_decay * self._baseline
                          + (1 - o.baseline_decay) * float(batch_rewards.mean()))
        episodes = [r.steps for r in batch]
        weights = list(batch_advantages)
        entropy = [o.entropy_weight] * len(batch)
        if o.elite_size:
            # Self-imitation: the best trials so far, against the updated baseline, with
            # their positive advantage only.
            elites = np.argsort(-all_rewards, kind="stable")[:o.elite_size]
            episodes += [everything[i].steps for i in elites]
            weights += list(np.maximum(0.0, advantages(all_rewards[elites], self._baseline,
                                                       spread)))
            entropy += [0.0] * len(elites)
        self.reinforce_step(episodes, weights, entropy, len(batch))
        self.history.extend(batch)
        self.n_updates += 1
        self.learned_trials.extend(r.number for r in batch)

    def reinforce_step(self, episodes: Sequence[Sequence[Step]],
                       advantages: Sequence[float], entropy_weights: Sequence[float],
                       denominator: int) -> None:
        """One policy-gradient step, the one every update takes (from real trials, from
        imagined ones, in pre-training): ascend ``advantage * log_prob + weight *
        entropy``, summed over the episodes and divided by ``denominator``."""
        log_prob, entropy = self.policy.evaluate(self.layer_tokens, episodes)
        objective = (torch.tensor(advantages, dtype=torch.float32) * log_prob
                     + torch.tensor(entropy_weights, dtype=torch.float32) * entropy)
        loss = -objective.sum() / denominator
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), _MAX_GRAD_NORM)
        self.optimizer.step()
        self._encoded = None
        self.version += 1


def advantages(rewards: np.ndarray, baseline: float, spread: float,
               gain: float = 1.0) -> np.ndarray:
    """``gain * (rewards - baseline) / spread``: REINFORCE's advantages, ``spread`` the
    rewards' standard deviation (kept off zero, for a batch of equal rewards)."""
    return gain * (rewards - baseline) / (spread + _EPS)
