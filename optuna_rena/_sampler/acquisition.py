"""Ranking candidates by what the world model expects of them, within the budget.

The acquisition of a configuration ``x`` is

``log EI(x) + sum_j log P(c_j(x) <= 0)``

over the constraints the world model predicts; a constraint that is known exactly (an
analytic metric of a space's child) is met or not, and a configuration that breaks one
ranks below every configuration that does not, by how much it breaks it. Until some
trial is feasible there is no improvement to expect: the acquisition is then the
probability of feasibility, with the predicted objective breaking ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

import numpy as np

from optuna_rena._sampler.world_model import Features
from optuna_rena._sampler.world_model import GaussianProcess
from optuna_rena._sampler.world_model import log_expected_improvement
from optuna_rena._sampler.world_model import log_probability_feasible


_BROKEN = -1e200  # per unit of exact violation: below any score of a candidate that meets it


@dataclass
class Observations:
    """The study's finished trials as the world model learns them, in the order read.

    Attributes:
        features: One row per trial that taught something.
        objective: Per row, the objective with larger better, or NaN (failed, pruned).
        constraints: Per predicted constraint, its value per row, NaN where not recorded.
        feasible: Per row, whether every recorded constraint was met.
    """

    features: Features
    objective: np.ndarray
    constraints: dict[str, np.ndarray] = field(default_factory=dict)
    feasible: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def best_feasible(self) -> float | None:
        ok = self.feasible & np.isfinite(self.objective)
        return float(self.objective[ok].max()) if ok.any() else None


class WorldModel:
    """One Gaussian process for the objective and one per predicted constraint."""

    def __init__(self) -> None:
        self._objective = GaussianProcess()
        self._constraints: dict[str, GaussianProcess] = {}
        self._best: float | None = None

    def fit(self, observations: Observations) -> None:
        o = observations
        ok = np.isfinite(o.objective)
        self._objective.fit(o.features.take(np.flatnonzero(ok)), o.objective[ok])
        for name, values in o.constraints.items():
            rows = np.flatnonzero(np.isfinite(values))
            gp = self._constraints.setdefault(name, GaussianProcess(keep="near_zero"))
            if len(rows):
                gp.fit(o.features.take(rows), values[rows])
        self._best = o.best_feasible

    def predict_objective(self, x: Features) -> tuple[np.ndarray, np.ndarray]:
        return self._objective.predict(x)

    def acquisition(self, x: Features,
                    exact: Sequence[Mapping[str, float]] | None = None) -> np.ndarray:
        """The acquisition of each row of ``x``; ``exact`` holds, per row, the violations
        known without the model."""
        # Outputs fitted on the same trials share the distances from x to them.
        shared = self._objective.distances(x)
        mean, std = self._objective.predict(x, shared)
        score = np.zeros(len(x))
        for gp in self._constraints.values():
            if gp.n:
                # Fitted relevances differ per output, and with them the distances.
                same = (gp.inputs is self._objective.inputs and gp.relevance is None
                        and self._objective.relevance is None)
                c_mean, c_std = gp.predict(x, shared if same else None)
                score += log_probability_feasible(c_mean, c_std)
        if self._best is not None:
            score += log_expected_improvement(mean, std, self._best)
        else:
            # A tie-breaker among this call's candidates. Its scale is the call's own, so
            # scores of two calls compare loosely; a fixed scale is left for later, since
            # the committed benchmarks ran with this one.
            spread = max(float(np.std(mean)), 1e-12)
            score += 1e-3 * (mean - mean.mean()) / spread
        if exact is not None:
            broken = np.array([sum(max(0.0, v) for v in row.values()) for row in exact])
            # A tier of its own: ranked by how much, never above one that meets it.
            score = np.where(broken > 0, _BROKEN * (1.0 + broken), score)
        return score
