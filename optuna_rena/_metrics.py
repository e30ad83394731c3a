"""RENA's metrics by name, and the trial attributes that an architecture space writes and
how to read them back.

Every module that names a metric or one of these attributes reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib

import optuna
from optuna.trial import FrozenTrial

from optuna_rena._spec import NetworkSpec


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

CHILD_SPEC_KEY = "rena:child_spec"
"""Trial system attribute: the child network's spec as JSON, to rebuild it. A system
attribute, since optuna-dashboard shows every user attribute in its trial table, where
this one made each row hundreds of pixels tall."""

CHILD_SPEC_ATTR = "child_spec"
"""User attribute where studies made before :data:`CHILD_SPEC_KEY` keep the spec."""

CHILD_ATTR = "child"
"""User attribute: a short name of the child network (its layer count and a digest of its
spec), which the trial table shows; equal names, equal networks."""

VIOLATED_ATTR = "violated"
"""User attribute: the constraints a trial breaks and by how much (``"params +12%"``), or
``"none"``; the trial table shows it."""

SKIPPED_EDITS_ATTR = "skipped_edits"
"""User attribute: the edits skipped because they would make an impossible network."""

INTERRUPTED_ATTR = "rena:interrupted"
"""Trial system attribute: the user stopped the trial (Ctrl-C), or failed a killed run's
trial that stayed running (``optuna-rena search --fail-running-trials``), so it says
nothing about its network and teaches the sampler nothing."""


def mark_interrupted(trial: optuna.Trial) -> None:
    """Record :data:`INTERRUPTED_ATTR` on the running ``trial``, which the user stopped:
    it fails like any other, but the sampler learns nothing from it."""
    trial.storage.set_trial_system_attr(trial._trial_id, INTERRUPTED_ATTR, True)


def child_name(spec_json: str, spec: NetworkSpec) -> str:
    """The short name that :data:`CHILD_ATTR` holds: ``"9 layers, 3f2a9c1e"``."""
    return f"{len(spec.layers)} layers, {hashlib.sha256(spec_json.encode()).hexdigest()[:8]}"


def store_child_spec(trial: optuna.Trial, spec_json: str) -> None:
    """Keep the child network's JSON on the running ``trial`` under :data:`CHILD_SPEC_KEY`,
    where :func:`stored_child_spec` reads it back.

    It reaches the private ``trial._trial_id``: Optuna 5.1 removed
    ``Trial.set_system_attr`` and has no public writer of a trial's system attributes, so
    the write goes to the trial's storage, which names the trial by that id.
    """
    trial.storage.set_trial_system_attr(trial._trial_id, CHILD_SPEC_KEY, spec_json)


def stored_child_spec(trial: FrozenTrial | optuna.Trial) -> str | None:
    """The JSON of the child network that a space recorded on ``trial``, wherever the trial
    keeps it (a system attribute, or the user attribute of older studies)."""
    if isinstance(trial, optuna.Trial):
        # A running trial has no system_attrs of its own: its storage holds them.
        system_attrs = trial.storage.get_trial_system_attrs(trial._trial_id)
    else:
        system_attrs = trial.system_attrs
    spec = system_attrs.get(CHILD_SPEC_KEY)
    return spec if spec is not None else trial.user_attrs.get(CHILD_SPEC_ATTR)


def trial_child(trial: FrozenTrial | optuna.Trial) -> NetworkSpec | None:
    """The child network of a trial of an :class:`~optuna_rena.ArchitectureSpace`, rebuilt
    from its stored spec; ``None`` for a trial without one. ``trial`` is a finished trial
    (``study.trials``) or the running one that the objective was given."""
    spec = stored_child_spec(trial)
    return None if spec is None else NetworkSpec.from_json(spec)
