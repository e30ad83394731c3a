"""Human-readable renderings of a network: a Markdown table of layers and resources."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import optuna

from optuna_rena._budget import best_feasible_trial
from optuna_rena._constraints import Constraint
from optuna_rena._metrics import CHILD_SPEC_ATTR
from optuna_rena._resources import NetworkResources
from optuna_rena._resources import ResourceModel
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


def constraint_lines(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> list[str]:
    """One line per constraint: the use against the limit and whether it is met."""
    lines = []
    for c in constraints:
        if c.metric not in metrics:
            lines.append(f"- {c}: not measured")
            continue
        use = metrics[c.metric]
        v = c.violation(use)
        verdict = "met" if v <= 0 else f"violated by {100 * v:.1f}%"
        lines.append(f"- {c.metric}: {_fmt_count(use)} against {'<=' if c.is_upper else '>='} "
                     f"{_fmt_count(c.limit)}: {verdict}")
    return lines


def trial_note(spec: NetworkSpec, resources: NetworkResources,
               constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> str:
    """A trial's note for optuna-dashboard: the child's layers and its budget."""
    return "\n".join([f"### Child of {spec.name or 'the baseline'}", "",
                      layer_table(spec, resources), "", "**Constraints**", "",
                      *(constraint_lines(constraints, metrics) or ["- none"])])


def best_feasible_report(study: optuna.Study, constraints: Sequence[Constraint]) -> str:
    """The best feasible trial: its layers, its resources against each constraint and its
    score; or why there is none."""
    best = best_feasible_trial(study, constraints)
    if best is None:
        return (f"\nno feasible architecture among {len(study.trials)} trials; loosen the "
                "constraints or run more trials.")
    lines = [f"\nbest feasible architecture: trial {best.number}, "
             f"{(study.metric_names or ['objective'])[0]} {best.value:.4f}"]
    if CHILD_SPEC_ATTR in best.user_attrs:
        spec = NetworkSpec.from_json(best.user_attrs[CHILD_SPEC_ATTR])
        lines += ["", layer_table(spec, ResourceModel().count(spec))]
    metrics = {k: v for k, v in best.user_attrs.items() if isinstance(v, (int, float))}
    lines += ["", "constraints:", *(constraint_lines(constraints, metrics) or ["- none"])]
    return "\n".join(lines)
