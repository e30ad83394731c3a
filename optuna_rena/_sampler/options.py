"""RenaSampler's options: one frozen record, checked once, that every part reads."""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any


PLANS_PER_DREAM = 16
"""Plans in the world model between two imagined updates, and the default ``batch_size``
with the world model: an update from real trials as often shares the policy's cost
among 16 trials."""


@dataclass(frozen=True)
class RenaOptions:
    """The options of :class:`~optuna_rena.RenaSampler`; each is documented there.

    Made once by the sampler, whose signature holds the defaults (and resolves
    ``batch_size``'s); the learner, the planners and the study's state read it, so no
    option is stored twice.

    Raises:
        ValueError: An option out of its range, naming the option and the value.
    """

    penalty_base: float
    penalty_tightening: bool
    batch_size: int
    learning_rate: float
    entropy_weight: float
    baseline_decay: float
    elite_size: int
    pretrain_episodes: int
    pretrain_target: float
    avoid_repeats: bool
    plan_candidates: int
    prefer_feasible: bool
    n_bins: int
    embedding_dim: int
    hidden_size: int
    world_model: bool
    model_startup_trials: int
    local_steps: int
    dyna_weight: float

    def __post_init__(self) -> None:
        for name, low, high, low_open, high_open in (
                ("penalty_base", 0.0, 1.0, True, False),
                ("learning_rate", 0.0, math.inf, True, False),
                ("entropy_weight", 0.0, math.inf, False, False),
                ("baseline_decay", 0.0, 1.0, False, True),
                ("pretrain_target", 0.0, 1.0, True, False),
                ("dyna_weight", 0.0, math.inf, False, False)):
            value = getattr(self, name)
            _check_number(name, value, low, high, low_open=low_open, high_open=high_open)
            object.__setattr__(self, name, float(value))  # an int given for a float
        for name, low in (("batch_size", 1), ("elite_size", 0), ("pretrain_episodes", 0),
                          ("n_bins", 2), ("plan_candidates", 1), ("embedding_dim", 1),
                          ("hidden_size", 1), ("model_startup_trials", 1),
                          ("local_steps", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        for name in ("penalty_tightening", "avoid_repeats", "prefer_feasible", "world_model"):
            flag = getattr(self, name)
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}.")


def _check_number(name: str, value: Any, low: float, high: float, *, low_open: bool,
                  high_open: bool) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
