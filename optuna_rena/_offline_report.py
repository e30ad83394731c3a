"""The offline report of a study: its resource figures (:mod:`optuna_rena.visualization`)
as one HTML page and as PNGs.

The page embeds plotly.js, so it opens with no network. The PNGs are drawn with matplotlib
from the figures' own traces: plotly's PNG export needs kaleido and a browser, which an
offline machine may lack. A figure with a menu (the Pareto front's resources) gives one PNG
per entry.
"""

from __future__ import annotations

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
from optuna_rena._report import running_trials_text
from optuna_rena.visualization import resource_figures


REPORT_HTML = "report.html"


def write_report(study: optuna.Study, out_dir: str | Path,
                 constraints: Sequence[Constraint] | None = None) -> list[Path]:
    """Write ``report.html`` (every figure, plotly.js inside) and a PNG per figure into
    ``out_dir``; return the paths written, the page first.

    Raises:
        ValueError: ``out_dir`` cannot be made, or the study has several objectives.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder {str(out)!r}: {e.strerror}.") from None
    budget = tuple(constraints) if constraints is not None else study_budget(study)
    figures = resource_figures(study, budget)
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
                     button.label)
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
    name = (study.metric_names or ["objective"])[0]
    best = best_feasible_trial(study, budget)
    facts = [f"{len(trials)} complete trials, {feasible} feasible",
             "budget: " + (", ".join(str(c) for c in budget) or "none"),
             (f"best feasible: trial {best.number}, {name} {best.value:.4g}" if best is not None
              else "no feasible trial")]
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


def _png(figure: Any, path: Path, visible: Sequence[bool] | None = None,
         x_title: str | None = None, label: str | None = None) -> None:
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
            ax.scatter(trace.x, trace.y, color=trace.marker.color, label=trace.name,
                       marker="x" if trace.marker.symbol == "x" else "o",
                       alpha=trace.marker.opacity if trace.marker.opacity is not None else 1.0,
                       s=25)
    for note in figure.layout.annotations:
        ax.text(0.5, 0.5, note.text, transform=ax.transAxes, ha="center", va="center")
    title = figure.layout.title.text or ""
    ax.set_title(f"{title} against {label}" if label else title)
    ax.set_xlabel(x_title or figure.layout.xaxis.title.text or "")
    ax.set_ylabel(figure.layout.yaxis.title.text or "")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    fig.savefig(path)
