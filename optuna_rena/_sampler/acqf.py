"""Acquisition functions: how much a candidate is worth evaluating, by the world model's
posterior and the budget.

The acquisition of a configuration ``x`` is

``log EI(x) + sum_j log P(c_j(x) <= 0)``

over the constraints the world model predicts, and with several objectives

``log EHVI(x) + sum_j log P(c_j(x) <= 0)``,

the expected hypervolume improvement of the feasible front, computed exactly (not by
Monte Carlo samples as GPSampler's LogEHVI) over the boxes of :mod:`.pareto`, since the
objectives' posteriors are independent: the expectation of a product of independent
factors is the product of their expectations. An objective known exactly (an analytic
metric of a space's child) has no spread; its factor is its own overlap with the box.

A constraint that is known exactly (an
analytic metric of a space's child) is met or not, and a configuration that breaks one
ranks below every configuration that does not, by how much it breaks it. Until some
trial is feasible there is no improvement to expect: the acquisition is then the
probability of feasibility, with the predicted objective (with several, the mean of the
standardised ones) breaking ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import math

import numpy as np
from scipy import special



_BROKEN = -1e200  # per unit of exact violation: below any score of a candidate that meets it
_TIE_BREAK = 1e-3  # the predicted objective's weight while nothing is feasible
_LOG_FLOOR = -1e4  # a box's log overlap, at least: exp of it is 0, its order is kept


def acquisition(objective: tuple[np.ndarray, np.ndarray],
                constraints: Sequence[tuple[np.ndarray, np.ndarray]], best: float | None,
                exact: Sequence[Mapping[str, float]] | None = None) -> np.ndarray:
    """The acquisition of each candidate.

    Args:
        objective: The posterior mean and standard deviation of the objective (larger
            is better), per candidate.
        constraints: The same for each predicted constraint (feasible at <= 0).
        best: The best feasible objective so far, or ``None`` while nothing is feasible.
        exact: Per candidate, the violations known without the model.
    """
    mean, std = objective
    score = _log_feasible(constraints, len(mean))
    if best is not None:
        score += log_expected_improvement(mean, std, best)
    else:
        score += _tie_break(mean)
    return _exact_tier(score, exact)


def pareto_acquisition(objectives: Sequence[tuple[np.ndarray, np.ndarray]],
                       constraints: Sequence[tuple[np.ndarray, np.ndarray]],
                       boxes: tuple[np.ndarray, np.ndarray] | None,
                       exact: Sequence[Mapping[str, float]] | None = None) -> np.ndarray:
    """The acquisition of each candidate with several objectives.

    Args:
        objectives: Per objective (larger is better), the posterior mean and standard
            deviation per candidate; a standard deviation of 0 marks a value known
            exactly.
        constraints: The same for each predicted constraint (feasible at <= 0).
        boxes: The lower and upper corners of the boxes that the feasible front leaves
            above the reference point (:func:`.pareto.improvement_boxes`), or ``None``
            while nothing is feasible.
        exact: Per candidate, the violations known without the model.
    """
    n = len(objectives[0][0])
    score = _log_feasible(constraints, n)
    if boxes is not None:
        score += log_expected_hypervolume_improvement(objectives, *boxes)
    else:
        # Standardised, so that no objective's scale outweighs the others'.
        score += _tie_break(np.mean([(m - m.mean()) / max(float(np.std(m)), 1e-12)
                                     for m, _ in objectives], axis=0))
    return _exact_tier(score, exact)


def _log_feasible(constraints: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    score = np.zeros(n)
    for c_mean, c_std in constraints:
        score += log_probability_feasible(c_mean, c_std)
    return score


def _tie_break(mean: np.ndarray) -> np.ndarray:
    # A tie-breaker among this call's candidates. Its scale is the call's own, so scores
    # of two calls compare loosely; a fixed scale is left for later, since the committed
    # benchmarks ran with this one.
    spread = max(float(np.std(mean)), 1e-12)
    return _TIE_BREAK * (mean - mean.mean()) / spread


def _exact_tier(score: np.ndarray, exact: Sequence[Mapping[str, float]] | None) -> np.ndarray:
    if exact is None:
        return score
    broken = np.array([sum(max(0.0, v) for v in row.values()) for row in exact])
    # A tier of its own: ranked by how much, never above one that meets it.
    return np.where(broken > 0, _BROKEN * (1.0 + broken), score)


def log_expected_hypervolume_improvement(objectives: Sequence[tuple[np.ndarray, np.ndarray]],
                                         lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``log E[HVI(y)]`` for ``y_j ~ N(mean_j, std_j^2)`` independent, over the boxes
    (``lower``, ``upper``: corners, boxes by objectives) of the region that the front
    leaves (:func:`.pareto.improvement_boxes`): ``sum_boxes prod_j E[(min(y_j, upper_j) -
    lower_j)^+]``, in logs throughout, so that candidates far behind the front still rank
    by how far."""
    log_volume = np.zeros((len(objectives[0][0]), len(lower)))
    for j, (mean, std) in enumerate(objectives):
        log_volume += _log_overlap(mean[:, None], std[:, None], lower[None, :, j],
                                   upper[None, :, j])
    return special.logsumexp(log_volume, axis=1)


