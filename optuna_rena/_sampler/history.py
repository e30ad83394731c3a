"""The study's trials as the world model and the planner see them.

Each finished trial is read and encoded once, whichever worker ran it; a process that
starts late reads the whole history once, as a restarted worker must.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._sampler.acquisition import Observations
from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.encoding import ConfigurationEncoder
from optuna_rena._sampler.world_model import Features


@dataclass
class _Row:
    candidate: Candidate
    objective: float  # larger is better; NaN when the trial has no value
    constraints: dict[str, float]
    feasible: bool


class TrialHistory:
    """Finished trials as observations, the best of them, and every trial's key.

    Args:
        encoder: Encodes configurations.
        candidate_of: The candidate a trial evaluated, or ``None`` for a trial that is
            not one (another search space).
        exact: Names of the constraints known without the model (not predicted).
    """

    def __init__(self, encoder: ConfigurationEncoder,
                 candidate_of: Callable[[FrozenTrial], Candidate | None],
                 exact: set[str]) -> None:
        self.encoder = encoder
        self.candidate_of = candidate_of
        self.exact = exact
        self._rows: dict[int, _Row] = {}
        self._seen: set[int] = set()
        self._features: dict[int, Features] = {}
        self._columns = -1
        self._running: dict[int, str] = {}

    def update(self, trials: Sequence[FrozenTrial], direction: StudyDirection) -> None:
        """Read the trials that finished since the last call."""
        sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
        retried = {t.system_attrs.get("failed_trial") for t in trials}
        self._running = {}
        for t in trials:
            if t.number in self._seen:
                continue
            if not t.state.is_finished():
                candidate = self.candidate_of(t) if t.params else None
                if candidate is not None:
                    self._running[t.number] = candidate.key
                continue
            self._seen.add(t.number)
            if t.number in retried and t.state == TrialState.FAIL:
                continue  # a killed worker, not the configuration's fault
            candidate = self.candidate_of(t)
            if candidate is None:
                continue
            self.encoder.observe(t.distributions)
            value = float("nan")
            if t.state == TrialState.COMPLETE and t.values is not None and len(t.values) == 1:
                value = sign * t.values[0] if math.isfinite(t.values[0]) else float("nan")
            violations = trial_violations(t)
            self._rows[t.number] = _Row(
                candidate, value,
                {k: v for k, v in violations.items() if k not in self.exact},
                is_feasible({**violations, **candidate.violations}))

    @property
    def n_complete(self) -> int:
        return sum(1 for r in self._rows.values() if math.isfinite(r.objective))

    def seen(self) -> set[str]:
        """Keys of every trial read so far, finished or running."""
        return {r.candidate.key for r in self._rows.values()} | set(self._running.values())

    def observations(self) -> Observations:
        numbers = sorted(self._rows)
        columns = self.encoder.encode([{}]).dims
        if columns != self._columns:
            self._features.clear()  # new parameters: every row gets their columns
            self._columns = columns
        missing = [n for n in numbers if n not in self._features]
        if missing:
            fresh = self.encoder.encode([self._rows[n].candidate.params for n in missing],
                                        [self._rows[n].candidate.child for n in missing])
            for i, n in enumerate(missing):
                self._features[n] = fresh.take([i])
        names = sorted({k for n in numbers for k in self._rows[n].constraints})
        return Observations(
            features=Features.stack([self._features[n] for n in numbers]) if numbers else
            self.encoder.encode([]),
            objective=np.array([self._rows[n].objective for n in numbers]),
            constraints={k: np.array([self._rows[n].constraints.get(k, np.nan)
                                      for n in numbers]) for k in names},
            feasible=np.array([self._rows[n].feasible for n in numbers], dtype=bool))

    def elites(self, k: int) -> list[Candidate]:
        """The ``k`` best trials: feasible ones by objective, then the least infeasible."""
        def rank(row: _Row) -> tuple[float, float]:
            if row.feasible and math.isfinite(row.objective):
                return (1.0, row.objective)
            broken = sum(max(0.0, v) for v in (*row.constraints.values(),
                                               *row.candidate.violations.values()))
            return (0.0, -broken)
        rows = sorted(self._rows.values(), key=rank, reverse=True)
        return [r.candidate for r in rows[:k]]

