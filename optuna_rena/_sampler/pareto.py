"""Pareto fronts for the world model, every objective larger-is-better: which points are
not dominated, the reference point, and the region that a new point would add to the
front's hypervolume, as boxes (what the expected hypervolume improvement sums over).
"""

from __future__ import annotations

import itertools

import numpy as np


_REFERENCE_MARGIN = 0.1
"""How far below the worst value seen, as a share of the values' range, the reference
point lies on each objective: a point that is worst on one objective still adds volume,
as GPSampler's reference point (10 % beyond the worst) lets it."""


def non_dominated(points: np.ndarray) -> np.ndarray:
    """A mask of the rows of ``points`` (n, k) that no other row dominates (at least as
    large on every objective and larger on one). Of equal rows, the first is kept."""
    n = len(points)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        p = points[i]
        at_least = (points >= p).all(axis=1)
        dominated_by_other = at_least & (points > p).any(axis=1)
        equal_earlier = at_least & (points <= p).all(axis=1) & (np.arange(n) < i)
        if dominated_by_other.any() or equal_earlier.any():
            keep[i] = False
            continue
        # What p dominates is out, which keeps the loop near-linear on big sets.
        keep &= ~((points <= p).all(axis=1) & (points < p).any(axis=1))
    return keep


def reference_point(values: np.ndarray) -> np.ndarray:
    """Below the worst of ``values`` (n, k) on each objective by ``_REFERENCE_MARGIN`` of
    the range (of the value's size when the range is 0)."""
    low, high = values.min(axis=0), values.max(axis=0)
    spread = np.where(high > low, high - low, np.maximum(np.abs(low), 1.0) * 1e-3)
    return low - _REFERENCE_MARGIN * spread


def improvement_boxes(front: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes, disjoint, whose union is the region above ``reference`` that ``front``
    (non-dominated, every point above ``reference``) does not dominate: the hypervolume
    improvement of a point ``y`` is the volume of ``[reference, y]`` inside them.

    The grid of the front's coordinates on the first ``k - 1`` objectives cuts that
    region into columns; in each, the region is one box, from the highest front point
    that dominates the column's upper corner up to infinity on the last objective. So
    there are at most ``(len(front) + 1) ** (k - 1)`` boxes: exact strips for two
    objectives.

    Returns:
        The lower and the upper corners, each (boxes, k); upper corners may be infinite.
    """
    k = len(reference)
    if k == 1:
        top = front.max(initial=reference[0])
        return np.array([[top]]), np.array([[np.inf]])
    cuts = [np.concatenate([[reference[j]], np.unique(front[:, j]), [np.inf]])
            for j in range(k - 1)]
    lowers, uppers = [], []
    for cell in itertools.product(*[range(len(c) - 1) for c in cuts]):
        low = np.array([cuts[j][a] for j, a in enumerate(cell)])
        high = np.array([cuts[j][a + 1] for j, a in enumerate(cell)])
        covering = (front[:, :k - 1] >= high).all(axis=1) if len(front) else np.zeros(0, bool)
        floor = front[covering, k - 1].max(initial=reference[k - 1])
        lowers.append(np.append(low, floor))
        uppers.append(np.append(high, np.inf))
    return np.array(lowers), np.array(uppers)


def hypervolume(front: np.ndarray, reference: np.ndarray) -> float:
    """The volume that ``front`` dominates above ``reference`` (for tests and reports;
    small fronts)."""
    above = front[(front > reference).all(axis=1)]
    if not len(above):
        return 0.0
    # The volume of [reference, the front's bounding box] minus what the boxes leave.
    top = above.max(axis=0)
    lower, upper = improvement_boxes(above[non_dominated(above)], reference)
    upper = np.minimum(upper, top)
    free = np.prod(np.clip(upper - lower, 0.0, None), axis=1).sum()
    return float(np.prod(top - reference) - free)
