"""Resource views of a constrained study, as plotly figures, for any study whatever its
sampler.

* :func:`plot_objective_vs_metric`: the objective against one constrained metric, feasible
  and infeasible trials in their colours, the budget as a dashed line;
* :func:`plot_pareto_front`: the Pareto front of the feasible trials, the objective
  against each resource (a menu picks the resource), infeasible trials apart;
* :func:`plot_best_feasible`: the best feasible objective so far against the trial number;
* :func:`plot_budget_table`: of a multi-objective study, the best network within each
  budget, with its resources and layers;
* :func:`resource_figures`: all of them for a study, by id. :func:`save_to_dashboard`
  shows them on the study's page in optuna-dashboard, and :class:`DashboardFigures`, an
  Optuna callback, refreshes them as a search goes on.

A multi-objective study is read as quality against resources: its first objective is the
quality and the others are budget axes. Its Pareto front is the feasible one (complete
trials that meet their constraints and the study's budget), drawn against each budget
axis with the budgets (``{"latency_ms": [2, 4, 8]}``, by default the 25, 50 and 75 %
quantiles of the front on each axis) and the best network within each; the quality against
each constrained metric is drawn as for one objective.

A trial's metric is its user attribute of that name (:class:`~optuna_rena.ArchitectureSpace`
and :meth:`Constraint.set <optuna_rena.Constraint.set>` record them). A constraint with no
recorded metric (``set_constraint(trial, "x_max", v)``) is drawn by its value, against a
bound of 0. The budget is the one the study recorded, else the one its trials imply.

Example:

    .. code-block:: python

        import optuna
        from optuna_rena import ArchitectureSpace, Constraint, zoo
        from optuna_rena.visualization import resource_figures

        space = ArchitectureSpace(zoo.ds_cnn(), [Constraint("params", max=20_000)],
                                  max_inserts=0, notes=False)
        study = optuna.create_study(direction="maximize")
        study.optimize(lambda t: -space.suggest(t).layers[0].filters, n_trials=10)
        figures = resource_figures(study)  # plotly figures: call .show() on one
        assert list(figures) == ["objective-vs-params", "pareto-front", "best-feasible"]
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
import importlib.util
import math
import textwrap
from typing import Any
import warnings

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._budget import study_budget
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._constraints import violations_of
from optuna_rena._dashboard import save_figures
from optuna_rena._front import axis_index
from optuna_rena._front import best_within_budgets
from optuna_rena._front import budgets_of
from optuna_rena._front import BudgetPick
from optuna_rena._front import objective_names
from optuna_rena._metrics import METRICS
from optuna_rena._metrics import trial_child
from optuna_rena._metrics import VIOLATED_ATTR
from optuna_rena._report import budget_table
from optuna_rena._report import budget_text
from optuna_rena._report import format_count
from optuna_rena._report import layer_lines
from optuna_rena._report import value_text


try:
    import plotly.graph_objects as go

    _plotly_error: ImportError | None = None
except ImportError as e:  # plotly comes with the [dashboard] and [benchmark] extras
    _plotly_error = e


__all__ = [
    "DashboardFigures",
    "plot_best_feasible",
    "plot_budget_table",
    "plot_objective_vs_metric",
    "plot_pareto_front",
    "resource_figures",
    "save_to_dashboard",
]

_FEASIBLE = "#1f77b4"
_INFEASIBLE = "#a0a0a0"
_BUDGET = "#d62728"
_FRONT = "#2ca02c"
_MARKED = "#ff7f0e"  # infeasible trials where feasible ones are grey (multi-objective)
_MEANING = {m.name: m.meaning for m in METRICS}
_LOWER_IS_BETTER = {m.name: m.usual_bound == "max" for m in METRICS}


@dataclass(frozen=True)
class _Point:
    """A complete trial as the figures read it."""

    number: int
    value: float  # the objective, or the quality (the first) of several
    values: tuple[float, ...]
    feasible: bool
    metrics: dict[str, float]  # numeric user attributes and constraint values by name
    constraints: tuple[str, ...]
    hover: str


@dataclass(frozen=True)
class _Axis:
    """A metric on the x axis: where its values are, its bound, which way is better."""

    key: str
    title: str
    limit: float | None
    bound: str | None
    lower_is_better: bool


def _require_plotly() -> None:
    if _plotly_error is not None:
        raise ImportError("the resource figures need plotly: pip install plotly") from (
            _plotly_error)


def _objective_name(study: optuna.Study) -> str:
    """The objective's name; of several, the quality's (the first)."""
    if study._is_multi_objective():
        return objective_names(study)[0]
    return (study.metric_names or ["objective"])[0]


def _points(study: optuna.Study) -> list[_Point]:
    _require_plotly()  # every figure reads the points first
    names = objective_names(study) if study._is_multi_objective() else [
        _objective_name(study)]
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.values is None or not all(math.isfinite(v) for v in t.values):
            continue
        violations = trial_violations(t)
        metrics = {k: float(v) for k, v in t.user_attrs.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)}
        metrics.update({k: v for k, v in violations.items() if math.isfinite(v)})
        out.append(_Point(t.number, float(t.values[0]), tuple(float(v) for v in t.values),
                          is_feasible(violations), metrics, tuple(violations),
                          _hover(t, names, violations)))
    return out


def _hover(trial: FrozenTrial, objectives: Sequence[str], violations: dict[str, float]) -> str:
    lines = [f"trial {trial.number}", f"{objectives[0]} {trial.values[0]:.4g}"]
    # The budget axes: params as a count, latency in four digits.
    lines += [f"{name} {value_text(value)}"
              for name, value in zip(objectives[1:], trial.values[1:])]
    # A resource that is an objective is shown once, as the objective.
    lines += [f"{k} {format_count(v)}" for k, v in trial.user_attrs.items()
              if k in _MEANING and isinstance(v, (int, float)) and k not in objectives[1:]]
    if violations:
        broken = trial.user_attrs.get(VIOLATED_ATTR)
        lines.append("feasible" if is_feasible(violations) else (
            f"infeasible: {broken}" if broken else "infeasible"))
    return "<br>".join(lines)


def _budget(study: optuna.Study,
            constraints: Sequence[Constraint] | None) -> tuple[Constraint, ...]:
    return tuple(constraints) if constraints is not None else study_budget(study)


def _constrained_axes(points: Sequence[_Point],
                      budget: Sequence[Constraint]) -> list[_Axis]:
    """An axis per bounded metric, then one per constraint that the trials know only by
    its value (no metric recorded under the name before its ``_max`` or ``_min``)."""
    axes = [_axis_of(c) for c in budget]
    drawn = {a.key for a in axes} | {c.name for c in budget}
    for name in dict.fromkeys(n for p in points for n in p.constraints):
        metric, _, bound = name.rpartition("_")
        if name in drawn or (bound in ("max", "min") and metric in drawn):
            continue
        axes.append(_constraint_axis(name))
        drawn.add(name)
    return axes


def _pareto_axes(points: Sequence[_Point], budget: Sequence[Constraint]) -> list[_Axis]:
    """The constrained axes, then every other resource metric that the trials recorded."""
    axes = _constrained_axes(points, budget)
    known = {k for p in points for k in p.metrics}
    return axes + [_metric_axis(m, budget, points) for m in _MEANING
                   if m in known and m not in {a.key for a in axes}]


def _axis_of(c: Constraint) -> _Axis:
    title = f"{c.metric}: {_MEANING[c.metric]}" if c.metric in _MEANING else c.metric
    return _Axis(c.metric, title, c.limit, "max" if c.is_upper else "min", c.is_upper)


def _constraint_axis(name: str) -> _Axis:
    return _Axis(name, f"{name} (constraint value; <= 0 is feasible)", 0.0, "max", True)


def _metric_axis(key: str, budget: Sequence[Constraint], points: Sequence[_Point]) -> _Axis:
    for c in budget:
        if c.metric == key:
            return _axis_of(c)
    if any(key in p.constraints for p in points):
        return _constraint_axis(key)
    title = f"{key}: {_MEANING[key]}" if key in _MEANING else key
    return _Axis(key, title, None, None, _LOWER_IS_BETTER.get(key, True))


def _budget_trace(axis: _Axis, ys: Sequence[float], visible: bool = True) -> go.Scatter:
    low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    label = "<=" if axis.bound == "max" else ">="
    return go.Scatter(x=[axis.limit, axis.limit], y=[low, high], mode="lines",
                      name=f"budget: {axis.key} {label} {format_count(axis.limit or 0.0)}",
                      line=dict(color=_BUDGET, dash="dash", width=2), hoverinfo="skip",
                      visible=visible)


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.02), xaxis_title=x_title,
                      yaxis_title=y_title, height=450, template="plotly_white",
                      margin=dict(l=60, r=20, t=60, b=50),
                      legend=dict(orientation="h", yanchor="top", y=-0.15, x=0))
    return fig


def plot_objective_vs_metric(study: optuna.Study, metric: str, *,
                             constraints: Sequence[Constraint] | None = None) -> go.Figure:
    """The objective of each complete trial against ``metric``: feasible trials in blue,
    infeasible ones as grey crosses, and the budget on ``metric`` as a dashed red line.

    Args:
        study: A study of any sampler; of several objectives, the first (the quality) is
            drawn.
        metric: A user attribute of the trials (``params``), or a constraint's name when
            the trials recorded no metric for it (``x_max``, drawn against 0).
        constraints: The budget; by default the one that the study recorded or implies.
    """
    budget = _budget(study, constraints)
    points = [p for p in _points(study) if metric in p.metrics]
    axis = _metric_axis(metric, budget, points)
    fig = go.Figure()
    _add_trials(fig, points, lambda p: p.metrics[metric], size=8)
    if axis.limit is not None:
        fig.add_trace(_budget_trace(axis, [p.value for p in points]))
    name = _objective_name(study)
    return _layout(fig, f"{name} against {metric}", axis.title, name)


def _add_trials(fig: go.Figure, points: Sequence[_Point], x: Callable[[_Point], float],
                size: int) -> None:
    """The trials as markers against ``x``: feasible ones as blue dots, infeasible ones as
    grey crosses, each with its hover text."""
    for feasible in (True, False):
        chosen = [p for p in points if p.feasible == feasible]
        fig.add_trace(go.Scatter(
            x=[x(p) for p in chosen], y=[p.value for p in chosen], mode="markers",
            name="feasible" if feasible else "infeasible",
            marker=dict(color=_FEASIBLE if feasible else _INFEASIBLE,
                        symbol="circle" if feasible else "x", size=size),
            text=[p.hover for p in chosen], hovertemplate="%{text}<extra></extra>"))


def _front(points: Sequence[_Point], axis: _Axis, maximize: bool) -> list[_Point]:
    """The trials that no other beats on both the objective and ``axis``."""
    sign = 1.0 if maximize else -1.0
    way = 1.0 if axis.lower_is_better else -1.0
    ordered = sorted(points, key=lambda p: (way * p.metrics[axis.key], -sign * p.value))
    front: list[_Point] = []
    for p in ordered:
        if not front or sign * p.value > sign * front[-1].value:
            front.append(p)
    return front


def plot_pareto_front(study: optuna.Study, metrics: Sequence[str] | None = None, *,
                      constraints: Sequence[Constraint] | None = None,
                      budgets: Mapping[str, Sequence[float]] | None = None) -> go.Figure:
    """The Pareto front of the objective against each resource: the feasible trials (that
    meet the constraints they recorded and the budget) that no other feasible trial beats
    on both, as a green step line, with the budget as a dashed line. Every feasible trial
    is a faint blue dot; infeasible trials are grey crosses, never on the line, which
    would otherwise run through them past the budget.

    Of a multi-objective study, the feasible front of all its objectives against each
    budget axis (every objective after the first, the quality): every feasible trial in
    grey, infeasible ones as orange crosses, the front in green with the best quality
    within a budget on the axis as a step line, and the budgets as dashed lines, each
    with the best network within it as a star.

    Args:
        study: A study of any sampler.
        metrics: The resources, one shown at a time (a menu switches between them); by
            default the constrained metrics, then every other resource metric the trials
            recorded. Of a multi-objective study, objectives' names: by default every
            budget axis.
        constraints: The budget; by default the one that the study recorded or implies.
        budgets: Of a multi-objective study, budgets by the objective's name
            (``{"latency_ms": [2, 4, 8]}``); by default the 25, 50 and 75 % quantiles of
            the front on each budget axis.

    Raises:
        ValueError: ``budgets`` of a single-objective study, or on no budget axis of the
            study; ``metrics`` that are not budget axes of a multi-objective study.
    """
    budget = _budget(study, constraints)
    if study._is_multi_objective():
        return _plot_objectives_front(study, metrics, budget, budgets)
    if budgets is not None:
        budgets_of(study, (), budgets)  # says why a single objective takes no budgets
    points = _points(study)
    axes = _pareto_axes(points, budget) if metrics is None else [
        _metric_axis(m, budget, points) for m in metrics]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    fig = go.Figure()
    spans = []
    for i, axis in enumerate(axes):
        start = len(fig.data)
        shown = [p for p in points if axis.key in p.metrics]
        # An infeasible trial is no answer however good it scores: the front is drawn
        # over the trials that meet the budget, the others apart.
        meeting = [p for p in shown if p.feasible
                   and is_feasible(violations_of(budget, p.metrics))]
        for feasible in (True, False):
            chosen = [p for p in shown if p.feasible == feasible]
            fig.add_trace(go.Scatter(
                x=[p.metrics[axis.key] for p in chosen], y=[p.value for p in chosen],
                mode="markers", name="feasible" if feasible else "infeasible",
                marker=dict(color=_FEASIBLE if feasible else _INFEASIBLE, opacity=0.35,
                            symbol="circle" if feasible else "x", size=7),
                text=[p.hover for p in chosen], hovertemplate="%{text}<extra></extra>",
                visible=i == 0))
        front = _front(meeting, axis, maximize)
        fig.add_trace(go.Scatter(
            x=[p.metrics[axis.key] for p in front], y=[p.value for p in front],
            mode="lines+markers", name="Pareto front of the feasible trials",
            line=dict(color=_FRONT, shape="hv", width=2),
            marker=dict(color=_FRONT, size=9), text=[p.hover for p in front],
            hovertemplate="%{text}<extra>Pareto front</extra>", visible=i == 0))
        if axis.limit is not None:
            fig.add_trace(_budget_trace(axis, [p.value for p in shown], visible=i == 0))
        spans.append((start, len(fig.data)))
    name = _objective_name(study)
    first = axes[0] if axes else _Axis("resource", "resource", None, None, True)
    # The x axis names the resource: a short title leaves room for the menu.
    _layout(fig, f"Pareto front: {name}", first.title, name)
    if len(axes) > 1:
        buttons = []
        for axis, (start, stop) in zip(axes, spans):
            visible = [start <= j < stop for j in range(len(fig.data))]
            buttons.append(dict(label=axis.key, method="update",
                                args=[{"visible": visible}, {"xaxis.title.text": axis.title}]))
        fig.update_layout(updatemenus=[dict(buttons=buttons, x=1.0, xanchor="right", y=1.12,
                                            yanchor="top", showactive=True)])
    return fig


def _plot_objectives_front(study: optuna.Study, metrics: Sequence[str] | None,
                           budget: Sequence[Constraint],
                           budgets: Mapping[str, Sequence[float]] | None) -> go.Figure:
    """:func:`plot_pareto_front` of a multi-objective study."""
    names = objective_names(study)
    axes = list(range(1, len(names))) if metrics is None else [
        axis_index(study, m) for m in metrics]
    points = _points(study)
    front, picks = best_within_budgets(study, budgets, budget)
    on_front = {t.number for t in front}
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    quality = names[0]
    fig = go.Figure()
    spans: list[tuple[int, int]] = []
    titles: list[str] = []
    scales: list[str] = []
    for i, axis in enumerate(axes):
        start = len(fig.data)
        lower_is_better = study.directions[axis] == optuna.study.StudyDirection.MINIMIZE
        shown = i == 0

        def x(p: _Point, axis: int = axis) -> float:
            return p.values[axis]

        for name, chosen, color, symbol in (
                ("feasible", [p for p in points if p.feasible and p.number not in on_front],
                 _INFEASIBLE, "circle"),
                ("infeasible", [p for p in points if not p.feasible], _MARKED, "x")):
            fig.add_trace(go.Scatter(
                x=[x(p) for p in chosen], y=[p.value for p in chosen], mode="markers",
                name=name, marker=dict(color=color, symbol=symbol, size=7, opacity=0.6),
                text=[p.hover for p in chosen], hovertemplate="%{text}<extra></extra>",
                visible=shown))
        front_points = [p for p in points if p.number in on_front]
        fig.add_trace(go.Scatter(
            x=[x(p) for p in front_points], y=[p.value for p in front_points],
            mode="markers", name=f"Pareto front ({len(front_points)} trials)",
            marker=dict(color=_FRONT, size=9), text=[p.hover for p in front_points],
            hovertemplate="%{text}<extra>Pareto front</extra>", visible=shown))
        # The best quality within each budget on this axis: a step line over the front.
        steps = _staircase(front_points, x, maximize, lower_is_better)
        fig.add_trace(go.Scatter(
            x=[x(p) for p in steps], y=[p.value for p in steps], mode="lines",
            name=f"best {quality} within a budget", hoverinfo="skip",
            line=dict(color=_FRONT, shape="hv", width=2), visible=shown))
        ys = [p.value for p in points]
        for pick in (p for p in picks if p.budget.axis == axis):
            fig.add_trace(_objective_budget_trace(pick, ys, shown))
        chosen_picks = [p for p in picks if p.budget.axis == axis and p.trial is not None]
        if chosen_picks:
            fig.add_trace(go.Scatter(
                x=[p.trial.values[axis] for p in chosen_picks],  # type: ignore[union-attr]
                y=[p.trial.values[0] for p in chosen_picks],  # type: ignore[union-attr]
                mode="markers", name="best within each budget",
                marker=dict(color=_BUDGET, symbol="star", size=14),
                text=[f"best within {budget_text(p.budget)}: trial "
                      f"{p.trial.number}" for p in chosen_picks],  # type: ignore[union-attr]
                hovertemplate="%{text}<extra></extra>", visible=shown))
        spans.append((start, len(fig.data)))
        way = "minimised" if lower_is_better else "maximised"
        # The objective's own name: an objective named latency_ms may be a table's
        # device latency, not the metric that this machine measures.
        titles.append(f"{names[axis]} ({way})")
        xs = [x(p) for p in points] + [p.budget.limit for p in picks if p.budget.axis == axis]
        # Resources span decades (params of 5k and of 400k): the front, usually at the
        # small end, would be squeezed against the axis on a linear scale.
        scales.append("log" if xs and min(xs) > 0 and max(xs) >= 30 * min(xs) else "linear")
    _layout(fig, f"Pareto front: {quality}", titles[0] if titles else "", quality)
    fig.update_xaxes(type=scales[0] if scales else "linear")
    if len(axes) > 1:
        buttons = []
        for axis, (start, stop), title, scale in zip(axes, spans, titles, scales):
            visible = [start <= j < stop for j in range(len(fig.data))]
            buttons.append(dict(label=names[axis], method="update",
                                args=[{"visible": visible},
                                      {"xaxis.title.text": title, "xaxis.type": scale}]))
        fig.update_layout(updatemenus=[dict(buttons=buttons, x=1.0, xanchor="right", y=1.12,
                                            yanchor="top", showactive=True)])
    return fig


def _staircase(points: Sequence[_Point], x: Callable[[_Point], float], maximize: bool,
               lower_is_better: bool) -> list[_Point]:
    """The points that no other beats on both the quality and ``x``, along ``x`` from
    the best end."""
    sign = 1.0 if maximize else -1.0
    way = 1.0 if lower_is_better else -1.0
    out: list[_Point] = []
    for p in sorted(points, key=lambda p: (way * x(p), -sign * p.value)):
        if not out or sign * p.value > sign * out[-1].value:
            out.append(p)
    return out


def _objective_budget_trace(pick: BudgetPick, ys: Sequence[float], visible: bool
                            ) -> go.Scatter:
    low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    limit = pick.budget.limit
    chosen = f"trial {pick.trial.number}" if pick.trial is not None else "none within"
    return go.Scatter(x=[limit, limit], y=[low, high], mode="lines",
                      name=f"budget: {budget_text(pick.budget)}: {chosen}",
                      line=dict(color=_BUDGET, dash="dash", width=1.5), hoverinfo="skip",
                      visible=visible)


def plot_budget_table(study: optuna.Study,
                      budgets: Mapping[str, Sequence[float]] | None = None, *,
                      constraints: Sequence[Constraint] | None = None) -> go.Figure:
    """Of a multi-objective study, the best network within each budget as a table: the
    budget, the trial, its objectives, the resources that the budget bounds and params,
    and its layers. The first objective is the quality, the others are budget axes; only
    feasible trials count.

    Args:
        study: A multi-objective study, of any sampler.
        budgets: Budgets by the objective's name (``{"latency_ms": [2, 4, 8]}``); by
            default the 25, 50 and 75 % quantiles of the front on each budget axis.
        constraints: The budget; by default the one that the study recorded or implies.

    Raises:
        ValueError: ``study`` has one objective, or ``budgets`` names no budget axis of it.
    """
    _require_plotly()
    budget = _budget(study, constraints)
    front, picks = best_within_budgets(study, budgets, budget)
    # The dashboard shows a figure half a page wide: the table keeps the resources that
    # the budget bounds, and params; the front's hover and `optuna-rena report` show all.
    header, rows = budget_table(study, picks, [*(c.metric for c in budget), "params"])
    layers = []
    for pick in picks:
        spec = trial_child(pick.trial) if pick.trial is not None else None
        # A plotly table does not wrap a cell's lines: a long layer goes on in an indent.
        layers.append("<br>".join(
            "<br>&nbsp;&nbsp;".join(textwrap.wrap(line, 40, break_on_hyphens=False))
            for line in layer_lines(spec)) if spec is not None else "")
    if any(layers):
        header = [*header, "layers"]
        rows = [[*row, text] for row, text in zip(rows, layers)]
    widths = [1.2, 0.7, *[1.0] * (len(header) - 2)]
    if any(layers):
        widths[-1] = 3.5
    fig = go.Figure(go.Table(
        # Long names (compute_intensity) break after their underscores, not mid-word.
        header=dict(values=[f"<b>{h.replace('_', '_<br>') if len(h) > 10 else h}</b>"
                            for h in header], align="left", fill_color="#e8e8e8"),
        cells=dict(values=[list(column) for column in zip(*rows)] if rows else [
            [] for _ in header], align="left"),
        columnwidth=widths))
    quality = objective_names(study)[0]
    fig.update_layout(title=dict(text=f"Best {quality} within each budget", x=0.02),
                      height=450, template="plotly_white",
                      margin=dict(l=20, r=20, t=60, b=20))
    if not front:
        complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        fig.add_annotation(text=f"no feasible trial among {complete} complete",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def plot_best_feasible(study: optuna.Study) -> go.Figure:
    """The best feasible objective so far against the trial number, over every complete
    trial, feasible ones in blue and infeasible ones as grey crosses.

    Raises:
        ValueError: ``study`` has several objectives: :func:`plot_pareto_front` and
            :func:`plot_budget_table` show them.
    """
    if study._is_multi_objective():
        raise ValueError(
            "the best feasible value so far is of a single-objective study; the study "
            f"{study.study_name!r} has {len(study.directions)} objectives: "
            "plot_pareto_front and plot_budget_table show the best within each budget.")
    points = sorted(_points(study), key=lambda p: p.number)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    fig = go.Figure()
    _add_trials(fig, points, lambda p: p.number, size=7)
    xs, ys = [], []
    best: float | None = None
    for p in points:
        if p.feasible and (best is None or (p.value > best if maximize else p.value < best)):
            best = p.value
        if best is not None:
            xs.append(p.number)
            ys.append(best)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="best feasible so far",
                             line=dict(color=_FRONT, shape="hv", width=2)))
    name = _objective_name(study)
    if best is None:
        fig.add_annotation(text=f"no feasible trial among {len(points)}", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
    return _layout(fig, f"Best feasible {name} so far", "trial", name)


def resource_figures(study: optuna.Study, constraints: Sequence[Constraint] | None = None,
                     budgets: Mapping[str, Sequence[float]] | None = None
                     ) -> dict[str, go.Figure]:
    """Every resource figure of ``study`` by id: ``objective-vs-METRIC`` for each
    constrained metric, ``pareto-front`` (when the trials recorded a resource or a
    constraint) and ``best-feasible``. Of a multi-objective study: ``objective-vs-METRIC``
    (its quality), ``pareto-front`` (against each budget axis, with the budgets) and
    ``best-within-budgets`` (:func:`plot_budget_table`).

    Args:
        study: A study of any sampler.
        constraints: The budget; by default the one that the study recorded or implies.
        budgets: Of a multi-objective study, budgets by the objective's name; by default
            the 25, 50 and 75 % quantiles of the front on each budget axis.

    Raises:
        ValueError: ``budgets`` of a single-objective study, or on no budget axis.
    """
    budget = _budget(study, constraints)
    if budgets is not None:
        budgets_of(study, (), budgets)  # a wrong name is said before anything is drawn
    points = _points(study)
    figures: dict[str, Any] = {}
    for axis in _constrained_axes(points, budget):
        figures[f"objective-vs-{axis.key}"] = plot_objective_vs_metric(
            study, axis.key, constraints=budget)
    if study._is_multi_objective():
        figures["pareto-front"] = plot_pareto_front(study, constraints=budget,
                                                    budgets=budgets)
        figures["best-within-budgets"] = plot_budget_table(study, budgets,
                                                           constraints=budget)
        return figures
    if _pareto_axes(points, budget):
        figures["pareto-front"] = plot_pareto_front(study, constraints=budget)
    figures["best-feasible"] = plot_best_feasible(study)
    return figures


def save_to_dashboard(study: optuna.Study,
                      constraints: Sequence[Constraint] | None = None,
                      budgets: Mapping[str, Sequence[float]] | None = None) -> bool:
    """Show :func:`resource_figures` on the study's page in optuna-dashboard, replacing
    the ones saved before; ``False``, and nothing done, when optuna-dashboard or plotly is
    not installed (a search runs without them). ``budgets``: of a multi-objective study,
    as :func:`resource_figures` takes them."""
    if _plotly_error is not None or importlib.util.find_spec("optuna_dashboard") is None:
        return False
    return save_figures(study, resource_figures(study, constraints, budgets))


class DashboardFigures:
    """An Optuna callback that refreshes the resource figures on the study's
    optuna-dashboard page every ``every`` trials (:func:`save_to_dashboard`); call
    :meth:`refresh` once more when the search ends.

    Example:

        .. code-block:: python

            figures = DashboardFigures(every=10)
            study.optimize(objective, n_trials=100, callbacks=[figures])
            figures.refresh(study)

    Args:
        every: Trials between two refreshes.
        constraints: The budget; by default the one that the study recorded or implies.
        budgets: Of a multi-objective study, budgets by the objective's name
            (``{"latency_ms": [2, 4, 8]}``); by default the 25, 50 and 75 % quantiles of
            the front on each budget axis.
    """

    def __init__(self, every: int = 10,
                 constraints: Sequence[Constraint] | None = None,
                 budgets: Mapping[str, Sequence[float]] | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.every = every
        self.constraints = None if constraints is None else tuple(constraints)
        self.budgets = None if budgets is None else {k: tuple(v) for k, v in budgets.items()}

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if (trial.number + 1) % self.every == 0:
            try:
                self.refresh(study)
            except Exception as e:  # noqa: BLE001 - a figure is not worth a search
                warnings.warn(f"the resource figures were not saved after trial "
                              f"{trial.number}: {e}", stacklevel=2)

    def refresh(self, study: optuna.Study) -> bool:
        """Save the figures now; ``False`` when optuna-dashboard or plotly is not
        installed."""
        return save_to_dashboard(study, self.constraints, self.budgets)
