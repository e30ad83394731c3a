"""Samplers for ``optuna-rena benchmark --samplers gp_variants:CLASS`` (with ``benchmarks/``
on ``PYTHONPATH``), as run for ``benchmarks/pareto-gp-model.md``:

* ``RenaSampler`` with a constant of the world model's process (``_sampler/gp.py``) set:
  ``RefitEvery`` (``_REFIT_GROWTH = 1.0``: the kernel is picked again at every trial, as
  GPSampler refits), ``PriorHalf`` and ``PriorTwo`` (``_RELEVANCE_PRIOR`` 0.5 and 2.0).
  The constant is set when the sampler is made and stays set in that process, so run
  one such class per benchmark command.
* ``FrontElites8`` (``_sampler/planner.py``: the neighbours of 8 trials of the front are
  candidates of every plan, not 4) and ``Margin30`` (``_sampler/pareto.py``: the
  reference point 30 % of the range below the worst value, not 10 %).
* ``TailClipped`` and ``Copula``: ``RenaSampler`` whose world model learns each modelled
  objective of a multi-objective study warped (values below the lower Tukey fence raised
  to it; the normal scores of the ranks), front and reference point included.
* ``StructureTrend``: ``RenaSampler`` whose processes learn the residuals of a ridge line
  in the numeric features (with a space, the child's counted structure), the line added
  back to each prediction (``digits-front``, BENCHMARKS.md).
* ``GPSeedsFrom3``: Optuna's ``GPSampler`` with seeds 3, 4, ... for the runs 0, 1, ...,
  to add seeds to a committed run that holds seeds 0-2.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import optuna
from scipy import stats

from optuna_rena import RenaSampler
from optuna_rena._sampler import gp
from optuna_rena._sampler import pareto
from optuna_rena._sampler import planner
from optuna_rena._sampler import world_model


def _with_constants(module: Any = gp, **constants: Any) -> type[RenaSampler]:
    class Variant(RenaSampler):
        def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
            for name, value in constants.items():
                setattr(module, name, value)
            super().__init__(seed=seed, **kwargs)

    Variant.__doc__ = f"RenaSampler with {constants} in {module.__name__}."
    return Variant


RefitEvery = _with_constants(_REFIT_GROWTH=1.0)
PriorHalf = _with_constants(_RELEVANCE_PRIOR=0.5)
PriorTwo = _with_constants(_RELEVANCE_PRIOR=2.0)
FrontElites8 = _with_constants(planner, _FRONT_ELITES=8)
Margin30 = _with_constants(pareto, _REFERENCE_MARGIN=0.3)


class GPSeedsFrom3(optuna.samplers.GPSampler):
    """GPSampler with seeds 3, 4, ... for the runs 0, 1, ..."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed=None if seed is None else seed + 3)


def _warped_objectives(warp: Any) -> type[RenaSampler]:
    """RenaSampler whose world model learns each modelled objective of a multi-objective
    study through ``warp`` (a monotone map of a column's finite values), the front and
    the reference point included."""
    fit = world_model.WorldModel.fit

    def warped_fit(self: Any, observations: Any, pending: Any = None,
                   exact_objectives: Any = ()) -> None:
        y = observations.objectives.copy()
        if y.shape[1] > 1:
            for j in range(y.shape[1]):
                ok = np.isfinite(y[:, j])
                if j not in exact_objectives and ok.sum() >= 8:
                    y[ok, j] = warp(y[ok, j])
        fit(self, dataclasses.replace(observations, objectives=y), pending,
            exact_objectives)

    class Variant(RenaSampler):
        def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
            world_model.WorldModel.fit = warped_fit  # type: ignore[method-assign]
            super().__init__(seed=seed, **kwargs)

    return Variant


def _tukey_clip(y: np.ndarray) -> np.ndarray:
    """Values below the lower Tukey fence (Q1 - 1.5 IQR) raised to it."""
    q1, q3 = np.percentile(y, [25, 75])
    return np.maximum(y, q1 - 1.5 * (q3 - q1))


def _copula(y: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks (ties averaged)."""
    return stats.norm.ppf((stats.rankdata(y) - 0.5) / len(y))


TailClipped = _warped_objectives(_tukey_clip)
Copula = _warped_objectives(_copula)


class _StructureTrendProcess(gp.GaussianProcess):
    """A process on the residuals of a ridge fit that is linear in the numeric features
    (with a space, the child's counted structure on its log scale), the line added back
    to every prediction: latency leans on the counts."""

    _coef: np.ndarray | None = None

    def fit(self, x: gp.Features, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=float)
        numeric = np.nan_to_num(x.numeric)
        self._coef = None
        if numeric.shape[1] and len(y) >= 5:
            design = np.column_stack([np.ones(len(y)), numeric])
            ridge = 1e-2 * np.eye(design.shape[1])
            ridge[0, 0] = 0.0
            self._coef = np.linalg.solve(design.T @ design + ridge, design.T @ y)
        super().fit(x, y - self._trend(x))

    def _trend(self, x: gp.Features) -> np.ndarray:
        if self._coef is None:
            return np.zeros(len(x))
        return self._coef[0] + np.nan_to_num(x.numeric) @ self._coef[1:]

    def _predict(self, x: gp.Features, parts: Any) -> tuple[np.ndarray, np.ndarray]:
        mean, sd = super()._predict(x, parts)
        return mean + self._trend(x), sd


class StructureTrend(RenaSampler):
    """RenaSampler whose world model's processes are :class:`_StructureTrendProcess`."""

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        world_model.GaussianProcess = _StructureTrendProcess  # type: ignore[misc]
        super().__init__(seed=seed, **kwargs)
