"""Human-readable renderings: a network's Markdown table of layers and resources, a
trial's note and log line, a study's note, the best feasible report (and, for a
multi-objective study, its front and the best network within each budget), the running
trials."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._budget import best_feasible_trial
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._front import best_within_budgets
from optuna_rena._front import Budget
from optuna_rena._front import BudgetPick
from optuna_rena._front import feasible_trials
from optuna_rena._front import objective_names
from optuna_rena._metrics import METRICS
from optuna_rena._metrics import VIOLATED_ATTR
from optuna_rena._metrics import trial_child
from optuna_rena._resources import NetworkResources
from optuna_rena._resources import ResourceModel
from optuna_rena._spec import NetworkSpec


def _fmt_value(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def format_count(n: float) -> str:
    """A count in three significant digits: ``512k``, ``2.36M``."""
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
            f"{format_count(r.params)} | {format_count(r.flops)} | {format_count(r.bytes)} | "
            f"{r.compute_intensity:.1f} |"
        )
    rows.append(
        f"| | **total** | | | {format_count(resources.params)} | {format_count(resources.flops)} | "
        f"{format_count(resources.bytes)} | {resources.compute_intensity:.1f} |"
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
        lines.append(f"- {c.metric}: {format_count(use)} against {'<=' if c.is_upper else '>='} "
                     f"{format_count(c.limit)}: {verdict}")
    return lines


def _verdict(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> list[str]:
    """Whether the child meets its budget, as far as ``metrics`` tell, and which bounds it
    breaks by how much."""
    broken = [f"{c} ({c.off_by(metrics[c.metric])})" for c in constraints
              if c.metric in metrics and c.violation(metrics[c.metric]) > 0]
    later = [str(c) for c in constraints if c.metric not in metrics]
    if broken:
        lines = [f"**Infeasible**: breaks {', '.join(broken)}."]
    elif later:
        lines = ["**Feasible so far**: meets every bound measured before training."]
    elif constraints:
        lines = [f"**Feasible**: meets {', '.join(str(c) for c in constraints)}."]
    else:
        return []
    if later:
        # The objective measures these after the note is written; the attribute follows.
        lines.append(f"The objective measures {', '.join(later)} later: the trial's "
                     f"`{VIOLATED_ATTR}` attribute names every bound it breaks.")
    return ["", *lines]


def trial_note(spec: NetworkSpec, resources: NetworkResources,
               constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> str:
    """A trial's note for optuna-dashboard: whether the child meets its budget (which
    bound it breaks and by how much), its layers and its constraints."""
    return "\n".join([f"### Child of {spec.name or 'the baseline'}",
                      *_verdict(constraints, metrics), "",
                      layer_table(spec, resources), "", "**Constraints**", "",
                      *(constraint_lines(constraints, metrics) or ["- none"])])


def trial_line(trial: FrozenTrial, metric_name: str | Sequence[str],
               constraints: Sequence[Constraint]) -> str:
    """One line for a finished trial in a search's log: feasible or not, the objective, the
    resources that the budget bounds (and ``params``), and the bounds it breaks.

    Args:
        trial: A finished trial.
        metric_name: The objective's name; of a multi-objective study, the objectives'
            names (one name names the first, and the others are ``objective 1``, ...).
        constraints: The budget, whose metrics are shown.
    """
    names = [metric_name] if isinstance(metric_name, str) else list(metric_name)
    if trial.values is not None and len(trial.values) > 1:
        return _objectives_line(trial, names, constraints)
    violations = trial_violations(trial)
    if trial.state == TrialState.PRUNED:
        verdict = "pruned"
    elif trial.state != TrialState.COMPLETE:
        verdict = trial.state.name.lower()
    elif not violations:
        verdict = "complete"
    else:
        verdict = "feasible" if is_feasible(violations) else "infeasible"
    parts = [f"trial {trial.number}: {verdict}"]
    if trial.values is not None:
        parts.append(f"{names[0]} {trial.values[0]:.4g}")
    elif trial.intermediate_values:
        step = max(trial.intermediate_values)
        parts.append(f"{names[0]} {trial.intermediate_values[step]:.4g} at step {step}")
    return _with_resources(trial, verdict, parts, constraints, names)


def _objectives_line(trial: FrozenTrial, names: Sequence[str],
                     constraints: Sequence[Constraint]) -> str:
    """:func:`trial_line` of a complete trial of several objectives: each value."""
    names = [*names[:len(trial.values)],
             *(f"objective {i}" for i in range(len(names), len(trial.values)))]
    violations = trial_violations(trial)
    verdict = ("complete" if not violations else
               "feasible" if is_feasible(violations) else "infeasible")
    parts = [f"trial {trial.number}: {verdict}", f"{names[0]} {trial.values[0]:.4g}",
             *(f"{n} {value_text(v)}" for n, v in zip(names[1:], trial.values[1:]))]
    return _with_resources(trial, verdict, parts, constraints, names)


def _with_resources(trial: FrozenTrial, verdict: str, parts: list[str],
                    constraints: Sequence[Constraint], objectives: Sequence[str]) -> str:
    """``parts`` and the resources that the budget bounds (and ``params``), unless they are
    objectives, in one line, with the bounds an infeasible trial breaks."""
    shown = [c.metric for c in constraints]
    for metric in dict.fromkeys([*shown, "params"]):
        use = trial.user_attrs.get(metric)
        if isinstance(use, (int, float)) and not isinstance(use, bool) and (
                metric not in objectives[1:]):
            parts.append(f"{metric} {format_count(use)}")
    line = ", ".join(parts)
    broken = trial.user_attrs.get(VIOLATED_ATTR)
    if verdict == "infeasible" and broken not in (None, "none"):
        line += f" (over budget: {broken})"
    return line


def study_note(metric_name: str | Sequence[str], maximize: bool | Sequence[bool],
               constraints: Sequence[Constraint], space_summary: str | None,
               space_fingerprint: str | None) -> str:
    """A study's note for optuna-dashboard: the objective, the budget, the space and the
    figures.

    Args:
        metric_name: The objective's name; of several, their names, the quality first.
        maximize: Whether it is maximised; of several, one for each.
        constraints: The budget.
        space_summary: What the space edits, or ``None`` without a space.
        space_fingerprint: The space's fingerprint, or ``None``.
    """
    names = [metric_name] if isinstance(metric_name, str) else list(metric_name)
    ways = [maximize] if isinstance(maximize, bool) else list(maximize)
    if len(names) != len(ways):
        raise ValueError(f"study_note needs one direction per objective; got {len(names)} "
                         f"names ({names}) and {len(ways)} directions.")
    several = len(names) > 1
    way = ["maximised" if w else "minimised" for w in ways]
    title = (f"{names[0]} ({way[0]}) against " + ", ".join(
        f"{n} ({w})" for n, w in zip(names[1:], way[1:]))) if several else (
        f"{names[0]}, {way[0]}")
    # First, before the budget: the card is the first thing a person reads on the page,
    # and the plain dashboard's can name an infeasible trial as the best.
    if several:
        card = ("**Best Trials**: open this storage with `optuna-rena dashboard STORAGE`, "
                "whose *Best Trials* card lists the feasible Pareto front, as "
                "`study.best_trials` does. The plain `optuna-dashboard`'s card ignores "
                "constraints: it lists the front of every trial, feasible or not.")
    else:
        card = ("**Best Trial**: open this storage with `optuna-rena dashboard STORAGE`, "
                "whose *Best Trial* card shows the best feasible trial, as "
                "`study.best_trial` does (when none is feasible, the storage's best, drawn "
                "infeasible). The plain `optuna-dashboard`'s card ignores constraints: it "
                "may show an infeasible trial as the best.")
    lines = [f"### {title}", "", card, "",
             "**Budget**", "", *([f"- {c}" for c in constraints] or ["- none"]), ""]
    if constraints:
        lines += [
            "A trial is feasible when it meets every bound; its `violated` attribute "
            "(a column of the trial table) names the bounds it breaks and by how much "
            "(`params +12%`: 12 % over)." + (
                " The Pareto-front view draws the front of the feasible trials." if several
                else " The history plot's best-value line and the *best feasible* figure "
                "go through feasible trials only."), ""]
    if space_summary is not None:
        lines += [f"**Space**: {space_summary} (fingerprint `{space_fingerprint}`).", ""]
    quality = names[0]
    if several:
        lines += [f"**Figures** (on this page, refreshed as the search goes on): {quality} "
                  "against each constrained metric with the budget as a line, the Pareto "
                  f"front of the feasible trials against {', '.join(names[1:])} with budgets "
                  "on each (the 25, 50 and 75 % quantiles of the front, or those asked), "
                  f"and the best {quality} within each budget with its network. "
                  "`optuna-rena report` writes them as HTML and PNG."]
    else:
        lines += [f"**Figures** (on this page, refreshed as the search goes on): {quality} "
                  "against each constrained metric with the budget as a line, the Pareto "
                  f"front of the feasible trials, {quality} against each resource "
                  "(infeasible trials apart, off the line), and the best feasible "
                  f"{quality} so far. `optuna-rena report` writes them as HTML and PNG."]
    return "\n".join(lines)


def best_feasible_report(study: optuna.Study, constraints: Sequence[Constraint],
                         budgets: Mapping[str, Sequence[float]] | None = None) -> str:
    """The best feasible trial: its layers, its resources against each constraint and its
    score; or why there is none. Of a multi-objective study, its feasible front and the
    best network within each budget (:func:`front_report`).

    Args:
        study: A study of any sampler.
        constraints: The budget, which the trial shown meets.
        budgets: Of a multi-objective study, budgets by the objective's name
            (``{"latency_ms": [2, 4, 8]}``); by default the 25, 50 and 75 % quantiles of the
            front on each budget axis.

    Raises:
        ValueError: ``budgets`` of a single-objective study, or on no budget axis of it.
    """
    if study._is_multi_objective() or budgets is not None:
        return front_report(study, constraints, budgets)
    best = best_feasible_trial(study, constraints)
    if best is None:
        return (f"\nno feasible architecture among {len(study.trials)} trials; loosen the "
                "constraints or run more trials.")
    lines = [f"\nbest feasible architecture: trial {best.number}, "
             f"{(study.metric_names or ['objective'])[0]} {best.value:.4f}"]
    spec = trial_child(best)
    if spec is not None:
        lines += ["", layer_table(spec, ResourceModel().count(spec))]
    metrics = {k: v for k, v in best.user_attrs.items() if isinstance(v, (int, float))}
    lines += ["", "constraints:", *(constraint_lines(constraints, metrics) or ["- none"])]
    return "\n".join(lines)


def front_report(study: optuna.Study, constraints: Sequence[Constraint],
                 budgets: Mapping[str, Sequence[float]] | None = None) -> str:
    """A multi-objective study's feasible Pareto front in one line, then the best network
    within each budget (:mod:`optuna_rena._front`: the first objective is the quality,
    the others are budget axes), as a Markdown table, and each such network's layers and
    resources; or why there is none.

    Args:
        study: A multi-objective study.
        constraints: The study's budget of constraints, which every trial shown meets.
        budgets: Budgets by the objective's name (``{"latency_ms": [2, 4, 8]}``); by default
            the 25, 50 and 75 % quantiles of the front on each budget axis.

    Raises:
        ValueError: The study has one objective, or ``budgets`` names no budget axis of it
            (:func:`~optuna_rena._front.budgets_of`).
    """
    names = objective_names(study)
    front, picks = best_within_budgets(study, budgets, constraints)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not front:
        return (f"\nno feasible architecture among {len(study.trials)} trials "
                f"({len(complete)} complete); loosen the constraints or run more trials.")
    feasible = feasible_trials(study, constraints)
    ways = [f"{n} ({'maximised' if d == StudyDirection.MAXIMIZE else 'minimised'})"
            for n, d in zip(names, study.directions)]
    lines = [f"\nPareto front: {len(front)} of {len(feasible)} feasible trials "
             f"({len(complete)} complete); {ways[0]} against {', '.join(ways[1:])}",
             "", f"best {names[0]} within each budget ("
             f"{'as given' if budgets is not None else _QUANTILES_TEXT}):", "",
             markdown_table(*budget_table(study, picks))]
    for trial, within in _picked_trials(picks):
        spec = trial_child(trial)
        if spec is None and not constraints:
            continue  # the table says all there is of a trial without a network
        lines += ["", f"trial {trial.number}, best within {', '.join(within)}:"]
        if spec is not None:
            lines += ["", layer_table(spec, ResourceModel().count(spec))]
        if constraints:
            metrics = {k: v for k, v in trial.user_attrs.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            lines += ["", "constraints:", *constraint_lines(constraints, metrics)]
    return "\n".join(lines)


_QUANTILES_TEXT = "the 25, 50 and 75 % quantiles of the front on each budget axis"


def budget_text(budget: Budget) -> str:
    """``latency_ms <= 4``, ``params <= 6.2k``: a count in three digits when they hold it
    whole, else the number as it is."""
    short = format_count(budget.limit)
    limit = short if short[-1] in "kMG" and float(short[:-1]) * _SCALES[short[-1]] == (
        budget.limit) else f"{budget.limit:g}"
    return f"{budget.name} {'<=' if budget.upper else '>='} {limit}"


_SCALES = {"k": 1e3, "M": 1e6, "G": 1e9}


def budget_table(study: optuna.Study, picks: Sequence[BudgetPick],
                 metrics: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """The best network within each budget as a table's header and rows: the budget, the
    trial, every objective's value, and the resources that the trials recorded (those
    that are not objectives; of ``metrics`` only, when given)."""
    names = objective_names(study)
    trials = [p.trial for p in picks if p.trial is not None]
    resources = [m.name for m in METRICS if m.name not in names and any(
        _number(t.user_attrs.get(m.name)) for t in trials) and (
        metrics is None or m.name in metrics)]
    header = ["budget", "trial", *names, *resources]
    rows = []
    for pick in picks:
        trial = pick.trial
        if trial is None:
            rows.append([budget_text(pick.budget), "none within",
                         *[""] * (len(header) - 2)])
            continue
        used = [trial.user_attrs.get(r) for r in resources]
        rows.append([budget_text(pick.budget), str(trial.number),
                     *[value_text(v) for v in trial.values],
                     *[format_count(u) if _number(u) else "" for u in used]])
    return header, rows


def value_text(value: float) -> str:
    """An objective's value: a whole number whole (``16096``, a count of parameters),
    another in four digits (``0.6489``), or three and a unit above ten thousand."""
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return format_count(value) if abs(value) >= 1e4 else f"{value:.4g}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of ``header`` and ``rows``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def layer_lines(spec: NetworkSpec) -> list[str]:
    """A line per layer: its type and hyperparameters (``conv2d filters=16, kernel=3``)."""
    lines = []
    for layer in spec.layers:
        hp = ", ".join(f"{k}={_fmt_value(v)}" for k, v in layer.hyperparameters().items())
        lines.append(f"{layer.type} {hp}".rstrip())
    return lines


def _picked_trials(picks: Sequence[BudgetPick]) -> list[tuple[FrozenTrial, list[str]]]:
    """Each trial picked, once, with the budgets it is the best within."""
    out: dict[int, tuple[FrozenTrial, list[str]]] = {}
    for pick in picks:
        if pick.trial is not None:
            out.setdefault(pick.trial.number, (pick.trial, []))[1].append(
                budget_text(pick.budget))
    return list(out.values())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Running trials named in one line; more are counted.
_RUNNING_NAMED = 5


def running_trials_text(trials: Sequence[FrozenTrial], now: datetime | None = None) -> str:
    """The running ``trials`` in a few words each: ``trial 3 (started 2026-01-05
    10:02:03, 41 min ago)``, the first five named and the rest counted.

    The start and its age tell a live worker's trial from a killed run's, which stays
    running where no heartbeats are kept (a journal file).
    """
    now = now or datetime.now()
    words = []
    for trial in trials[:_RUNNING_NAMED]:
        start = trial.datetime_start
        if start is None:
            words.append(f"trial {trial.number} (never started)")
            continue
        if start.tzinfo is not None:  # Optuna's storages keep local times without a zone
            start = start.astimezone().replace(tzinfo=None)
        words.append(f"trial {trial.number} (started {start:%Y-%m-%d %H:%M:%S}, "
                     f"{_age(now - start)} ago)")
    if len(trials) > _RUNNING_NAMED:
        words.append(f"and {len(trials) - _RUNNING_NAMED} more")
    return ", ".join(words)


def _age(elapsed: timedelta) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
