"""How far a space's children reach on the metrics counted before training, and the
warning for a budget that none of them meets."""

from __future__ import annotations


class UnreachableBudgetWarning(UserWarning):
    """A constraint on a counted metric (params, FLOPs, bytes, compute intensity) that no
    child of the space meets, as far as a search of its decisions can tell: the search
    goes on, for the least infeasible children. Said once per study, before any trial is
    spent on it; filter this category to silence it."""
