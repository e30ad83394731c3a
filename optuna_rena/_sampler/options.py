"""RenaSampler's options: one frozen record, checked once, that every part reads."""

from __future__ import annotations

from dataclasses import dataclass
import math
import numbers
from typing import Any

import numpy as np


PLANS_PER_DREAM = 16
"""Plans in the world model between two imagined updates, and the default ``batch_size``
with the world model: an update from real trials as often shares the policy's cost
among 16 trials."""

_MAX_WIDTH = 1024
"""Most ``embedding_dim`` and ``hidden_size``: 16 and 32 times the defaults. At 1024 the
policy's two LSTMs hold about 34 million weights (0.4 GB with Adam's moments), and every
simulated episode runs them on one CPU thread; at 4096 it would be 6 GB. A larger value is
a typo, which torch would report as a raw allocation failure."""

_MAX_BINS = 1024
"""Most ``n_bins``: each bin is a choice of the policy's softmax and a token of its
4096-row hashed table, so beyond this bins share embeddings and a study's few hundred
trials cannot learn among them."""

_MAX_BATCH = 10_000
"""Most ``batch_size`` and ``plan_candidates``: a batch of more finished trials than a
study runs would never update the policy, and the candidates are simulated in one lockstep
batch and each scored by the world model."""


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
    policy_proposals: bool

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
        for name, low, high in (
                ("batch_size", 1, _MAX_BATCH), ("elite_size", 0, None),
                ("pretrain_episodes", 0, None), ("n_bins", 2, _MAX_BINS),
                ("plan_candidates", 1, _MAX_BATCH), ("embedding_dim", 1, _MAX_WIDTH),
                ("hidden_size", 1, _MAX_WIDTH), ("model_startup_trials", 1, None),
                ("local_steps", 0, None)):
            value = getattr(self, name)
            if not _is_integer(value) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
            if high is not None and value > high:
                raise ValueError(
                    f"{name} must be an integer in [{low}, {high}], got {value!r}.")
            object.__setattr__(self, name, int(value))  # a NumPy integer as Python's
        for name in ("penalty_tightening", "avoid_repeats", "prefer_feasible", "world_model",
                     "policy_proposals"):
            flag = getattr(self, name)
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}.")


def _check_number(name: str, value: Any, low: float, high: float, *, low_open: bool,
                  high_open: bool) -> None:
    ok = (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
          and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")


def _is_integer(value: Any) -> bool:
    """Any integer type (a NumPy integer is what NumPy computes), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
