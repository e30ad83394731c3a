"""Changes to RenaSampler tried on NAS-Bench-201 and not adopted, kept so that their
figures in BENCHMARKS.md can be reproduced: ``nb201_rena_seeds.py --what-if NAME``.

They patch the package's private classes in the running process only; nothing here is
part of the package.

* ``exhaustive``: the acquisition is maximised over every configuration of the search
  space (all 15625 cells) instead of the policy's episodes, the best trials' neighbours
  and the hill-climb: what a perfect acquisition optimiser would give. About 17 times the
  sampler's cost.
* ``copula``, ``yeo-johnson``: the objective is warped before the world model fits it
  (normal scores of its ranks; a Yeo-Johnson power transform), as HEBO does, so that the
  few collapsed cells (accuracy near 10 %) do not set the model's scale at the top. The
  warped values change with every trial, so the model refits at every trial (5 times the
  cost).
"""

from __future__ import annotations

from collections.abc import Callable
import itertools
from typing import Any

import numpy as np
from scipy import special
from scipy import stats

from optuna_rena._sampler import acquisition
from optuna_rena._sampler import candidates

NAMES = ("exhaustive", "copula", "yeo-johnson")
_applied: set[str] = set()


def apply(name: str) -> None:
    """Patch the package for the what-if ``name`` (once per process: a worker runs many
    studies, and a second warp would warp the warped values)."""
    if name in _applied:
        return
    _applied.add(name)
    if name == "exhaustive":
        _exhaustive()
    elif name == "copula":
        _warp(lambda y: special.ndtri((stats.rankdata(y) - 0.5) / len(y)))
    elif name == "yeo-johnson":
        _warp(lambda y: stats.yeojohnson((y - y.mean()) / (y.std() + 1e-12))[0])
    else:
        raise ValueError(f"unknown what-if {name!r}; expected one of {NAMES}.")


def _exhaustive() -> None:
    # The planner scores the neighbours of its best trials and climbs from the best
    # candidate through neighbours: with every configuration as a neighbour, the first
    # scoring covers the whole space, and the climb finds nothing left to score.
    grids: dict[int, list[candidates.Candidate]] = {}

    def everything(self: candidates.ParamEpisodes, candidate: candidates.Candidate,
                   rng: np.random.RandomState) -> list[candidates.Candidate]:
        if id(self) not in grids:
            names = list(self.search_space)
            choices = [self.search_space[n].choices for n in names]  # type: ignore[attr-defined]
            grids[id(self)] = [self.candidate(dict(zip(names, values)))
                               for values in itertools.product(*choices)]
        return grids[id(self)]

    candidates.ParamEpisodes.neighbours = everything  # type: ignore[method-assign]


def _warp(transform: Callable[[np.ndarray], np.ndarray]) -> None:
    fit = acquisition.WorldModel.fit

    def warped_fit(self: acquisition.WorldModel, o: acquisition.Observations) -> Any:
        objective = o.objective.copy()
        ok = np.isfinite(objective)
        if ok.sum() >= 3:
            # Monotone: the best feasible trial stays the best, in the warped values.
            objective[ok] = transform(objective[ok])
        return fit(self, acquisition.Observations(o.features, objective, o.constraints,
                                                  o.feasible))

    acquisition.WorldModel.fit = warped_fit  # type: ignore[method-assign]
