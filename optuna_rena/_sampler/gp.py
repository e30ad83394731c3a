"""The world model's regressor: an exact Gaussian process on configurations.

Each output that the world model predicts (each objective that is not counted, and each
constraint value that trials recorded) has its own process on the same features: a code per categorical choice
and the numeric values scaled to [0, 1] (and, with a space, a few structural numbers of
the child network). The kernel mixes an additive part, which suits outputs that are sums
of per-decision effects (parameters, FLOPs, latency of a cell), with a joint part over the
whole configuration, which captures interactions (accuracy):

``k(x, y) = w * (1 / D) sum_d k_d(x_d, y_d) + (1 - w) * exp(-sum_d delta_d(x, y) / (theta * D))``

with ``D`` the number of features, ``k_d`` the indicator of equal choices (categorical) or
``exp(-delta_d)`` (numeric), and ``delta_d`` 1 for differing choices or
``(x_d - y_d)^2 / 0.25^2`` for numbers. Outputs are standardised; ``w``, ``theta`` and the
noise are picked by marginal likelihood on a small grid (on at most 256 of the
observations). They are picked at the first fit and again whenever the observations have
grown by half since the last pick (at 10 observations at the earliest): from 8
observations, at 12, 18, 27, 41, ..., so up to 256 observations a process refits
``O(log n)`` times; beyond, it conditions on a subset (see :class:`GaussianProcess`) and
refits each time the subset is drawn afresh, every 128 observations. Between picks the
Cholesky factor grows by one row per observation, ``O(n^2)``.

When every feature is categorical (a NAS cell, a plain search space of choices), each
pick also learns how much each choice matters: ``delta_d`` becomes the mean weight of
the two differing choices, the weights fitted by marginal likelihood (L-BFGS with an
analytic gradient, on at most 128 observations). It is an ARD kernel on the one-hot code,
as GPSampler's: in NAS-Bench-201 an edge set to ``none`` cuts a path and makes other
edges irrelevant, and the shared length-scale predicted an unseen twin of the best cell
20 points too low.

numpy and scipy only: a few hundred observations need nothing more. Their linear algebra
runs on one BLAS thread (:mod:`.thread_limiting`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import copy
import itertools
import math
from typing import Literal

import numpy as np
from scipy import linalg
from scipy import optimize

from optuna_rena._sampler.thread_limiting import one_blas_thread


_NUMERIC_SCALE = 0.25  # a numeric difference of this much counts as one differing choice
_WEIGHTS = (0.0, 0.5, 0.9)
_THETAS = (0.5, 1.0, 2.0, 4.0)  # times the number of features
_NOISES = (1e-4, 1e-2, 1e-1)
_REFIT_GROWTH = 1.5  # hyperparameters are refitted when the observations grow by this factor
_MAX_ROWS = 256  # observations a process conditions on; beyond, a subset (see GaussianProcess)
_RELEVANCE_ROWS = 128  # observations that the choices' relevance is fitted on
_RELEVANCE_STEPS = 30  # L-BFGS iterations
_LOG_RELEVANCE = (-2.5, 2.5)  # bounds of a choice's log weight
_RELEVANCE_PRIOR = 1.0
"""The standard deviation of a choice's log weight under its prior (centred on weight 1,
every choice as relevant as the shared length-scale makes it). Without it, 30 L-BFGS
steps on a few dozen observations overfit: on NAS-Bench-201 cells the predictions were
overconfident (71-83 % of the table within two standard deviations) and ranked accuracy
worse than the shared length-scale did; with it, 92-94 % and better ranks than either
(``benchmarks/pareto.md``)."""
_SELECTION = 256  # rows that pick the kernel (the committed quality benchmarks stop at 200)


@dataclass(frozen=True)
class Features:
    """Configurations as the kernel reads them.

    Attributes:
        categorical: ``(n, c)`` choice indices; ``-1`` where the parameter is absent.
        numeric: ``(n, m)`` values scaled to [0, 1]; NaN where absent.
    """

    categorical: np.ndarray
    numeric: np.ndarray

    def __len__(self) -> int:
        return len(self.categorical)

    @property
    def dims(self) -> int:
        return self.categorical.shape[1] + self.numeric.shape[1]

    def take(self, rows: np.ndarray | Sequence[int]) -> Features:
        rows = np.asarray(rows, dtype=int)
        if len(rows) == len(self) and (rows == np.arange(len(self))).all():
            return self  # the same object, so that predictions can share their distances
        return Features(self.categorical[rows], self.numeric[rows])

    @staticmethod
    def stack(parts: Sequence[Features]) -> Features:
        return Features(np.concatenate([p.categorical for p in parts]),
                        np.concatenate([p.numeric for p in parts]))


def _one_hot(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both code matrices as one-hot rows over the same columns, so that ``A @ B.T`` counts
    the equal choices of each pair."""
    offsets = np.concatenate([[0], np.cumsum(np.maximum(a.max(axis=0, initial=-1),
                                                        b.max(axis=0, initial=-1)) + 2)])
    width = int(offsets[-1])

    def encode(codes: np.ndarray) -> np.ndarray:
        out = np.zeros((len(codes), width))
        if codes.shape[1]:
            # Code -1 (absent) gets a column of its own: two absences are equal.
            out[np.arange(len(codes))[:, None], offsets[:-1] + codes + 1] = 1.0
        return out

    return encode(a), encode(b), offsets


