"""A benchmark's figures: per run, the best-feasible curve; over seeds, medians and
quartiles; and the Markdown table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations


@dataclass
class RunResult:
    """One study: per trial its value (``None`` unless complete), feasibility and state,
    and the time spent in the sampler and in all."""

    sampler: str
    seed: int
    study_name: str
    values: list[float | None]
    feasible: list[bool]
    states: list[str]
    sampler_seconds: float
    wall_seconds: float
    maximize: bool = True

    def best_feasible_curve(self) -> list[float | None]:
        """After each trial, the best objective among the feasible complete trials."""
        best: float | None = None
        out = []
        for v, f in zip(self.values, self.feasible):
            if f and v is not None and (best is None or (v > best if self.maximize else v < best)):
                best = v
            out.append(best)
        return out

    def trials_to_reach(self, target: float) -> float:
        """1-based count of trials until the best feasible value reaches ``target``
        (within 1e-9); inf when it never does."""
        for i, best in enumerate(self.best_feasible_curve()):
            if best is not None and (best >= target - 1e-9 if self.maximize
                                     else best <= target + 1e-9):
                return float(i + 1)
        return math.inf

    def trials_to_first_feasible(self) -> float:
        """1-based count of trials up to the first feasible complete one; inf when none."""
        for i, (v, f) in enumerate(zip(self.values, self.feasible)):
            if f and v is not None:
                return float(i + 1)
        return math.inf


def feasible_and_complete(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and is_feasible(trial_violations(trial))


def _stats(xs: Sequence[float]) -> dict[str, float]:
    """Median and quartiles; with infinite values (no feasible trial), the nearest ranks,
    since interpolating between infinities is undefined."""
    a = np.array(xs, dtype=float)
    method = "linear" if np.isfinite(a).all() else "nearest"
    q1, median, q3 = np.percentile(a, [25, 50, 75], method=method)
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def summarise(results: Sequence[RunResult], checkpoints: Sequence[int],
              optimum: float | None = None) -> dict[str, Any]:
    """Median and inter-quartile range of each figure over the seeds of one sampler.
    Runs with no feasible trial count as -inf (maximise) or +inf (minimise)."""
    worst = -math.inf if (not results or results[0].maximize) else math.inf
    out: dict[str, Any] = {
        "runs": len(results),
        "trials_to_first_feasible": _stats([r.trials_to_first_feasible() for r in results]),
        "feasible_fraction": _stats([float(np.mean(r.feasible)) for r in results]),
        "sampler_ms_per_trial": _stats([1000 * r.sampler_seconds / max(1, len(r.values))
                                        for r in results]),
        "wall_seconds": _stats([r.wall_seconds for r in results]),
    }
    if optimum is not None:
        out["trials_to_optimum"] = _stats([r.trials_to_reach(optimum) for r in results])
    for k in checkpoints:
        bests = []
        for r in results:
            curve = r.best_feasible_curve()
            value = curve[min(k, len(curve)) - 1] if curve else None
            bests.append(worst if value is None else value)
        out[f"best_feasible_at_{k}"] = _stats(bests)
        if optimum is not None:
            out[f"regret_at_{k}"] = _stats([abs(optimum - b) for b in bests])
            out[f"optimum_found_at_{k}"] = sum(abs(optimum - b) < 1e-9 for b in bests)
    return out


def markdown_table(summary: dict[str, dict[str, Any]], checkpoints: Sequence[int],
                   optimum: float | None) -> str:
    """One row per sampler: medians with the inter-quartile range in brackets."""
    def cell(stats: dict[str, float], digits: int = 2) -> str:
        return (f"{stats['median']:.{digits}f} [{stats['q1']:.{digits}f}, "
                f"{stats['q3']:.{digits}f}]")

    last = checkpoints[-1]
    head = ["sampler", "seeds", "trials to first feasible"]
    head += [f"best feasible @{k}" for k in checkpoints]
    if optimum is not None:
        head += [f"regret @{last}", f"optimum found @{last}", "trials to optimum"]
    head += ["feasible fraction", "sampler ms/trial", "wall s/run"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in summary.items():
        row = [name, str(m["runs"]), cell(m["trials_to_first_feasible"], 1)]
        row += [cell(m[f"best_feasible_at_{k}"]) for k in checkpoints]
        if optimum is not None:
            row += [cell(m[f"regret_at_{last}"], 3), f"{m[f'optimum_found_at_{last}']}/{m['runs']}",
                    cell(m["trials_to_optimum"], 0)]
        row += [cell(m["feasible_fraction"]), cell(m["sampler_ms_per_trial"], 1),
                cell(m["wall_seconds"], 1)]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def curves(results: Sequence[RunResult]) -> dict[str, np.ndarray]:
    """Per sampler, the best-feasible-so-far curves, one row per seed (NaN before any)."""
    out: dict[str, list[list[float]]] = {}
    for r in results:
        curve = [np.nan if v is None else v for v in r.best_feasible_curve()]
        out.setdefault(r.sampler, []).append(curve)
    return {k: np.array(v, dtype=float) for k, v in out.items()}
