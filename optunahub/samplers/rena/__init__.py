"""RenaSampler for OptunaHub: the sampler of the installed optuna-rena package."""

from __future__ import annotations

from optuna_rena import RenaSampler


__all__ = ["RenaSampler"]
