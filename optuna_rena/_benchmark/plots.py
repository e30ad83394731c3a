"""The benchmark's curves, as PNG (matplotlib) and HTML (plotly): the best feasible value
so far (one objective), or the hypervolume gap (several)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optuna_rena._benchmark.results import curves
from optuna_rena._benchmark.results import RunResult


# One palette for both files, so a sampler has the same colour in the PNG and the HTML
# (matplotlib's default cycle, tab10); its IQR band is that colour, translucent.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")
_BAND_ALPHA = 0.2
_Y_LABEL = "best feasible objective (median, IQR band)"
_NOTE = ("Median and inter-quartile band over seeds of the best feasible value so far. A seed "
         "with no feasible trial yet ranks worst,\nso a line starts once about half the seeds "
         "have one, and its band once about three quarters do.")
_GAP_Y_LABEL = "hypervolume gap (median, IQR band)"
_GAP_NOTE = ("Median and inter-quartile band over seeds of 1 - HV(feasible trials so far) / "
             "HV(front), both up to the reference point:\n0 is the whole front, 1 nothing "
             "within the reference point.")


@dataclass
class _Curve:
    """One sampler's median and quartiles per trial (NaN where they fall on seeds with no
    feasible trial yet) and, when it has no median line, why."""

    name: str
    colour: str
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    no_line: str | None


def _curves(results: Sequence[RunResult]) -> list[_Curve]:
    out = []
    for i, (name, c) in enumerate(curves(results).items()):
        maximize = next(r.maximize for r in results if r.sampler == name)
        # A seed with nothing feasible yet ranks worst; the nearest rank keeps a quartile
        # that falls on such seeds infinite, hence undefined, rather than interpolated.
        filled = np.where(np.isnan(c), -np.inf if maximize else np.inf, c)
        with np.errstate(invalid="ignore"):
            med, q1, q3 = (np.percentile(filled, q, axis=0, method="nearest")
                           for q in (50, 25, 75))
        med, q1, q3 = (np.where(np.isfinite(a), a, np.nan) for a in (med, q1, q3))
        found = int(np.isfinite(filled[:, -1]).sum()) if c.size else 0
        no_line = None
        if found == 0:
            no_line = f"{name}: no feasible trial in any seed"
        elif np.isnan(med).all():
            no_line = f"{name}: no median: {found} of {len(c)} seeds found a feasible trial"
        out.append(_Curve(name, _COLOURS[i % len(_COLOURS)], med, q1, q3, no_line))
    return out


def _segments(defined: np.ndarray) -> list[slice]:
    """The runs of consecutive ``True`` in ``defined``: a band is drawn over each alone, as
    joining them would draw an edge across trials where it is undefined."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], defined.astype(int), [0]))))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _optimum_label(optimum: float) -> str:
    return f"known optimum {optimum:.6g}"


def _gap_curves(gaps: Mapping[str, np.ndarray]) -> list[_Curve]:
    """Per sampler, the median and quartiles of its seeds' hypervolume gaps per trial."""
    out = []
    for i, (name, a) in enumerate(gaps.items()):
        med, q1, q3 = (np.percentile(a, q, axis=0) for q in (50, 25, 75))
        out.append(_Curve(name, _COLOURS[i % len(_COLOURS)], med, q1, q3, None))
    return out


def matplotlib_figure(results: Sequence[RunResult], title: str,
                      optimum: float | None) -> Any:
    """The PNG's figure: per sampler a median line and its IQR band, the known optimum
    dashed, and a legend entry saying why a sampler has no line."""
    return _matplotlib_figure(_curves(results), title, optimum, _Y_LABEL, _NOTE)


