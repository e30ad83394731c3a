"""A benchmark's figures: per run, the best-feasible curve; over seeds, medians and
quartiles; and the Markdown table."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
import math
import re
import textwrap
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._tasks import is_user_objective


@dataclass
class RunResult:
    """One study: per trial its value (``None`` unless complete), feasibility and state,
    and the time spent in the sampler and in all.

    A study of several objectives has their ``directions``, and each value is the list of
    a trial's values; the best-feasible figures below are for one objective, and
    :mod:`optuna_rena._benchmark.fronts` has those of several.
    """

    sampler: str
    seed: int
    study_name: str
    values: list[Any]
    feasible: list[bool]
    states: list[str]
    sampler_seconds: float
    wall_seconds: float
    maximize: bool = True
    directions: list[str] | None = None

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


def stats(xs: Sequence[float]) -> dict[str, float]:
    """Median and quartiles, and ``none``: how many values are infinite (a seed that found
    nothing, ranked worst). With infinite values, the nearest ranks, since interpolating
    between infinities is undefined."""
    a = np.array(xs, dtype=float)
    method = "linear" if np.isfinite(a).all() else "nearest"
    q1, median, q3 = np.percentile(a, [25, 50, 75], method=method)
    return {"median": float(median), "q1": float(q1), "q3": float(q3),
            "none": int((~np.isfinite(a)).sum())}


def checkpoints_for(n_trials: int) -> list[int]:
    """The trial counts at which the table gives the best feasible value."""
    return sorted({k for k in (50, 100) if k < n_trials} | {n_trials})


def summarise(results: Sequence[RunResult], checkpoints: Sequence[int],
              optimum: float | None = None) -> dict[str, Any]:
    """Median and inter-quartile range of each figure over the seeds of one sampler.
    Runs with no feasible trial count as -inf (maximise) or +inf (minimise)."""
    worst = -math.inf if (not results or results[0].maximize) else math.inf
    out: dict[str, Any] = {
        "runs": len(results),
        "trials_to_first_feasible": stats([r.trials_to_first_feasible() for r in results]),
        "feasible_fraction": stats([float(np.mean(r.feasible)) for r in results]),
        "sampler_ms_per_trial": stats([1000 * r.sampler_seconds / max(1, len(r.values))
                                        for r in results]),
        "wall_seconds": stats([r.wall_seconds for r in results]),
        # What a pruner stopped: those trials count as found nothing, but cost fewer epochs.
        "pruned_fraction": stats([float(np.mean([x == "PRUNED" for x in r.states]))
                                  if r.states else 0.0 for r in results]),
    }
    if optimum is not None:
        out["trials_to_optimum"] = stats([r.trials_to_reach(optimum) for r in results])
    for k in checkpoints:
        bests = []
        for r in results:
            curve = r.best_feasible_curve()
            value = curve[min(k, len(curve)) - 1] if curve else None
            bests.append(worst if value is None else value)
        out[f"best_feasible_at_{k}"] = stats(bests)
        if optimum is not None:
            out[f"regret_at_{k}"] = stats([abs(optimum - b) for b in bests])
            out[f"optimum_found_at_{k}"] = sum(abs(optimum - b) < 1e-9 for b in bests)
    return out


def markdown_table(summary: dict[str, dict[str, Any]], checkpoints: Sequence[int],
                   optimum: float | None) -> str:
    """One row per sampler: medians with the inter-quartile range in brackets, and seeds
    that found nothing in words (see :func:`table_notes`)."""
    last = checkpoints[-1]
    # A seed that never got there has a count of more than the trials it ran.
    censored = f"> {last}"

    head = ["sampler", "seeds", "trials to first feasible"]
    head += [f"best feasible @{k}" for k in checkpoints]
    if optimum is not None:
        head += [f"regret @{last}", f"optimum found @{last}", "trials to optimum"]
    head += ["feasible fraction", "sampler ms/trial", "wall s/run"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in summary.items():
        runs = int(m["runs"])

        def cell(figure: dict[str, Any], digits: int = 2) -> str:
            return cell_text(figure, runs, digits, "none")

        def count(figure: dict[str, Any], digits: int) -> str:
            return cell_text(figure, runs, digits, censored)

        row = [name, str(m["runs"]), count(m["trials_to_first_feasible"], 1)]
        row += [cell(m[f"best_feasible_at_{k}"]) for k in checkpoints]
        if optimum is not None:
            row += [cell(m[f"regret_at_{last}"], 3), f"{m[f'optimum_found_at_{last}']}/{m['runs']}",
                    count(m["trials_to_optimum"], 0)]
        row += [cell(m["feasible_fraction"]), cell(m["sampler_ms_per_trial"], 1),
                cell(m["wall_seconds"], 1)]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def cell_text(figure: Mapping[str, Any], runs: int, digits: int, missing: str) -> str:
    """``median [Q1, Q3]``, with ``missing`` for a figure that falls on a seed that found
    nothing (infinite here, null in results.json) and how many seeds those were."""
    none = int(figure.get("none", 0))
    if runs and none >= runs:
        return "none found"

    def text(v: float | None) -> str:
        return missing if v is None or not math.isfinite(v) else f"{v:.{digits}f}"

    median, q1, q3 = (text(figure[k]) for k in ("median", "q1", "q3"))
    # "> 200 [> 200, > 200]" says no more than "> 200".
    out = median if median == q1 == q3 == missing else f"{median} [{q1}, {q3}]"
    return out + (f" (none in {none} of {runs} seeds)" if none else "")


def table_notes(n_trials: int) -> str:
    """How to read the table's words, below it."""
    text = (
        "Each cell is the median [Q1, Q3] over the seeds of a sampler. A seed that found "
        "nothing ranks worst: where the median or a quartile falls on such seeds, it reads "
        "\"none\" for a value (best feasible and regret: no feasible trial by then) and "
        f"\"> {n_trials}\" for a count of trials (trials to first feasible: no feasible trial "
        f"in the {n_trials} trials of the run; trials to optimum: the optimum not reached). "
        "\"(none in k of n seeds)\" says how many seeds found nothing, and \"none found\" "
        "that none of them found anything. \"optimum found\" counts the seeds that reached "
        "the known optimum. In results.json these figures are null and \"none\" counts "
        "those seeds.")
    # Wrapped for the terminal; a quoted phrase stays on one line, to be found whole.
    keep = re.sub(r'"[^"]*"', lambda m: m.group().replace(" ", "\0"), text)
    return textwrap.fill(keep, width=90).replace("\0", " ")