def _log_overlap(mean: np.ndarray, std: np.ndarray, low: np.ndarray,
                 high: np.ndarray) -> np.ndarray:
    """``log E[(min(y, high) - low)^+]`` for ``y ~ N(mean, std^2)``, broadcast; exact where
    ``std`` is 0. ``high`` may be infinite."""
    exact = std <= 0
    s = np.where(exact, 1.0, std)
    # E[(min(y, h) - l)^+] = s * (h(z_low) - h(z_high)), h(z) = phi(z) + z Phi(z).
    log_low = _log_h((mean - low) / s)
    with np.errstate(invalid="ignore"):
        log_high = np.where(np.isinf(high), -np.inf, _log_h((mean - high) / s))
        gap = np.log(-np.expm1(np.minimum(log_high - log_low, 0.0)))
    out = np.log(s) + log_low + gap
    if exact.any():
        with np.errstate(divide="ignore"):
            certain = np.log(np.clip(np.minimum(mean, high) - low, 0.0, None))
        out = np.where(exact, certain, out)
    # A floor keeps a candidate that adds nothing in any box comparable to another (and
    # turns the NaN of a vanishing spread into it: fmax drops NaN).
    return np.fmax(out, _LOG_FLOOR)


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """``log E[max(0, f - best)]`` for ``f ~ N(mean, std^2)``, stable far below ``best``."""
    return np.log(std) + _log_h((mean - best) / std)


def _log_h(z: np.ndarray) -> np.ndarray:
    """``log h(z)``, ``h(z) = phi(z) + z Phi(z)`` (``E[max(0, f)] = std * h(mean / std)``).
    Far below 0, h is a difference of nearly equal numbers; there ``h = phi(z) (1 + z
    Phi(z) / phi(z))`` with the ratio ``Phi(z) / phi(z) = sqrt(pi / 2) erfcx(-z /
    sqrt(2))``, which stays accurate."""
    z = np.asarray(z, dtype=float)
    log_h = np.empty_like(z)
    near = z > -1.0
    zn = z[near]
    log_h[near] = np.log(np.exp(-0.5 * zn * zn) / math.sqrt(2 * math.pi) + zn * special.ndtr(zn))
    zf = z[~near]
    ratio = math.sqrt(math.pi / 2) * special.erfcx(-zf / math.sqrt(2))
    with np.errstate(over="ignore"):  # z beyond -1e154: log h is -inf, as it should be
        log_h[~near] = (-0.5 * zf * zf - 0.5 * math.log(2 * math.pi)
                        + np.log1p(np.maximum(zf * ratio, -1.0 + 1e-16)))
    return log_h


def log_probability_feasible(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``log P(c <= 0)`` for ``c ~ N(mean, std^2)``."""
    return special.log_ndtr(-mean / std)
