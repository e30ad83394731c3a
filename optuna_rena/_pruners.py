"""The pruners that ``optuna-rena search`` and ``optuna-rena benchmark`` offer, by name:
one definition for both, so a benchmark's ``median`` is the pruner a search runs."""

from __future__ import annotations

from collections.abc import Callable

import optuna


PRUNERS: dict[str, tuple[Callable[[], optuna.pruners.BasePruner], str]] = {
    # Five trials to compare with, and the first epoch never judged: one epoch says little.
    "median": (lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
               "MedianPruner(n_startup_trials=5, n_warmup_steps=1)"),
    "hyperband": (lambda: optuna.pruners.HyperbandPruner(), "HyperbandPruner()"),
    # Explicit: a study created without a pruner gets Optuna's MedianPruner.
    "none": (lambda: optuna.pruners.NopPruner(), "NopPruner()"),
}
"""Per name, a fresh pruner (a Hyperband pruner keeps state: one per study) and what it
is, as results say it."""

PRUNER_NAMES = tuple(sorted(PRUNERS))


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """A new pruner by name.

    Raises:
        ValueError: Not one of :data:`PRUNER_NAMES`.
    """
    if name not in PRUNERS:
        raise ValueError(f"unknown pruner {name!r}; expected one of {list(PRUNER_NAMES)}.")
    return PRUNERS[name][0]()


def pruner_text(name: str) -> str:
    """``name`` with the pruner it makes, such as ``median (MedianPruner(...))``."""
    return f"{name} ({PRUNERS[name][1]})"