def _column_weights(relevance: list[np.ndarray], offsets: np.ndarray) -> np.ndarray:
    """The weight of each one-hot column; a choice the weights were not fitted on
    weighs 1, as every choice does without them."""
    widths = np.diff(offsets).astype(int)
    out = np.ones(int(offsets[-1]))
    for f, w in enumerate(relevance):
        k = min(len(w), widths[f])
        out[int(offsets[f]):int(offsets[f]) + k] = w[:k]
    return out


def _parts(a: Features, b: Features, relevance: list[np.ndarray] | None = None
           ) -> tuple[np.ndarray, np.ndarray, int]:
    """Per pair of rows: the summed distance ``sum_d delta_d`` and the summed additive
    similarity ``sum_d k_d``, and the number of features. With ``relevance``, a
    categorical ``delta_d`` is the mean weight of the two choices where they differ."""
    dims = max(1, a.dims)
    one_a, one_b, offsets = _one_hot(a.categorical, b.categorical)
    similarity = one_a @ one_b.T
    if relevance is None:
        distance = a.categorical.shape[1] - similarity
    else:
        w = _column_weights(relevance, offsets)
        distance = (0.5 * (one_a @ w)[:, None] + 0.5 * (one_b @ w)[None, :]
                    - (one_a * w) @ one_b.T)
    if a.numeric.shape[1]:
        # In place and in single precision: these (candidates x observations) passes are
        # most of a plan's cost outside the triangular solves, float32 halves their
        # memory traffic and speeds the exponentials, and a kernel value needs no more
        # than its 7 digits (the kernel matrix is factorised in double precision).
        xa = (np.nan_to_num(a.numeric, nan=-1.0) / _NUMERIC_SCALE).astype(np.float32)
        xb = (np.nan_to_num(b.numeric, nan=-1.0) / _NUMERIC_SCALE).astype(np.float32)
        squared = np.zeros(distance.shape, dtype=np.float32)
        near, delta, term = np.zeros_like(squared), np.empty_like(squared), np.empty_like(squared)
        for j in range(xa.shape[1]):
            np.subtract(xa[:, j, None], xb[None, :, j], out=delta)
            np.square(delta, out=delta)
            squared += delta
            np.negative(delta, out=term)
            near += np.exp(term, out=term)
        distance = distance + squared
        similarity = similarity + near
    return distance, similarity, dims


@dataclass(frozen=True)
class _Kernel:
    weight: float
    theta: float  # per feature
    noise: float

    def __call__(self, distance: np.ndarray, similarity: np.ndarray, dims: int) -> np.ndarray:
        joint = np.exp(-distance / (self.theta * dims))
        return self.weight * similarity / dims + (1.0 - self.weight) * joint


