"""Human-readable renderings of a network: a Markdown table of layers and resources."""

from __future__ import annotations

from typing import Any

from optuna_rena._resources import NetworkResources
from optuna_rena._spec import NetworkSpec


def _fmt_value(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def _fmt_count(n: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}" if isinstance(n, float) else str(n)


def layer_table(spec: NetworkSpec, resources: NetworkResources) -> str:
    """A Markdown table: one row per layer with its hyperparameters, output shape and
    resources, and a total row."""
    rows = ["| # | layer | hyperparameters | output | params | FLOPs | bytes | FLOPs/byte |",
            "|---|---|---|---|---|---|---|---|"]
    for layer, r in zip(spec.layers, resources.layers):
        hp = ", ".join(f"{k}={_fmt_value(v)}" for k, v in layer.hyperparameters().items())
        rows.append(
            f"| {r.index} | {r.type} | {hp} | {_fmt_value(r.output_shape)} | "
            f"{_fmt_count(r.params)} | {_fmt_count(r.flops)} | {_fmt_count(r.bytes)} | "
            f"{r.compute_intensity:.1f} |"
        )
    rows.append(
        f"| | **total** | | | {_fmt_count(resources.params)} | {_fmt_count(resources.flops)} | "
        f"{_fmt_count(resources.bytes)} | {resources.compute_intensity:.1f} |"
    )
    return "\n".join(rows)
