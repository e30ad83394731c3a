"""A multi-objective benchmark's figures: per run, the hypervolume gap after each trial and
the budget regrets; over seeds, their medians and quartiles; and the Markdown tables.

A run's front after ``k`` trials is the set of its feasible complete trials among the
first ``k``. Its hypervolume gap is ``1 - HV(front) / HV(true front)``, both up to the
task's reference point (:class:`~optuna_rena._pareto.ParetoFront`); a trial beyond the
reference point adds nothing. Its regret under a budget ``b`` on the budget objective
(latency) is the best first objective (accuracy) of the true front within ``b`` minus the
best among the run's feasible complete trials within ``b``.

When the task knows no true front (real training), the reference is the best front that
any run of the benchmark found (:func:`pooled_front`): the gap then says how far a run is
from the others' union, not from the optimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import re
import textwrap
from typing import Any

import numpy as np

from optuna_rena._benchmark.results import cell_text
from optuna_rena._benchmark.results import pruner_line
from optuna_rena._benchmark.results import RunResult
from optuna_rena._benchmark.results import stats
from optuna_rena._pareto import best_within
from optuna_rena._pareto import budget_regret
from optuna_rena._pareto import hypervolume
from optuna_rena._pareto import ParetoFront
from optuna_rena._pareto import quantile_budgets


def found_points(result: RunResult, k: int | None = None) -> np.ndarray:
    """The values of a run's feasible complete trials among its first ``k`` (all by
    default), one row each."""
    n = len(result.values) if k is None else k
    rows = [v for v, f in zip(result.values[:n], result.feasible[:n])
            if f and v is not None and np.isfinite(v).all()]
    if not rows:
        return np.empty((0, len(result.directions or [0])))
    return np.array(rows, dtype=float)


def gap_curve(result: RunResult, front: ParetoFront) -> list[float]:
    """The hypervolume gap after each trial of a run (1 before its first feasible trial
    within the reference point)."""
    total = front.hypervolume
    if not total > 0:
        raise ValueError("the front dominates no volume up to its reference point.")
    out, points, gap = [], [], 1.0
    for v, f in zip(result.values, result.feasible):
        if f and v is not None and np.isfinite(v).all():
            points.append(v)
            # The hypervolume moves only when a trial joins the front; recomputing it from
            # all points is still cheap at benchmark sizes (a few hundred trials).
            gap = 1.0 - hypervolume(points, front.reference_point, front.directions) / total
        out.append(gap)
    return out


def regrets(result: RunResult, front: ParetoFront, k: int) -> list[float]:
    """Per budget of ``front``, the run's regret after ``k`` trials: ``inf`` when it has no
    feasible trial within the budget, NaN when the front has no point within it."""
    points = found_points(result, k)
    maximize = front.directions[0] == "maximize"
    return [budget_regret(optimum,
                          best_within(points, front.directions, front.budget_objective, b),
                          maximize)
            for b, optimum in zip(front.budgets, front.budget_optima())]


def regret_checkpoints(n_trials: int) -> list[int]:
    """The trial counts at which the budget regrets are given: 50 and the last."""
    return sorted({k for k in (50,) if k < n_trials} | {n_trials})


def pooled_front(results: Sequence[RunResult], directions: Sequence[str],
                 budget_objective: int = 1) -> ParetoFront:
    """The best front that any of ``results`` found, for a task without a known front:
    its points are the non-dominated feasible complete trials of every run; its reference
    point the median of each objective over those trials; its budgets the 10, 25, 50 and
    75 % quantiles of the budget objective over them.

    Raises:
        ValueError: No run has a feasible complete trial.
    """
    found = [p for p in map(found_points, results) if len(p)]
    if not found:
        raise ValueError("no run found a feasible trial, so there is no front to measure "
                         "the runs against.")
    points = np.concatenate(found)
    return ParetoFront(
        points, tuple(directions), np.median(points, axis=0),
        quantile_budgets(points[:, budget_objective]), budget_objective, known=False,
        about=(f"not known: the best front found by any run of this benchmark (of "
               f"{len(points)} feasible trials); reference point: the median of each "
               "objective over those trials; budgets: the 10, 25, 50 and 75 % quantiles of "
               "the bounded objective over them"))


def summarise_front(results: Sequence[RunResult], front: ParetoFront,
                    checkpoints: Sequence[int]) -> dict[str, Any]:
    """Median and inter-quartile range over the seeds of one sampler: the hypervolume gap
    at each checkpoint, the regret under each budget at :func:`regret_checkpoints`, the
    feasible fraction, and the sampler's and the run's seconds. A run with nothing within
    a budget counts as an infinite regret (worst)."""
    n_trials = max((len(r.values) for r in results), default=0)
    curves = [gap_curve(r, front) for r in results]
    out: dict[str, Any] = {
        "runs": len(results),
        "feasible_fraction": stats([float(np.mean(r.feasible)) if r.feasible else 0.0
                                    for r in results]),
        "sampler_seconds": stats([r.sampler_seconds for r in results]),
        "wall_seconds": stats([r.wall_seconds for r in results]),
    }
    for k in checkpoints:
        out[f"hv_gap_at_{k}"] = stats([c[min(k, len(c)) - 1] if c else 1.0 for c in curves])
    optima = front.budget_optima()
    for k in regret_checkpoints(n_trials):
        per_run = [regrets(r, front, k) for r in results]
        for i, (b, optimum) in enumerate(zip(front.budgets, optima)):
            if optimum is not None:
                out[f"regret_at_{k}_budget_{i}"] = stats([r[i] for r in per_run])
    return out


def _budget_label(front: ParetoFront, metric_names: Sequence[str], i: int) -> str:
    return f"{metric_names[front.budget_objective]} <= {front.budgets[i]:g}"


def front_tables(summary: Mapping[str, Mapping[str, Any]], front: ParetoFront,
                 metric_names: Sequence[str], checkpoints: Sequence[int],
                 n_trials: int) -> str:
    """Two Markdown tables, one row per sampler: the hypervolume gap at each checkpoint
    with the feasible fraction and the times; and the budget regrets, under each budget at
    50 trials and at the last."""
    head = ["sampler", "seeds", *(f"hv gap @{k}" for k in checkpoints), "feasible fraction",
            "sampler s/run", "wall s/run"]
    rows = [_row(head), "|" + "---|" * len(head)]
    for name, m in summary.items():
        runs = int(m["runs"])
        rows.append(_row([name, str(runs), *(_cell(m[f"hv_gap_at_{k}"], runs, 3)
                                             for k in checkpoints),
                          _cell(m["feasible_fraction"], runs, 2),
                          _cell(m["sampler_seconds"], runs, 2),
                          _cell(m["wall_seconds"], runs, 1)]))
    tables = ["\n".join(rows)]
    budgets = [i for i, optimum in enumerate(front.budget_optima()) if optimum is not None]
    if budgets:
        head = ["sampler", *(f"{_budget_label(front, metric_names, i)} @{k}"
                             for i in budgets for k in regret_checkpoints(n_trials))]
        rows = [_row(head), "|" + "---|" * len(head)]
        for name, m in summary.items():
            runs = int(m["runs"])
            rows.append(_row([name, *(_cell(m[f"regret_at_{k}_budget_{i}"], runs, 3)
                                      for i in budgets
                                      for k in regret_checkpoints(n_trials))]))
        tables.append(f"Budget regret ({metric_names[0]}): the best of the "
                      f"{'true front' if front.known else 'best front found'} within the "
                      "budget minus the best feasible trial within it.\n\n" + "\n".join(rows))
    return "\n\n".join(tables)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(s: Mapping[str, Any], runs: int, digits: int) -> str:
    return cell_text(s, runs, digits, "none")


def front_header(report: Mapping[str, Any]) -> str:
    """What was run, from results.json's keys: the task, its objectives, trials x seeds,
    the constraints, the front and its reference point, the budgets, the command."""
    front = report["front"]
    names, directions = report["metric_names"], report["directions"]
    objectives = ", ".join(f"{n} ({d})" for n, d in zip(names, directions))
    fewer = report.get("sampler_seeds") or {}
    seeds = f"{report['trials']} trials x {report['seeds']} seeds" + (
        " (" + ", ".join(f"{s}: {n} seed{'s' * (n != 1)}" for s, n in fewer.items()) + ")"
        if fewer else "")
    reference = ", ".join(f"{n} {v:.6g}" for n, v in zip(names, front["reference_point"]))
    bounded = names[front["budget_objective"]]
    budgets = ", ".join(
        f"{bounded} <= {b:g} (best {names[0]} {o:.6g})" if o is not None else
        f"{bounded} <= {b:g} (nothing within it)"
        for b, o in zip(front["budgets"], front["budget_optima"]))
    command = report.get("command")
    return "\n".join([
        f"# Benchmark: {report['task']}",
        "",
        f"- task: {report['task']}, objectives: {objectives}",
        f"- samplers: {', '.join(report['samplers'])}",
        f"- runs: {seeds}",
        f"- constraints: {', '.join(report['constraints']) or 'none'}",
        f"- front: {len(front['points'])} points, {front['about']}",
        f"- reference point: {reference}; the front's hypervolume {front['hypervolume']:.6g}",
        f"- budgets: {budgets}",
        f"- pruner: {pruner_line(report)}",
        f"- command: `{command}`" if command else "- command: not recorded",
        "",
        "median [Q1, Q3] over seeds; how to read a cell is below the tables.",
    ])


def front_notes(known: bool) -> str:
    """How to read the tables, below them."""
    against = ("the true front (every feasible configuration of the table)" if known else
               "the best front found by any run of this benchmark, as the task knows no "
               "true front: 0 is the best of this run, not the optimum")
    text = (
        "Each cell is the median [Q1, Q3] over the seeds of a sampler. hv gap @k is 1 - "
        "HV(found) / HV(front) after k trials, where found is the run's feasible complete "
        f"trials and front is {against}, both up to the reference point (a trial beyond it "
        "adds nothing): 0 is the whole front, 1 nothing within the reference point. A budget "
        "regret is in the first objective's units; where it falls on seeds with no feasible "
        "trial within the budget, it reads \"none\", and \"(none in k of n seeds)\" says how "
        "many. sampler s/run is the time spent in the sampler over the whole run. In "
        "results.json these figures are null and \"none\" counts those seeds; each run has "
        "its hv gap after every trial.")
    keep = re.sub(r'"[^"]*"', lambda m: m.group().replace(" ", "\0"), text)
    return textwrap.fill(keep, width=90).replace("\0", " ")


def front_markdown(report: Mapping[str, Any], tables: str) -> str:
    """The whole of a multi-objective results.md: the header, the tables and how to read
    them."""
    return (f"{front_header(report)}\n\n{tables}\n\n"
            f"{front_notes(bool(report['front']['known']))}\n")


def front_record(front: ParetoFront) -> dict[str, Any]:
    """The front as results.json keeps it."""
    return {
        "known": front.known, "about": front.about, "directions": list(front.directions),
        "reference_point": front.reference_point.tolist(),
        "hypervolume": front.hypervolume, "budget_objective": front.budget_objective,
        "budgets": list(front.budgets), "budget_optima": front.budget_optima(),
        "points": front.points.tolist(),
    }


def front_from_record(record: Mapping[str, Any]) -> ParetoFront:
    """The front that :func:`front_record` wrote."""
    return ParetoFront(np.array(record["points"], dtype=float), tuple(record["directions"]),
                       np.array(record["reference_point"], dtype=float),
                       tuple(record["budgets"]), int(record["budget_objective"]),
                       bool(record["known"]), str(record["about"]))


def median_gap_curves(results: Sequence[RunResult],
                      front: ParetoFront) -> dict[str, np.ndarray]:
    """Per sampler, the hypervolume gap after each trial, one row per seed (runs cut short
    by failures are padded with their last gap)."""
    out: dict[str, list[list[float]]] = {}
    for r in results:
        out.setdefault(r.sampler, []).append(gap_curve(r, front))
    arrays = {}
    for name, rows in out.items():
        n = max(len(c) for c in rows)
        arrays[name] = np.array([c + [c[-1] if c else 1.0] * (n - len(c)) for c in rows],
                                dtype=float)
    return arrays
