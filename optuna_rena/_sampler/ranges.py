"""Integer and float ranges as the sampler reads them, in one place (as Optuna's
``optuna/_gp/search_space.py`` does): a value on the range's own scale (log for a log
range), scaled to [0, 1], and a number on that scale put back onto the range's grid.

The decisions' bins, the world model's features and the local moves all go through
these, so a value means the same to each of them.
"""

from __future__ import annotations

import math

from optuna.distributions import BaseDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution


Range = IntDistribution | FloatDistribution


def _range(d: BaseDistribution) -> Range:
    assert isinstance(d, (IntDistribution, FloatDistribution))
    return d


def scale_bounds(d: BaseDistribution) -> tuple[float, float]:
    """The range's bounds on its own scale: log for a log range."""
    d = _range(d)
    return (math.log(d.low), math.log(d.high)) if d.log else (d.low, d.high)


def to_scale(d: BaseDistribution, value: float) -> float:
    """A value of the range on its own scale."""
    return math.log(value) if _range(d).log else float(value)


def normalise(d: BaseDistribution, value: float) -> float:
    """A value of the range scaled to [0, 1] (0.5 for a range of one value)."""
    d = _range(d)
    if d.high == d.low:
        return 0.5
    low, high = scale_bounds(d)
    return (to_scale(d, value) - low) / (high - low)


def from_scale(d: BaseDistribution, x: float) -> int | float:
    """The value of the range nearest to ``x`` on its scale: snapped to its step and
    clipped to its bounds; an int for an integer range."""
    d = _range(d)
    if d.log:
        x = math.exp(x)
    if d.step is not None:
        x = d.low + round((x - d.low) / d.step) * d.step
    x = min(max(x, d.low), d.high)
    return int(round(x)) if isinstance(d, IntDistribution) else float(x)
