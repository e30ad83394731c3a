"""RENA's metrics by name, and the trial attributes that an architecture space writes.

Every module that names a metric or one of these attributes reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """A resource metric of a child network.

    Args:
        name: The key in trial user attributes and in :class:`~optuna_rena.Constraint`.
        meaning: What it measures, for help texts.
        usual_bound: ``"max"`` or ``"min"``: the kind of bound a budget usually puts on it.
        analytic: Counted from the spec by the resource model, before any training; else
            measured on this machine.
    """

    name: str
    meaning: str
    usual_bound: str
    analytic: bool


LATENCY_MS = "latency_ms"
"""The measured metric: a forward pass's median time on this machine."""

METRICS: tuple[Metric, ...] = (
    Metric("params", "trainable parameters", "max", True),
    Metric("flops", "FLOPs per sample (2 per multiply-add)", "max", True),
    Metric("macs", "multiply-accumulates per sample", "max", True),
    Metric("bytes", "bytes moved per sample (weights and activations)", "max", True),
    Metric("compute_intensity", "FLOPs per byte moved", "min", True),
    Metric(LATENCY_MS, "forward latency in milliseconds, measured here", "max", False),
)

RESOURCE_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS)
"""Metrics an :class:`~optuna_rena.ArchitectureSpace` records for each child network."""

ANALYTIC_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.analytic)
"""Metrics the resource model counts exactly, before any training."""

CHILD_SPEC_ATTR = "child_spec"
"""User attribute: the child network's spec as JSON."""

SKIPPED_EDITS_ATTR = "skipped_edits"
"""User attribute: the edits skipped because they would make an impossible network."""

INTERRUPTED_ATTR = "rena:interrupted"
"""Trial system attribute: the user stopped the trial (Ctrl-C), so it says nothing about
its network and teaches the sampler nothing."""
