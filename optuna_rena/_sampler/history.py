"""The study's trials as the world model and the planner see them.

Each finished trial is read and encoded once, whichever worker ran it; a process that
starts late reads the whole history once, as a restarted worker must.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
import heapq
import math
from operator import itemgetter

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._metrics import INTERRUPTED_ATTR
from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.encoding import ConfigurationEncoder
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.pareto import non_dominated
from optuna_rena._sampler.pruned import last_report
from optuna_rena._sampler.pruned import PrunedStandIns
from optuna_rena._sampler.trial_cursor import TrialCursor
from optuna_rena._sampler.world_model import Observations


@dataclass
class _Row:
    candidate: Candidate
    values: tuple[float, ...]  # larger is better; NaN when the trial has no values
    constraints: dict[str, float]
    feasible: bool

    @property
    def rank(self) -> tuple[float, float]:
        """Feasible rows by the (first) objective, then the least infeasible."""
        if self.feasible and math.isfinite(self.values[0]):
            return (1.0, self.values[0])
        broken = sum(max(0.0, v) for v in (*self.constraints.values(),
                                           *self.candidate.violations.values()))
        return (0.0, -broken)


_EXACT_AFTER = 2
"""Complete trials whose value of an objective equals a counted metric of their child
before the objective counts as that metric (known exactly, not modelled)."""


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
        self._cursor = TrialCursor()
        self._keys: set[str] = set()
        self._names: set[str] = set()
        self._columns = -1
        self._running: dict[int, Candidate] = {}
        self._ranked: list[tuple[tuple[float, float], _Row]] = []  # in the order read
        self._built: Observations | None = None
        self._built_numbers: list[int] = []
        self._signs = np.ones(1)
        # Per objective, the counted metrics that its every value so far has equalled.
        self._matches: list[set[str] | None] = [None]
        self._matched = 0
        self._metric_names: list[str | None] = [None]
        # A single objective's completed curves, and each pruned row's last report (both
        # with larger better): pruned rows stand in by rank (:mod:`.pruned`).
        self._curves = PrunedStandIns()
        self._pruned: dict[int, tuple[int, float]] = {}
        self._standing: tuple[tuple[Observations, int, int], Observations] | None = None

    def update(self, trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection],
               metric_names: Sequence[str] | None = None) -> None:
        """Read the trials that finished since the last call.

        Args:
            trials: The study's trials.
            directions: The study's directions.
            metric_names: The study's metric names, which name the counted metric an
                objective is when several match it.
        """
        self._signs = np.array([1.0 if d == StudyDirection.MAXIMIZE else -1.0
                                for d in directions])
        k = len(directions)
        if len(self._matches) != k:
            self._matches = [None] * k
        self._metric_names = list(metric_names) if metric_names else [None] * k
        look = self._cursor.update(trials)
        retried = self._cursor.retried
        self._running = {}
        for t in look:
            if t.number in self._seen:
                continue
            if not t.state.is_finished():
                # Its parameters so far, or the plan it published before deciding any.
                candidate = self.candidate_of(t)
                if candidate is not None:
                    self._running[t.number] = candidate
                continue
            self._seen.add(t.number)
            if (t.number in retried and t.state == TrialState.FAIL) or t.system_attrs.get(
                    INTERRUPTED_ATTR):
                continue  # a killed worker or the user, not the configuration's fault
            candidate = self.candidate_of(t)
            if candidate is None:
                continue
            self.encoder.observe(t.distributions)
            values = (float("nan"),) * k
            if (t.state == TrialState.COMPLETE and t.values is not None
                    and len(t.values) == k):
                values = tuple(s * v if math.isfinite(v) else float("nan")
                               for s, v in zip(self._signs, t.values))
                if all(math.isfinite(v) for v in t.values):
                    self._match_counted(t.values, candidate)
                    if k == 1:
                        self._curves.add_complete(
                            {s: self._signs[0] * v for s, v in t.intermediate_values.items()},
                            values[0])
            elif t.state == TrialState.PRUNED and k == 1:
                report = last_report(t)
                if report is not None:
                    self._pruned[t.number] = (report[0], self._signs[0] * report[1])
            violations = trial_violations(t)
            predicted = {k: v for k, v in violations.items() if k not in self.exact}
            row = _Row(candidate, values, predicted,
                       is_feasible({**violations, **candidate.violations}))
            self._rows[t.number] = row
            self._ranked.append((row.rank, row))
            self._keys.add(candidate.key)
            self._names.update(predicted)

    def _match_counted(self, values: Sequence[float], candidate: Candidate) -> None:
        if not candidate.counted or len(values) == 1:
            # A single objective that is a count is better modelled: exact, every
            # candidate that does not beat the best would tie.
            return
        self._matched += 1
        for j, value in enumerate(values):
            equal = {name for name, v in candidate.counted.items()
                     if math.isclose(v, value, rel_tol=1e-9, abs_tol=1e-12)}
            before = self._matches[j]
            self._matches[j] = equal if before is None else before & equal

    @property
    def n_objectives(self) -> int:
        return len(self._signs)

    @property
    def exact_objectives(self) -> dict[int, str]:
        """With several objectives, those that are counted metrics of the child
        (parameters, FLOPs, ...), by column: those whose value has equalled one in every
        complete trial, at least ``_EXACT_AFTER`` of them (the study's metric name picks
        among several that do)."""
        if self._matched < _EXACT_AFTER:
            return {}
        out = {}
        for j, names in enumerate(self._matches):
            if names:
                name = self._metric_names[j]
                out[j] = name if name in names else sorted(names)[0]
        return out

    def exact_values(self, candidates: Sequence[Candidate]) -> np.ndarray | None:
        """Per candidate, the values (larger is better) of the objectives known exactly,
        NaN elsewhere; ``None`` when none is."""
        exact = self.exact_objectives
        if not exact:
            return None
        out = np.full((len(candidates), len(self._signs)), np.nan)
        for j, name in exact.items():
            out[:, j] = [self._signs[j] * c.counted[name] for c in candidates]
        return out

    @property
    def n_complete(self) -> int:
        return int(self.observations().complete.sum())

    def seen(self) -> set[str]:
        """Keys of every trial read so far, finished or running."""
        return self._keys | {c.key for c in self._running.values()}

    def pending(self) -> list[Candidate]:
        """The configurations of the trials running at the last read (other workers',
        or other threads'), which the world model takes as pending points."""
        return list(self._running.values())

    def observations(self) -> Observations:
        """The finished trials in the order they were read, pruned ones at their stand-in
        values (:mod:`.pruned`)."""
        built = self._measured()
        if not self._pruned:
            return built
        counts = (len(self._curves), len(self._pruned))
        if (self._standing is None or self._standing[0][0] is not built
                or self._standing[0][1:] != counts):
            numbers = [n for n in self._built_numbers if n in self._pruned]
            rows = np.array([i for i, n in enumerate(self._built_numbers)
                             if n in self._pruned], dtype=np.int64)
            objectives = built.objectives.copy()
            objectives[rows, 0] = [self._curves.stand_in(*self._pruned[n]) for n in numbers]
            stand_in = np.zeros(len(objectives), dtype=bool)
            stand_in[rows] = np.isfinite(objectives[rows, 0])
            self._standing = ((built, *counts), Observations(built.features, objectives,
                                                built.constraints, built.feasible, stand_in))
        return self._standing[1]

    def _measured(self) -> Observations:
        """The finished trials as they ended: built once and extended, so trials that
        finish out of order (several workers) cost no rebuild."""
        numbers = list(self._rows)
        columns = self.encoder.dims
        names = sorted(self._names)
        built = self._built
        if (built is None or columns != self._columns or names != list(built.constraints)
                or numbers[:len(self._built_numbers)] != self._built_numbers):
            self._columns, self._built_numbers = columns, []
            built = self._observe([], names)
        new = numbers[len(self._built_numbers):]
        if new or self._built is None:
            part = self._observe(new, names)
            built = Observations(
                features=Features.stack([built.features, part.features]),
                objectives=np.concatenate([built.objectives, part.objectives]),
                constraints={k: np.concatenate([built.constraints[k], part.constraints[k]])
                             for k in names},
                feasible=np.concatenate([built.feasible, part.feasible]))
            self._built, self._built_numbers = built, numbers
        return built

    def _observe(self, numbers: Sequence[int], names: Sequence[str]) -> Observations:
        rows = [self._rows[n] for n in numbers]
        return Observations(
            features=self.encoder.encode([r.candidate.params for r in rows],
                                         [r.candidate.child for r in rows]),
            objectives=np.array([r.values for r in rows], dtype=float).reshape(
                len(rows), len(self._signs)),
            constraints={k: np.array([r.constraints.get(k, np.nan) for r in rows],
                                     dtype=float) for k in names},
            feasible=np.array([r.feasible for r in rows], dtype=bool))

    def elites(self, k: int) -> list[Candidate]:
        """The ``k`` best trials: feasible ones by objective, then the least infeasible.
        With several objectives, up to ``k`` of the feasible front, spread evenly along
        the first objective (the least infeasible while none is feasible)."""
        if len(self._signs) > 1:
            front = self._front_rows()
            if front:
                front.sort(key=lambda row: row.values[0])
                picks = np.unique(np.linspace(0, len(front) - 1, min(k, len(front))).round())
                return [front[int(i)].candidate for i in picks]
        # nlargest is sorted(..., reverse=True)[:k], ties in the order read, without
        # sorting every trial again at every trial.
        best = heapq.nlargest(k, self._ranked, key=itemgetter(0))
        return [row.candidate for _, row in best]

    def _front_rows(self) -> list[_Row]:
        rows = [row for row in self._rows.values()
                if row.feasible and all(math.isfinite(v) for v in row.values)]
        if not rows:
            return []
        keep = non_dominated(np.array([row.values for row in rows]))
        return [row for row, kept in zip(rows, keep) if kept]
