"""RenaSampler and its parts: decisions, policy, learner, planner and reward."""

from optuna_rena._sampler.sampler import RenaSampler


__all__ = ["RenaSampler"]
