"""RENA's world model: what a configuration will score and how it will fare against each
constraint, predicted with uncertainty from the study's finished trials.

One Gaussian process (:mod:`.gp`) per output: the objective, and each constraint value
that trials recorded. Metrics that a space's resource model counts are never predicted:
they are exact, and :mod:`.acqf` takes them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

import numpy as np

from optuna_rena._sampler.acqf import acquisition
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.gp import GaussianProcess
from optuna_rena._sampler.gp import predict_together


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
        self._believer = self._objective
        self._constraints: dict[str, GaussianProcess] = {}
        self._best: float | None = None

    def fit(self, observations: Observations, pending: Features | None = None) -> None:
        """Condition on the finished trials' ``observations``; ``pending`` are the
        configurations of running trials, which the objective's prediction believes at
        its own mean (:meth:`.gp.GaussianProcess.believing`), so that concurrent workers
        spread out instead of crowding the same region. Constraints are predicted from
        the finished trials alone."""
        o = observations
        ok = np.isfinite(o.objective)
        self._objective.fit(o.features.take(np.flatnonzero(ok)), o.objective[ok])
        for name, values in o.constraints.items():
            rows = np.flatnonzero(np.isfinite(values))
            gp = self._constraints.setdefault(name, GaussianProcess(keep="near_zero"))
            if len(rows):
                gp.fit(o.features.take(rows), values[rows])
        self._best = o.best_feasible
        self._believer = self._objective if pending is None else self._objective.believing(
            pending)

    def acquisition(self, x: Features,
                    exact: Sequence[Mapping[str, float]] | None = None) -> np.ndarray:
        """The acquisition (:func:`.acqf.acquisition`) of each row of ``x``; ``exact``
        holds, per row, the violations known without the model."""
        fitted = [gp for gp in self._constraints.values() if gp.n]
        objective, *constraints = predict_together([self._believer, *fitted], x)
        return acquisition(objective, constraints, self._best, exact)