class GaussianProcess:
    """An exact Gaussian process on :class:`Features` for one output.

    Up to ``_MAX_ROWS`` observations it conditions on all of them. Beyond, on a subset
    that grows by each new observation and is drawn afresh when it reaches 1.5 times
    that: the eighth of the observations that matter most (``keep``: the largest values,
    for an objective; the values nearest 0, for a constraint, whose boundary is what
    counts), the most recent half, and a random rest. A trial's cost then stays bounded
    however long the study runs.

    When every feature is categorical, each refit also learns how much each choice
    matters (:meth:`_fit_relevance`).

    Args:
        keep: Which observations a subset keeps first: ``"largest"`` or ``"near_zero"``.
        learn_relevance: Learn the choices' relevance; ``False`` keeps one length-scale.
    """

    def __init__(self, keep: Literal["largest", "near_zero"] = "largest",
                 learn_relevance: bool = True) -> None:
        self._keep = keep
        self._learn_relevance = learn_relevance
        self._rows: np.ndarray | None = None  # the caller's rows in the subset
        self._given = 0  # rows the caller has given so far
        self._kernel: _Kernel | None = None
        self._relevance: list[np.ndarray] | None = None  # per feature, per choice
        self._x: Features | None = None
        self._y = np.zeros(0)
        self._mean = 0.0
        self._scale = 1.0
        self._chol = np.zeros((0, 0))
        self._chol32: np.ndarray | None = None  # made when first predicted with
        self._alpha = np.zeros(0)
        self._next_refit = 0

    @property
    def n(self) -> int:
        return len(self._y)

    def fit(self, x: Features, y: np.ndarray) -> None:
        """Condition on observations ``(x, y)``; ``x`` extends what was fitted before by
        new rows at the end, or replaces it (then everything is refitted)."""
        y = np.asarray(y, dtype=float)
        rows = self._rows_to_fit(y)
        with one_blas_thread():
            self._fit(x.take(rows), y[rows])

    def _rows_to_fit(self, y: np.ndarray) -> np.ndarray:
        n = len(y)
        rows = self._rows
        if n <= _MAX_ROWS:
            rows = np.arange(n)
        elif rows is None or n < self._given or len(rows) + n - self._given > (
                3 * _MAX_ROWS) // 2:
            key = -y if self._keep == "largest" else np.abs(y)
            first = np.union1d(np.argsort(key, kind="stable")[:_MAX_ROWS // 8],
                               np.arange(n - _MAX_ROWS // 2, n))
            rest = np.setdiff1d(np.arange(n), first)
            drawn = np.random.RandomState(n).choice(rest, _MAX_ROWS - len(first),
                                                    replace=False)
            rows = np.sort(np.concatenate([first, drawn]))
        else:
            rows = np.concatenate([rows, np.arange(self._given, n)])
        self._rows, self._given = rows, n
        return rows

    def _fit(self, x: Features, y: np.ndarray) -> None:
        grows = (self._x is not None and self._kernel is not None and len(x) >= self.n
                 and np.array_equal(x.categorical[:self.n], self._x.categorical)
                 and np.array_equal(x.numeric[:self.n], self._x.numeric, equal_nan=True)
                 and np.array_equal(y[:self.n], self._y))
        if not grows or len(x) >= self._next_refit:
            self._refit(x, y)
        elif len(x) > self.n:
            self._extend(x, y)

    def _standardise(self, y: np.ndarray) -> np.ndarray:
        self._mean = float(y.mean()) if len(y) else 0.0
        self._scale = float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0
        return (y - self._mean) / self._scale

    def _refit(self, x: Features, y: np.ndarray) -> None:
        self._x, self._y = x, y
        z = self._standardise(y)
        # The grid's marginal likelihoods are compared on at most _SELECTION rows: a
        # random few hundred pick the same few hyperparameters as thousands, at a
        # fraction of the 36 factorisations' cost.
        rows = np.arange(len(z))
        if len(z) > _SELECTION:
            rows = np.sort(np.random.RandomState(len(z)).choice(len(z), _SELECTION,
                                                                replace=False))
        sub_x, sub_z = x.take(rows), z[rows]
        distance, similarity, dims = _parts(sub_x, sub_x)
        best: tuple[float, _Kernel, np.ndarray] | None = None
        for w, t, s in itertools.product(_WEIGHTS, _THETAS, _NOISES):
            kernel = _Kernel(w, t, s)
            k = kernel(distance, similarity, dims) + s * np.eye(len(sub_z))
            try:
                chol = linalg.cholesky(k, lower=True, check_finite=False)
            except linalg.LinAlgError:
                continue
            alpha = linalg.cho_solve((chol, True), sub_z, check_finite=False)
            evidence = -0.5 * sub_z @ alpha - np.log(np.diag(chol)).sum()
            if best is None or evidence > best[0]:
                best = (evidence, kernel, chol)
        assert best is not None  # the largest noise keeps K positive definite
        self._kernel = best[1]
        self._next_refit = max(10, int(math.ceil(_REFIT_GROWTH * len(z))))
        self._relevance = None
        if (self._learn_relevance and x.numeric.shape[1] == 0 and x.categorical.shape[1]
                and len(sub_z) >= 10):
            # Only categorical parameters (a cell, a plain search space of choices): the
            # choices' relevance is learnt. Numbers (a space's counted structure, a
            # float parameter) keep the shared length-scale, which serves them well.
            self._relevance = self._fit_relevance(sub_x, sub_z)
            self._refit_with_kernel(x, y)
            return
        if len(rows) < len(z):
            self._refit_with_kernel(x, y)
            return
        self._set_factor(best[2], z)

    def _fit_relevance(self, x: Features, z: np.ndarray) -> list[np.ndarray]:
        """Per feature, the weight of each choice in the joint kernel's distance, by
        marginal likelihood with a normal prior on the log weights (``_RELEVANCE_PRIOR``;
        L-BFGS, analytic gradient), with the grid's kernel fixed; on at most
        ``_RELEVANCE_ROWS`` observations.

        Two configurations that differ in feature ``d`` are ``(w_a + w_b) / 2`` apart
        instead of 1, ``a`` and ``b`` their choices: as an ARD kernel on the one-hot code
        (GPSampler's), a choice that matters (an edge set to ``none``, which cuts a path
        of a NAS-Bench-201 cell) moves a prediction far, and choices that do not, little.
        """
        kernel = self._kernel
        assert kernel is not None
        if len(z) > _RELEVANCE_ROWS:
            rows = np.sort(np.random.RandomState(len(z) + 1).choice(
                len(z), _RELEVANCE_ROWS, replace=False))
            x, z = x.take(rows), z[rows]
        one, _, offsets = _one_hot(x.categorical, x.categorical)
        width = kernel.theta * max(1, x.dims)
        fixed = kernel.weight * (one @ one.T) / max(1, x.dims) + kernel.noise * np.eye(len(z))

        def negative_evidence(u: np.ndarray) -> tuple[float, np.ndarray]:
            w = np.exp(u)
            own = one @ w
            distance = 0.5 * own[:, None] + 0.5 * own[None, :] - (one * w) @ one.T
            joint = np.exp(-distance / width)
            try:
                chol = linalg.cholesky(fixed + (1.0 - kernel.weight) * joint, lower=True,
                                       check_finite=False)
            except linalg.LinAlgError:
                return 1e10, np.zeros_like(u)
            alpha = linalg.cho_solve((chol, True), z, check_finite=False)
            inverse = linalg.cho_solve((chol, True), np.eye(len(z)), check_finite=False)
            evidence = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
            # d evidence / d w_c = 0.5 tr((alpha alpha^T - K^-1) dK/dw_c), where
            # dK/dw_c = -(1 - weight) / width * joint * M_c and M_c(i, j) is 1/2 when
            # exactly one of rows i, j has choice c: sum_ij B_ij M_c(i, j) is
            # (B 1)^T one_c - one_c^T B one_c.
            b = (np.outer(alpha, alpha) - inverse) * joint
            through = b.sum(axis=1) @ one - np.einsum("ic,ij,jc->c", one, b, one)
            gradient = -0.5 * (1.0 - kernel.weight) / width * through * w
            # The log prior, so the optimum is a posterior mode.
            evidence -= 0.5 * float(u @ u) / _RELEVANCE_PRIOR**2
            gradient -= u / _RELEVANCE_PRIOR**2
            return -evidence, -gradient

        result = optimize.minimize(
            negative_evidence, np.zeros(one.shape[1]), jac=True, method="L-BFGS-B",
            bounds=[_LOG_RELEVANCE] * one.shape[1], options={"maxiter": _RELEVANCE_STEPS})
        w = np.exp(result.x)
        return [w[int(offsets[f]):int(offsets[f + 1])] for f in range(len(offsets) - 1)]

    def _refit_with_kernel(self, x: Features, y: np.ndarray) -> None:
        """Condition on ``(x, y)`` from scratch with the current kernel."""
        assert self._kernel is not None
        self._x, self._y = x, y
        z = (y - self._mean) / self._scale
        k = self._kernel(*_parts(x, x, self._relevance)) + self._kernel.noise * np.eye(len(y))
        self._set_factor(linalg.cholesky(k, lower=True, check_finite=False), z)

    def believing(self, pending: Features) -> GaussianProcess:
        """This process also conditioned on ``pending`` configurations (running trials)
        at its own posterior mean there: the kriging believer. The mean stays where it
        is, and the uncertainty near a pending point shrinks as if it had been
        observed, so the acquisition turns to other regions. The kernel and the
        standardisation stay; ``self`` is unchanged."""
        if self._kernel is None or self._x is None or self.n == 0 or not len(pending):
            return self
        mean, _ = self.predict(pending)
        believer = copy.copy(self)
        with one_blas_thread():
            believer._extend(Features.stack([self._x, pending]),
                             np.concatenate([self._y, mean]))
        return believer

    def _extend(self, x: Features, y: np.ndarray) -> None:
        """Add the new rows to the Cholesky factor, keeping the kernel and the
        standardisation (both are refitted on the geometric schedule)."""
        assert self._kernel is not None and self._x is not None
        old = self.n
        new = x.take(range(old, len(x)))
        d_new, s_new, dims = _parts(new, x, self._relevance)
        k_new = self._kernel(d_new, s_new, dims)
        k_new[:, old:] += self._kernel.noise * np.eye(len(new))
        # Block Cholesky: the old factor is kept, the new rows are solved against it.
        if old:
            l_new = linalg.solve_triangular(self._chol, k_new[:, :old].T, lower=True,
                                            check_finite=False).T
        else:
            l_new = np.zeros((len(new), 0))
        schur = k_new[:, old:] - l_new @ l_new.T
        if len(new) == 1:
            l_corner = np.sqrt(np.maximum(schur, 1e-12))
        else:
            try:
                l_corner = linalg.cholesky(schur, lower=True, check_finite=False)
            except linalg.LinAlgError:
                self._refit_with_kernel(x, y)
                return
        chol = np.zeros((len(x), len(x)), order="F")  # as LAPACK keeps it: no copies
        chol[:old, :old] = self._chol
        chol[old:, :old] = l_new
        chol[old:, old:] = l_corner
        self._x, self._y = x, y
        self._set_factor(chol, (y - self._mean) / self._scale)

    def _set_factor(self, chol: np.ndarray, z: np.ndarray) -> None:
        """Take the Cholesky factor of the kernel matrix and the weights it gives."""
        self._chol, self._chol32 = chol, None
        self._alpha = linalg.cho_solve((chol, True), z, check_finite=False)

    def predict(self, x: Features) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the output at each row of ``x``."""
        return GaussianProcess.predict_together([self], x)[0]

    @staticmethod
    def predict_together(processes: Sequence[GaussianProcess], x: Features
                         ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each process's posterior mean and standard deviation at ``x``.

        Processes fitted on the same observations with the shared length-scale see ``x`` at
        the same distances, computed once: those (candidates x observations) passes are most
        of a prediction's cost. Another object in ``processes`` (a replacement regressor with
        a ``predict(x)`` of its own) predicts alone.
        """
        shared: list[tuple[Features, tuple[np.ndarray, np.ndarray, int]]] = []
        out = []
        with one_blas_thread():
            for gp in processes:
                if not isinstance(gp, GaussianProcess):
                    out.append(gp.predict(x))
                    continue
                if gp._kernel is None or gp._x is None or gp.n == 0:
                    out.append((np.full(len(x), gp._mean), np.full(len(x), gp._scale)))
                    continue
                parts = None
                if gp._relevance is None:
                    parts = next((p for inputs, p in shared if inputs is gp._x), None)
                if parts is None:
                    parts = _parts(x, gp._x, gp._relevance)
                    if gp._relevance is None:
                        shared.append((gp._x, parts))
                out.append(gp._predict(x, parts))
        return out

    @property
    def relevance(self) -> list[np.ndarray] | None:
        """Per categorical feature, its choices' weights (index ``code + 1``; 0 is the
        absent code), or ``None`` for the shared length-scale."""
        return self._relevance

    def _predict(self, x: Features, parts: tuple[np.ndarray, np.ndarray, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
        assert self._kernel is not None and self._x is not None
        k = self._kernel(*parts)
        mean = k @ self._alpha
        # The variance's solve in single precision, at half the cost: for a candidate
        # (never a point already observed) it is far above the float32 error of
        # ``sum(v * v)``, about 1e-7. The factor itself is fitted in double precision.
        if self._chol32 is None:
            self._chol32 = self._chol.astype(np.float32, order="F")
        v = linalg.solve_triangular(self._chol32, k.T.astype(np.float32), lower=True,
                                    check_finite=False)
        # The prior variance of k(x, x) is 1: both parts are 1 at distance 0.
        variance = np.maximum(1.0 - np.square(v, dtype=np.float64).sum(axis=0), 1e-12)
        return self._mean + self._scale * mean, self._scale * np.sqrt(variance)


predict_together = GaussianProcess.predict_together
