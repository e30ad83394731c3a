"""Pareto fronts as the sampler needs them, every objective larger-is-better: which rows
are not dominated, and in which front each row lies (the policy's reward), the reference
point, and the region that a new point would add to
the front's hypervolume, as boxes (what the expected hypervolume improvement sums over).
Fronts of a task or a study, in their objectives' own directions, are
:mod:`optuna_rena._pareto`'s and :mod:`optuna_rena._front`'s.
"""

from __future__ import annotations

import itertools

import numpy as np
from optuna.study._multi_objective import _is_pareto_front


_REFERENCE_MARGIN = 0.1
"""How far below the worst value seen, as a share of the values' range, the reference
point lies on each objective: a point that is worst on one objective still adds volume,
as GPSampler's reference point (10 % beyond the worst) lets it."""


def non_dominated(points: np.ndarray) -> np.ndarray:
    """A mask of the rows of ``points`` (n, k) that no other row dominates (at least as
    large on every objective and larger on one); equal rows are all kept."""
    return _is_pareto_front(-points, assume_unique_lexsorted=False)


def pareto_depths(points: np.ndarray) -> np.ndarray:
    """Each row's front (0 for the non-dominated, 1 for those only they dominate, ...),
    every objective larger-is-better; equal rows share a front."""
    depth = np.full(len(points), -1)
    left = np.arange(len(points))
    d = 0
    while len(left):
        front = non_dominated(points[left])
        depth[left[front]] = d
        left = left[~front]
        d += 1
    return depth


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
