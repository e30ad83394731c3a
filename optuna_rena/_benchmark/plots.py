"""The benchmark's best-feasible-so-far curves, as PNG (matplotlib) and HTML (plotly)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from optuna_rena._benchmark.results import curves
from optuna_rena._benchmark.results import RunResult


def write_plots(results: Sequence[RunResult], out_dir: Path, title: str) -> list[Path]:
    """Median best-feasible-so-far curves with inter-quartile bands, per sampler, as PNG
    (matplotlib) and HTML (plotly); a library that is missing is skipped."""
    written: list[Path] = []
    curves_by_sampler = curves(results)

    def bands(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # A seed with no feasible trial yet has no value: bands start where half have one.
        filled = np.where(np.isnan(c), -np.inf, c)
        with np.errstate(invalid="ignore"):
            return tuple(np.percentile(filled, q, axis=0, method="nearest")  # type: ignore[return-value]
                         for q in (50, 25, 75))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5))
        for name, c in curves_by_sampler.items():
            med, q1, q3 = bands(c)
            x = np.arange(1, c.shape[1] + 1)
            ok = np.isfinite(med)
            line, = ax.plot(x[ok], med[ok], label=name)
            both = np.isfinite(q1) & np.isfinite(q3)
            ax.fill_between(x[both], q1[both], q3[both], alpha=0.2, color=line.get_color())
        ax.set_xlabel("trial")
        ax.set_ylabel("best feasible objective (median, IQR band)")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
        png = out_dir / "curves.png"
        fig.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(png)
    except ImportError:
        pass
    def clean(a: np.ndarray) -> list[float | None]:
        return [float(v) if np.isfinite(v) else None for v in a]

    try:
        import plotly.graph_objects as go

        fig = go.Figure()
        for name, c in curves_by_sampler.items():
            med, q1, q3 = bands(c)
            x = list(range(1, c.shape[1] + 1))
            fig.add_trace(go.Scatter(x=x + x[::-1], y=clean(q3) + clean(q1)[::-1],
                                     fill="toself", opacity=0.2, line={"width": 0},
                                     name=f"{name} IQR", showlegend=False))
            fig.add_trace(go.Scatter(x=x, y=clean(med), name=name, mode="lines"))
        fig.update_layout(title=title, xaxis_title="trial",
                          yaxis_title="best feasible objective (median, IQR band)")
        html = out_dir / "curves.html"
        # plotly.js from its CDN keeps the file small; the PNG is there for offline reading.
        fig.write_html(html, include_plotlyjs="cdn")
        written.append(html)
    except ImportError:
        pass
    return written
