"""The offline report of a study: its resource figures (:mod:`optuna_rena.visualization`)
as one HTML page and as PNGs.

The page embeds plotly.js, so it opens with no network. The PNGs are drawn with matplotlib
from the figures' own traces: plotly's PNG export needs kaleido and a browser, which an
offline machine may lack. A figure with a menu (the Pareto front's resources) gives one PNG
per entry; a table (a multi-objective study's best network within each budget) is drawn
as a table, without its layers, which the page and ``optuna-rena report`` show.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import html
from pathlib import Path
import re
from typing import Any

import optuna
from optuna.trial import TrialState

from optuna_rena._budget import best_feasible_trial
from optuna_rena._budget import SPACE_SUMMARY_ATTR
from optuna_rena._budget import study_budget
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._front import feasible_front
from optuna_rena._front import objective_names
from optuna_rena._report import running_trials_text
from optuna_rena.visualization import resource_figures


REPORT_HTML = "report.html"


def write_report(study: optuna.Study, out_dir: str | Path,
                 constraints: Sequence[Constraint] | None = None,
                 budgets: Mapping[str, Sequence[float]] | None = None) -> list[Path]:
    """Write ``report.html`` (every figure, plotly.js inside) and a PNG per figure into
    ``out_dir``; return the paths written, the page first.

    Args:
        study: A study of any sampler.
        out_dir: The folder, made if it does not exist.
        constraints: The budget; by default the one that the study recorded or implies.
        budgets: Of a multi-objective study, budgets by the objective's name
            (``{"latency_ms": [2, 4, 8]}``); by default the 25, 50 and 75 % quantiles of
            the front on each budget axis.

    Raises:
        ValueError: ``out_dir`` cannot be made, or ``budgets`` are of a single-objective
            study or name no budget axis of it.
    """
    budget = tuple(constraints) if constraints is not None else study_budget(study)
    figures = resource_figures(study, budget, budgets)  # refuses bad budgets, first
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder {str(out)!r}: {e.strerror}.") from None
    page = out / REPORT_HTML
    page.write_text(_page(study, budget, figures))
    written = [page]
    for graph_id, figure in figures.items():
        menus = figure.layout.updatemenus
        if menus:
            for button in menus[0].buttons:
                visible, layout = button.args
                path = out / f"{graph_id}-{_file_part(button.label)}.png"
                _png(figure, path, visible["visible"], layout["xaxis.title.text"],
                     button.label, layout.get("xaxis.type"))
                written.append(path)
        elif figure.data and figure.data[0].type == "table":
            path = out / f"{graph_id}.png"
            _table_png(figure, path)
            written.append(path)
        else:
            path = out / f"{graph_id}.png"
            _png(figure, path)
            written.append(path)
    return written


def _file_part(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label)


def _page(study: optuna.Study, budget: Sequence[Constraint], figures: dict[str, Any]) -> str:
    import plotly.io

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    feasible = sum(is_feasible(trial_violations(t)) for t in trials)
    facts = [f"{len(trials)} complete trials, {feasible} feasible",
             "budget: " + (", ".join(str(c) for c in budget) or "none")]
    if study._is_multi_objective():
        names = objective_names(study)
        front = feasible_front(study, budget)
        facts.append(f"Pareto front: {len(front)} feasible trials, {names[0]} (the quality) "
                     f"against {', '.join(names[1:])}" if front else "no feasible trial")
    else:
        name = (study.metric_names or ["objective"])[0]
        best = best_feasible_trial(study, budget)
        facts.append(f"best feasible: trial {best.number}, {name} {best.value:.4g}"
                     if best is not None else "no feasible trial")
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if running:
        # A live worker's, or a killed run's that no heartbeat will fail (a journal file).
        facts.append(f"{len(running)} RUNNING, not drawn: {running_trials_text(running)}")
    summary = study.user_attrs.get(SPACE_SUMMARY_ATTR)
    if summary:
        facts.append(f"space: {summary}")
    divs = [plotly.io.to_html(figure, include_plotlyjs=i == 0, full_html=False,
                              div_id=graph_id, config={"responsive": True})
            for i, (graph_id, figure) in enumerate(figures.items())]
    items = "".join(f"<li>{html.escape(f)}</li>" for f in facts)
    body = "".join(f'<section style="max-width:1000px">{d}</section>' for d in divs)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(study.study_name)}</title></head>"
            f"<body style=\"font-family:sans-serif\"><h1>{html.escape(study.study_name)}</h1>"
            f"<ul>{items}</ul>{body}</body></html>\n")


# plotly's marker symbols in matplotlib's words; any other is a dot.
_MARKERS = {"x": "x", "star": "*"}


def _table_png(figure: Any, path: Path) -> None:
    """Draw ``figure``'s table with matplotlib, without its layers column (a line per
    layer would not fit a cell)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = figure.data[0]
    header = [re.sub(r"</?b>|<br>", "", h) for h in table.header.values]
    columns = [list(c) for c in table.cells.values]
    if header and header[-1] == "layers":
        header, columns = header[:-1], columns[:-1]
    rows = [list(r) for r in zip(*columns)]
    fig = Figure(figsize=(max(8, 1.1 * len(header)), 1.2 + 0.35 * max(len(rows), 1)),
                 dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.set_title(figure.layout.title.text or "")
    if rows:
        drawn = ax.table(cellText=rows, colLabels=header, loc="upper center",
                         cellLoc="left")
        drawn.auto_set_font_size(False)
        drawn.set_fontsize(8)
        drawn.auto_set_column_width(list(range(len(header))))
    for note in figure.layout.annotations:
        ax.text(0.5, 0.5, note.text, transform=ax.transAxes, ha="center", va="center")
    fig.savefig(path)


def _png(figure: Any, path: Path, visible: Sequence[bool] | None = None,
         x_title: str | None = None, label: str | None = None,
         x_scale: str | None = None) -> None:
    """Draw ``figure``'s scatter traces (those ``visible``) with matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, trace in enumerate(figure.data):
        shown = visible[i] if visible is not None else trace.visible in (None, True)
        if not shown or not trace.x:
            continue
        mode = trace.mode or "markers"
        if "lines" in mode:
            ax.plot(trace.x, trace.y, color=trace.line.color, label=trace.name,
                    drawstyle="steps-post" if trace.line.shape == "hv" else "default",
                    linestyle="--" if trace.line.dash == "dash" else "-",
                    linewidth=trace.line.width or 1.5,
                    marker="o" if "markers" in mode else None, markersize=5)
        else:
            star = trace.marker.symbol == "star"
            ax.scatter(trace.x, trace.y, color=trace.marker.color, label=trace.name,
                       marker=_MARKERS.get(trace.marker.symbol, "o"),
                       alpha=trace.marker.opacity if trace.marker.opacity is not None else 1.0,
                       s=120 if star else 25, zorder=3 if star else None)
    for note in figure.layout.annotations:
        ax.text(0.5, 0.5, note.text, transform=ax.transAxes, ha="center", va="center")
    title = figure.layout.title.text or ""
    ax.set_title(f"{title} against {label}" if label else title)
    ax.set_xlabel(x_title or figure.layout.xaxis.title.text or "")
    if (x_scale or figure.layout.xaxis.type) == "log":
        ax.set_xscale("log")
    ax.set_ylabel(figure.layout.yaxis.title.text or "")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    fig.savefig(path)
