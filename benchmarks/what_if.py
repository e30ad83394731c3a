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
* ``gp-kernel``: the world model's Gaussian processes take GPSampler's kernel and fit:
  Matern-5/2 on ``sqrt(sum_d l_d [x_d != y_d])`` (one length-scale per parameter, as
  Optuna's ARD Hamming kernel) times a scale, plus noise, all fitted by the maximum of the
  marginal likelihood times Optuna's default priors (L-BFGS, warm-started), at every trial.
  No additive part, no per-choice weights. About 3 times the cost.
* ``gp-kernel-per-choice``: the same, with one length-scale per choice of a parameter (two
  configurations that differ in ``d`` are ``(l_a + l_b) / 2`` apart, as in the package's
  kernel), refitted when the trials have grown by half (the package's schedule).
"""

from __future__ import annotations

from collections.abc import Callable
import itertools
from typing import Any

import numpy as np
from scipy import linalg
from scipy import optimize
from scipy import special
from scipy import stats

from optuna_rena._sampler import candidates
from optuna_rena._sampler import world_model
from optuna_rena._sampler.gp import Features

NAMES = ("exhaustive", "copula", "yeo-johnson", "gp-kernel", "gp-kernel-per-choice")
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
    elif name == "gp-kernel":
        world_model.GaussianProcess = _GPSamplerKernel  # type: ignore[misc]
    elif name == "gp-kernel-per-choice":
        world_model.GaussianProcess = _GPSamplerKernelPerChoice  # type: ignore[misc]
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
    fit = world_model.WorldModel.fit

    def warped_fit(self: world_model.WorldModel, o: world_model.Observations) -> Any:
        objective = o.objective.copy()
        ok = np.isfinite(objective)
        if ok.sum() >= 3:
            # Monotone: the best feasible trial stays the best, in the warped values.
            objective[ok] = transform(objective[ok])
        return fit(self, world_model.Observations(o.features, objective, o.constraints,
                                                  o.feasible))

    world_model.WorldModel.fit = warped_fit  # type: ignore[method-assign]


class _GPSamplerKernel:
    """A stand-in for the package's GaussianProcess (the methods the acquisition calls)
    with GPSampler's kernel, priors and fit (``optuna/_gp/gp.py``, ``prior.py``)."""

    per_choice = False
    growth = 0.0  # 0: refit at every trial
    _MIN_NOISE = 1e-6  # GPSampler's floor
    _ROWS = 256

    def __init__(self, keep: str = "largest", learn_relevance: bool = True) -> None:
        self._x: Features | None = None
        self._y = np.zeros(0)
        self._raw: np.ndarray | None = None  # log length-scale factors, scale, noise
        self._fitted_on = 0
        self._mean, self._std = 0.0, 1.0
        self._widths: np.ndarray | None = None

    n = property(lambda self: len(self._y))

    def _differences(self, a: Features, b: Features) -> np.ndarray:
        """(len(a), len(b), dims): what each dimension adds to the squared distance."""
        if self.per_choice:
            assert self._widths is not None
            columns = []
            for d, width in enumerate(self._widths):
                # Codes: absent (-1), each choice, and any choice unseen when fitted.
                ca = np.minimum(a.categorical[:, d] + 1, width - 1)
                cb = np.minimum(b.categorical[:, d] + 1, width - 1)
                one_a, one_b = np.eye(width)[ca], np.eye(width)[cb]
                columns.append(0.5 * (one_a[:, None, :] != one_b[None, :, :]))
            parts = columns
        else:
            parts = [(a.categorical[:, None, :] != b.categorical[None, :, :]).astype(float)]
        if a.numeric.shape[1]:
            xa, xb = np.nan_to_num(a.numeric, nan=-1.0), np.nan_to_num(b.numeric, nan=-1.0)
            parts.append(np.square(xa[:, None, :] - xb[None, :, :]))
        return np.concatenate(parts, axis=2)

    @staticmethod
    def _matern(d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Matern-5/2 of the squared distance and its derivative by it."""
        r = np.sqrt(5.0 * d2)
        e = np.exp(-r)
        return e * (5.0 / 3.0 * d2 + r + 1.0), -5.0 / 6.0 * (r + 1.0) * e

    def fit(self, x: Features, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=float)
        if len(y) > self._ROWS:  # the best and the most recent, as the package keeps
            rows = np.union1d(np.argsort(-y)[:self._ROWS // 8],
                              np.arange(len(y) - 7 * self._ROWS // 8, len(y)))
            x, y = x.take(rows), y[rows]
        if self.per_choice:
            # The absent code, the choices seen, and one column for any choice not seen:
            # it is the only one of its column, so one weight serves every unseen choice.
            seen = x.categorical.max(axis=0, initial=-1) + 3
            self._widths = seen if self._widths is None else np.maximum(self._widths, seen)
        self._x, self._y = x, y
        self._mean = float(y.mean()) if len(y) else 0.0
        self._std = float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0
        z = (y - self._mean) / self._std
        diff = self._differences(x, x)
        dims = diff.shape[2]
        if self._raw is None or len(self._raw) != dims + 2:
            self._raw = np.concatenate([np.zeros(dims), [0.0], [np.log(1e-2)]])
        due = (len(y) > self._fitted_on if self.growth == 0.0
               else len(y) >= self.growth * self._fitted_on)
        if len(y) >= 2 and due:
            self._fitted_on = len(y)
            self._raw = optimize.minimize(
                self._negative_posterior, self._raw, args=(diff, z), jac=True,
                method="L-BFGS-B", bounds=[(-8.0, 8.0)] * dims + [(-5.0, 5.0), (-14.0, 2.0)]).x
        lengths, scale, noise = self._unpack(self._raw)
        k = scale * self._matern(diff @ lengths)[0] + noise * np.eye(len(z))
        self._chol = linalg.cholesky(k, lower=True, check_finite=False)
        self._alpha = linalg.cho_solve((self._chol, True), z, check_finite=False)

    def _unpack(self, raw: np.ndarray) -> tuple[np.ndarray, float, float]:
        dims = len(raw) - 2
        return np.exp(raw[:dims]), float(np.exp(raw[dims])), float(
            np.exp(raw[dims + 1]) + self._MIN_NOISE)

    def _negative_posterior(self, raw: np.ndarray, diff: np.ndarray, z: np.ndarray
                            ) -> tuple[float, np.ndarray]:
        """Minus (log marginal likelihood + GPSampler's log prior), and its gradient by
        the raw (log) parameters."""
        dims = len(raw) - 2
        lengths, scale, noise = self._unpack(raw)
        value, slope = self._matern(diff @ lengths)
        k = scale * value + noise * np.eye(len(z))
        try:
            chol = linalg.cholesky(k, lower=True, check_finite=False)
        except linalg.LinAlgError:
            return 1e10, np.zeros_like(raw)
        alpha = linalg.cho_solve((chol, True), z, check_finite=False)
        inverse = linalg.cho_solve((chol, True), np.eye(len(z)), check_finite=False)
        evidence = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
        b = 0.5 * (np.outer(alpha, alpha) - inverse)  # d evidence = sum(b * dK)
        grad = np.empty_like(raw)
        grad[:dims] = np.einsum("ij,ijd->d", b * scale * slope, diff) * lengths
        grad[dims] = (b * value).sum() * scale
        grad[dims + 1] = np.trace(b) * (noise - self._MIN_NOISE)
        # optuna/_gp/prior.py: -(0.1 / l + 0.1 l) per inverse squared length-scale,
        # Gamma(2, 1) on the scale, Gamma(1.1, 30) on the noise.
        evidence += (-(0.1 / lengths + 0.1 * lengths).sum() + np.log(scale) - scale
                     + 0.1 * np.log(noise) - 30.0 * noise)
        grad[:dims] += 0.1 / lengths - 0.1 * lengths
        grad[dims] += 1.0 - scale
        grad[dims + 1] += (0.1 / noise - 30.0) * (noise - self._MIN_NOISE)
        return -evidence, -grad

    def predict(self, x: Features) -> tuple[np.ndarray, np.ndarray]:
        if self._x is None or self.n == 0:
            return np.full(len(x), self._mean), np.full(len(x), self._std)
        assert self._raw is not None
        lengths, scale, _ = self._unpack(self._raw)
        k = scale * self._matern(self._differences(x, self._x) @ lengths)[0]
        v = linalg.solve_triangular(self._chol, k.T, lower=True, check_finite=False)
        variance = np.maximum(scale - np.square(v).sum(axis=0), 1e-12)
        return self._mean + self._std * (k @ self._alpha), self._std * np.sqrt(variance)


class _GPSamplerKernelPerChoice(_GPSamplerKernel):
    """One length-scale per choice, refitted on the package's geometric schedule."""

    per_choice = True
    growth = 1.5
