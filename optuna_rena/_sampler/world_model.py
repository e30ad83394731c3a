"""RENA's world model: what a configuration will score and how it will fare against each
constraint, predicted with uncertainty from the study's finished trials.

One Gaussian process (:mod:`.gp`) per output: each objective, and each constraint value
that trials recorded. Metrics that a space's resource model counts are never predicted:
they are exact, and :mod:`.acqf` takes them as they are, as constraints and as
objectives (a study that minimises parameters against accuracy models accuracy alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

import numpy as np

from optuna_rena._sampler.acqf import acquisition
from optuna_rena._sampler.acqf import pareto_acquisition
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.gp import GaussianProcess
from optuna_rena._sampler.gp import predict_together
from optuna_rena._sampler.pareto import improvement_boxes
from optuna_rena._sampler.pareto import non_dominated
from optuna_rena._sampler.pareto import reference_point


@dataclass
class Observations:
    """The study's finished trials as the world model learns them, in the order read.

    Attributes:
        features: One row per trial that taught something.
        objectives: Per row, the objectives (columns) with larger better, NaN where the
            trial has no values (failed, or pruned with nothing to stand in).
        constraints: Per predicted constraint, its value per row, NaN where not recorded.
        feasible: Per row, whether every recorded constraint was met.
        stand_in: Per row, whether its objective is a pruned trial's stand-in
            (:mod:`.pruned`): the model learns it, but it is no trial's result, so it is
            never the incumbent. ``None``: no row is.
    """

    features: Features
    objectives: np.ndarray
    constraints: dict[str, np.ndarray] = field(default_factory=dict)
    feasible: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    stand_in: np.ndarray | None = None

    @property
    def complete(self) -> np.ndarray:
        """Per row, whether the trial has every objective's value (or a stand-in)."""
        return np.isfinite(self.objectives).all(axis=1)

    @property
    def measured(self) -> np.ndarray:
        """Per row, whether the trial completed with every objective's value."""
        complete = self.complete
        return complete if self.stand_in is None else complete & ~self.stand_in

    @property
    def best_feasible(self) -> float | None:
        """The best feasible value of the (single) objective."""
        ok = self.feasible & self.measured
        return float(self.objectives[ok, 0].max()) if ok.any() else None

    def feasible_front(self) -> np.ndarray | None:
        """The feasible trials' Pareto front (points, objectives); ``None`` while none is
        feasible."""
        points = self.objectives[self.feasible & self.measured]
        return points[non_dominated(points)] if len(points) else None


class WorldModel:
    """One Gaussian process per objective that is not known exactly, and one per
    predicted constraint."""

    def __init__(self) -> None:
        self.exact_objectives: tuple[int, ...] = ()
        self._objectives: list[GaussianProcess] = []
        self._modelled: list[int] | None = None
        self._believers: list[GaussianProcess] = []
        self._constraints: dict[str, GaussianProcess] = {}
        self._best: float | None = None
        self._front: np.ndarray | None = None
        self._reference = np.zeros(0)
        self._boxes: tuple[np.ndarray, np.ndarray] | None = None

    def fit(self, observations: Observations, pending: Features | None = None,
            exact_objectives: Sequence[int] = ()) -> None:
        """Condition on the finished trials' ``observations``; ``pending`` are the
        configurations of running trials, which each objective's prediction believes at
        its own mean (:meth:`.gp.GaussianProcess.believing`), so that concurrent workers
        spread out instead of crowding the same region. Constraints are predicted from
        the finished trials alone. ``exact_objectives`` are the objectives (columns) known
        without the model: :meth:`acquisition` is given a candidate's value of each."""
        o = observations
        self.exact_objectives = tuple(exact_objectives)
        modelled = [j for j in range(o.objectives.shape[1]) if j not in self.exact_objectives]
        if modelled != self._modelled:
            # A process extends its fit by the new rows: it must keep its column.
            self._modelled = modelled
            self._objectives = [GaussianProcess() for _ in modelled]
        ok = o.complete
        rows = np.flatnonzero(ok)
        for gp, j in zip(self._objectives, modelled):
            gp.fit(o.features.take(rows), o.objectives[ok, j])
        for name, values in o.constraints.items():
            rows = np.flatnonzero(np.isfinite(values))
            gp = self._constraints.setdefault(name, GaussianProcess(keep="near_zero"))
            if len(rows):
                gp.fit(o.features.take(rows), values[rows])
        self._best = o.best_feasible
        self._front = o.feasible_front()
        if ok.any():
            self._reference = reference_point(o.objectives[ok])
            if self._front is not None and o.objectives.shape[1] > 1:
                # The front is fixed until the next fit: its boxes serve every scoring.
                self._boxes = improvement_boxes(self._front, self._reference)
        self._believers = self._objectives if pending is None else [
            gp.believing(pending) for gp in self._objectives]

    def acquisition(self, x: Features,
                    exact: Sequence[Mapping[str, float]] | None = None,
                    exact_objectives: np.ndarray | None = None) -> np.ndarray:
        """The acquisition (:mod:`.acqf`) of each row of ``x``: log EI with one
        objective, log EHVI with several. ``exact`` holds, per row, the violations known
        without the model; ``exact_objectives`` (rows, objectives), the values of the
        objectives known without it (other columns are ignored)."""
        fitted = [gp for gp in self._constraints.values() if gp.n]
        predicted, constraints = self._predict(x, fitted)
        if len(predicted) == 1 and not self.exact_objectives:
            return acquisition(predicted[0], constraints, self._best, exact)
        assert exact_objectives is not None or not self.exact_objectives
        objectives = []
        for j in range(len(predicted) + len(self.exact_objectives)):
            if j in self.exact_objectives:
                values = exact_objectives[:, j]  # type: ignore[index]
                objectives.append((values, np.zeros_like(values)))
            else:
                objectives.append(predicted.pop(0))
        boxes = self._boxes if self._front is not None else None
        return pareto_acquisition(objectives, constraints, boxes, exact)

    def _predict(self, x: Features, constraints: list[GaussianProcess]
                 ) -> tuple[list[tuple[np.ndarray, np.ndarray]],
                            list[tuple[np.ndarray, np.ndarray]]]:
        together = predict_together([*self._believers, *constraints], x)
        k = len(self._believers)
        return together[:k], together[k:]
