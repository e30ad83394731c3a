"""Tabular objectives: define-by-run objectives that look a network up in a benchmark's
table and report its resources with ``trial.set_constraint``, as a user's own objective
would. No space and no resource model: a sampler learns the budget from the trials.

* NAS-Bench-Macro as eight categorical parameters ``L1`` .. ``L8`` (0 identity, 1 and 2
  MobileNetV2 blocks), bounded on the table's parameters and MACs;
* two NAS-Bench-Macro networks side by side (``A1`` .. ``A8``, ``B1`` .. ``B8``, 3^16 =
  43 M configurations), scored by their mean accuracy, bounded on summed parameters and
  MACs;
* NAS-Bench-201 cells as six categorical edges ``E0`` .. ``E5``, scored by CIFAR-10
  validation accuracy, bounded on the latency measured on one device.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from optuna_rena._constraints import Constraint
from optuna_rena.datasets import NB201_OPERATIONS
from optuna_rena.datasets import NB201Table


Objective = Callable[[optuna.Trial], float]

_DIGITS = (0, 1, 2)


def _macro_columns(table: dict[str, dict[str, Any]]) -> tuple[list[str], np.ndarray,
                                                                np.ndarray, np.ndarray]:
    codes = sorted(table)
    return (codes, np.array([table[c]["mean_acc"] for c in codes], dtype=float),
            np.array([table[c]["params"] for c in codes], dtype=float),
            np.array([table[c]["flops"] for c in codes], dtype=float))


def _bound(constraints: Sequence[Constraint], metric: str) -> float:
    for c in constraints:
        if c.metric == metric and c.is_upper:
            return c.limit
    return float("inf")


def nas_bench_macro_plain(table: dict[str, dict[str, Any]],
                          constraints: Sequence[Constraint]) -> tuple[Objective, Callable[[], float | None]]:
    """The objective and a function that finds its feasible optimum. ``constraints`` bound
    ``params`` and ``macs`` (the table's ``flops`` column is MACs)."""
    by_metric = {"params": "params", "macs": "flops"}

    def objective(trial: optuna.Trial) -> float:
        code = "".join(str(trial.suggest_categorical(f"L{i}", _DIGITS)) for i in range(1, 9))
        row = table[code]
        for c in constraints:
            c.set(trial, row[by_metric[c.metric]])
        return float(row["mean_acc"])

    def optimum() -> float | None:
        _, accuracy, params, macs = _macro_columns(table)
        ok = (params <= _bound(constraints, "params")) & (macs <= _bound(constraints, "macs"))
        return float(accuracy[ok].max()) if ok.any() else None

    return objective, optimum


def nas_bench_macro_pair(table: dict[str, dict[str, Any]],
                         constraints: Sequence[Constraint]) -> tuple[Objective, Callable[[], float | None]]:
    """Two networks side by side: the mean of their accuracies, under bounds on their
    summed ``params`` and ``macs``."""
    by_metric = {"params": "params", "macs": "flops"}

    def objective(trial: optuna.Trial) -> float:
        rows = [table["".join(str(trial.suggest_categorical(f"{net}{i}", _DIGITS))
                              for i in range(1, 9))] for net in "AB"]
        for c in constraints:
            c.set(trial, sum(r[by_metric[c.metric]] for r in rows))
        return float(np.mean([r["mean_acc"] for r in rows]))

    def optimum() -> float | None:
        _, accuracy, params, macs = _macro_columns(table)
        max_params, max_macs = _bound(constraints, "params"), _bound(constraints, "macs")
        best = -np.inf
        for start in range(0, len(accuracy), 256):
            a = slice(start, start + 256)
            ok = ((params[a, None] + params[None, :] <= max_params)
                  & (macs[a, None] + macs[None, :] <= max_macs))
            if ok.any():
                best = max(best, float(np.where(ok, accuracy[a, None] + accuracy[None, :],
                                                -np.inf).max()) / 2)
        return best if np.isfinite(best) else None

    return objective, optimum


def nb201(table: NB201Table, device: str,
          budget_ms: float) -> tuple[Objective, Callable[[], float | None], Constraint]:
    """A NAS-Bench-201 cell under a latency budget on ``device``."""
    index = table.index()
    latency = table.latency_ms[device]
    constraint = Constraint("latency_ms", max=budget_ms)

    def objective(trial: optuna.Trial) -> float:
        cell = tuple(trial.suggest_categorical(f"E{i}", NB201_OPERATIONS) for i in range(6))
        row = index[cell]
        constraint.set(trial, float(latency[row]))
        return float(table.accuracy[row])

    def optimum() -> float | None:
        ok = latency <= budget_ms
        return float(table.accuracy[ok].max()) if ok.any() else None

    return objective, optimum, constraint
