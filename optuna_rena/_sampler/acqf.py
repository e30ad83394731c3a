"""Acquisition functions: how much a candidate is worth evaluating, by the world model's
posterior and the budget.

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
import math

import numpy as np
from scipy import special


_BROKEN = -1e200  # per unit of exact violation: below any score of a candidate that meets it
_TIE_BREAK = 1e-3  # the predicted objective's weight while nothing is feasible


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
    score = np.zeros(len(mean))
    for c_mean, c_std in constraints:
        score += log_probability_feasible(c_mean, c_std)
    if best is not None:
        score += log_expected_improvement(mean, std, best)
    else:
        # A tie-breaker among this call's candidates. Its scale is the call's own, so
        # scores of two calls compare loosely; a fixed scale is left for later, since
        # the committed benchmarks ran with this one.
        spread = max(float(np.std(mean)), 1e-12)
        score += _TIE_BREAK * (mean - mean.mean()) / spread
    if exact is not None:
        broken = np.array([sum(max(0.0, v) for v in row.values()) for row in exact])
        # A tier of its own: ranked by how much, never above one that meets it.
        score = np.where(broken > 0, _BROKEN * (1.0 + broken), score)
    return score


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """``log E[max(0, f - best)]`` for ``f ~ N(mean, std^2)``, stable far below ``best``."""
    z = (mean - best) / std
    # E = std * h(z), h(z) = phi(z) + z Phi(z). Far below best, h is a difference of
    # nearly equal numbers; there h = phi(z) (1 + z Phi(z) / phi(z)) with the ratio
    # Phi(z) / phi(z) = sqrt(pi / 2) erfcx(-z / sqrt(2)), which stays accurate.
    log_h = np.empty_like(z)
    near = z > -1.0
    zn = z[near]
    log_h[near] = np.log(np.exp(-0.5 * zn * zn) / math.sqrt(2 * math.pi) + zn * special.ndtr(zn))
    zf = z[~near]
    ratio = math.sqrt(math.pi / 2) * special.erfcx(-zf / math.sqrt(2))
    log_h[~near] = (-0.5 * zf * zf - 0.5 * math.log(2 * math.pi)
                    + np.log1p(np.maximum(zf * ratio, -1.0 + 1e-16)))
    return np.log(std) + log_h


def log_probability_feasible(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``log P(c <= 0)`` for ``c ~ N(mean, std^2)``."""
    return special.log_ndtr(-mean / std)