def results_header(report: Mapping[str, Any]) -> str:
    """What was run, from results.json's keys: the task, trials x seeds, the constraints,
    the known optimum, the command, and how to read a cell. Above the table in results.md
    and on the command's output alike."""
    # Old results.json files have no direction: their runs say it.
    direction = report.get("direction") or (
        "maximize" if all(r.get("maximize", True) for r in report.get("runs", ())) else
        "minimize")
    fewer = report.get("sampler_seeds") or {}
    seeds = f"{report['trials']} trials x {report['seeds']} seeds" + (
        " (" + ", ".join(f"{s}: {n} seed{'s' * (n != 1)}" for s, n in fewer.items()) + ")"
        if fewer else "")
    if report["constraints"]:
        constraints = ", ".join(report["constraints"])
    elif is_user_objective(report["task"]):
        constraints = "none given here (the objective may set its own)"
    else:
        constraints = "none"
    optimum = report["optimum"]
    known = ("not known" if optimum is None else
             f"{optimum:.6g} (the best feasible value of the whole space; regret is from it)")
    command = report.get("command")
    lines = [
        f"# Benchmark: {report['task']}",
        "",
        f"- task: {report['task']} ({direction})",
        f"- samplers: {', '.join(report['samplers'])}",
        f"- runs: {seeds}",
        f"- constraints: {constraints}",
        f"- known optimum: {known}",
        f"- pruner: {pruner_line(report)}",
        f"- command: `{command}`" if command else "- command: not recorded",
        "",
        "median [Q1, Q3] over seeds; words for seeds that found nothing are explained "
        "below the table.",
    ]
    return "\n".join(lines)


def pruner_line(report: Mapping[str, Any]) -> str:
    """The pruner a benchmark ran under, or, for results.json files from before
    ``--pruner``, what Optuna then gave each study."""
    # Those studies were created without a pruner: Optuna's default, MedianPruner(), judged
    # the trials of any task whose objective reports (digits).
    return report.get("pruner") or ("not recorded (before --pruner: Optuna's default "
                                     "MedianPruner(), for objectives that report)")


def results_markdown(report: Mapping[str, Any], table: str) -> str:
    """The whole of results.md: the header, the table and how to read it."""
    return (f"{results_header(report)}\n\n{table}\n\n{table_notes(report['trials'])}\n")


def hide_password(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@host`` URL in it as
    ``***``: results are shared, and the storage URL is in them."""
    return re.sub(r"(://[^/:@\s]*:)[^/@\s]+@", r"\1***@", text)


NULL_MEANS = (
    "In summary, a median or quartile is null where it falls on seeds that found nothing "
    "(no feasible trial: best feasible, regret, trials to first feasible; the optimum not "
    "reached: trials to optimum); such seeds rank worst, and \"none\" counts them. In runs, "
    "a value is null unless its trial completed with a finite value.")
"""What null means in results.json, written there beside the figures."""


def json_safe(obj: Any) -> Any:
    """``obj`` with every infinite or NaN float as ``None``: standard JSON has neither, and
    Python's ``Infinity`` breaks other readers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def curves(results: Sequence[RunResult]) -> dict[str, np.ndarray]:
    """Per sampler, the best-feasible-so-far curves, one row per seed (NaN before any)."""
    out: dict[str, list[list[float]]] = {}
    for r in results:
        curve = [np.nan if v is None else v for v in r.best_feasible_curve()]
        out.setdefault(r.sampler, []).append(curve)
    return {k: np.array(v, dtype=float) for k, v in out.items()}