def _matplotlib_figure(curves: Sequence[_Curve], title: str, optimum: float | None,
                       y_label: str, note: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for cv in curves:
        if cv.no_line is not None:
            ax.plot([], [], color=cv.colour, label=cv.no_line)
            continue
        x = np.arange(1, len(cv.median) + 1)
        # NaN breaks the line where the median is undefined.
        ax.plot(x, cv.median, color=cv.colour, label=cv.name)
        for seg in _segments(~np.isnan(cv.q1) & ~np.isnan(cv.q3)):
            ax.fill_between(x[seg], cv.q1[seg], cv.q3[seg], color=cv.colour,
                            alpha=_BAND_ALPHA, linewidth=0)
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle="--", linewidth=1,
                   label=_optimum_label(optimum))
    ax.set_xlabel("trial")
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.text(0.01, -0.04, note, fontsize=7, va="top")
    return fig


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def plotly_figure(results: Sequence[RunResult], title: str, optimum: float | None) -> Any:
    """The HTML's figure, drawn as :func:`matplotlib_figure` draws the PNG's."""
    return _plotly_figure(_curves(results), title, optimum, _Y_LABEL, _NOTE)


def _plotly_figure(curves: Sequence[_Curve], title: str, optimum: float | None,
                   y_label: str, note: str) -> Any:
    import plotly.graph_objects as go

    def clean(a: np.ndarray) -> list[float | None]:
        return [float(v) if np.isfinite(v) else None for v in a]

    fig = go.Figure()
    for cv in curves:
        if cv.no_line is not None:
            # A trace without points: a legend entry only.
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=cv.no_line,
                                     line={"color": cv.colour}))
            continue
        x = list(range(1, len(cv.median) + 1))
        for seg in _segments(~np.isnan(cv.q1) & ~np.isnan(cv.q3)):
            xs = x[seg]
            fig.add_trace(go.Scatter(
                x=xs + xs[::-1], y=clean(cv.q3[seg]) + clean(cv.q1[seg])[::-1],
                fill="toself", fillcolor=_rgba(cv.colour, _BAND_ALPHA), mode="lines",
                line={"width": 0}, hoverinfo="skip", name=f"{cv.name} IQR",
                legendgroup=cv.name, showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=clean(cv.median), name=cv.name, mode="lines",
                                 line={"color": cv.colour}, legendgroup=cv.name))
    if optimum is not None:
        fig.add_hline(y=optimum, line={"dash": "dash", "color": "black", "width": 1},
                      annotation_text=_optimum_label(optimum),
                      annotation_position="bottom right")
    fig.add_annotation(text=note.replace("\n", "<br>"), xref="paper", yref="paper", x=0,
                       y=-0.22, xanchor="left", yanchor="top", showarrow=False, align="left",
                       font={"size": 10})
    fig.update_layout(title=title, xaxis_title="trial", yaxis_title=y_label,
                      margin={"b": 130})
    return fig


def write_plots(results: Sequence[RunResult], out_dir: Path, title: str,
                optimum: float | None = None) -> list[Path]:
    """Median best-feasible-so-far curves with inter-quartile bands, per sampler, and the
    known optimum when there is one, as PNG (matplotlib: no kaleido needed) and HTML
    (plotly, with plotly.js inside, so it opens offline); a library that is missing is
    skipped."""
    return _write(lambda: matplotlib_figure(results, title, optimum),
                  lambda: plotly_figure(results, title, optimum), out_dir)


def write_gap_plots(gaps: Mapping[str, np.ndarray], out_dir: Path, title: str) -> list[Path]:
    """Median hypervolume-gap curves with inter-quartile bands, per sampler (``gaps``: one
    row per seed, one column per trial), as :func:`write_plots` writes its curves."""
    curves = _gap_curves(gaps)
    return _write(lambda: _matplotlib_figure(curves, title, None, _GAP_Y_LABEL, _GAP_NOTE),
                  lambda: _plotly_figure(curves, title, None, _GAP_Y_LABEL, _GAP_NOTE),
                  out_dir)


def _write(matplotlib_fig: Callable[[], Any], plotly_fig: Callable[[], Any],
           out_dir: Path) -> list[Path]:
    """curves.png and curves.html from the two figures' makers; a library that is missing
    is skipped."""
    written: list[Path] = []
    try:
        fig = matplotlib_fig()  # sets the Agg backend first
        import matplotlib.pyplot as plt

        png = out_dir / "curves.png"
        fig.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(png)
    except ImportError:
        pass
    try:
        html = out_dir / "curves.html"
        # plotly.js inside the file (about 5 MB): a CDN link draws nothing offline.
        plotly_fig().write_html(html, include_plotlyjs=True)
        written.append(html)
    except ImportError:
        pass
    return written
