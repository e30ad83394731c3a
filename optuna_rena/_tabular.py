"""Tabular objectives: define-by-run objectives that look a network up in a benchmark's
table and report its resources with ``trial.set_constraint``, as a user's own objective
would. No space and no resource model: a sampler learns the budget from the trials.

* NAS-Bench-Macro as eight categorical parameters ``L1`` .. ``L8`` (0 identity, 1 and 2
  MobileNetV2 blocks), bounded on the table's parameters and MACs;
* two NAS-Bench-Macro networks side by side (``A1`` .. ``A8``, ``B1`` .. ``B8``, 3^16 =
  43 M configurations), scored by their mean accuracy, bounded on summed parameters and
  MACs;
* NAS-Bench-201 cells as six categorical edges ``E0`` .. ``E5``, scored by CIFAR-10
  validation accuracy, bounded on the latency measured on one device;
* the same cells with two objectives, accuracy (maximised) and the latency measured on one
  device (minimised), optionally bounded on the cell's parameters, with the table's true
  Pareto front (:func:`nb201_front`).

NAS-Bench-201's table holds no parameter counts; :func:`nb201_params` counts them from the
benchmark's network (see there).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from optuna_rena._constraints import Constraint
from optuna_rena._pareto import ParetoFront
from optuna_rena._pareto import quantile_budgets
from optuna_rena.datasets import NB201_OPERATIONS
from optuna_rena.datasets import NB201Table


Objective = Callable[[optuna.Trial], float]
MultiObjective = Callable[[optuna.Trial], tuple[float, ...]]

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


NB201_STAGE_CHANNELS = (16, 32, 64)
"""The channels of NAS-Bench-201's three stages of cells (CIFAR-10)."""
NB201_CELLS_PER_STAGE = 5
NB201_CLASSES = 10


def _conv_bn_params(c_in: int, c_out: int, kernel: int) -> int:
    """A convolution without bias followed by an affine batch norm."""
    return kernel * kernel * c_in * c_out + 2 * c_out


def nb201_params(cell: Sequence[str]) -> int:
    """The trainable parameters of the CIFAR-10 network of a NAS-Bench-201 ``cell`` (six
    edge operations).

    The network (Dong and Yang 2020, the benchmark's ``TinyNetwork``): a stem, Conv 3x3
    3 -> 16 and batch norm; three stages of 5 cells with C = 16, 32 and 64 channels; between
    stages a residual reduction block C -> 2C (ReLU-Conv 3x3 stride 2-BN, ReLU-Conv 3x3-BN,
    and a shortcut of 2x2 average pooling and a 1x1 convolution); a final batch norm, global
    pooling and a linear classifier 64 -> 10. Every batch norm is affine (2C parameters),
    no convolution has a bias. In a cell, ``nor_conv_3x3`` is ReLU-Conv(C, C, 3)-BN,
    9 C^2 + 2 C parameters; ``nor_conv_1x1`` ReLU-Conv(C, C, 1)-BN, C^2 + 2 C;
    ``skip_connect``, ``avg_pool_3x3`` and ``none`` have none. So with ``n3`` and ``n1`` edges
    of each convolution::

        params = 73,306 + 5 * (48,608 n3 + 5,600 n1) = 73,306 + 243,040 n3 + 28,000 n1

    73,306 (no convolution) and 1,531,546 (six 3x3 convolutions) are the least and most
    parameters that NAS-Bench-201 lists for CIFAR-10 (0.073306 and 1.531546 M), and the
    ResNet-like cell (two 3x3 convolutions) has 559,386, the benchmark's 0.559386 M. The
    tests build the network in torch and count its parameters.
    """
    unknown = set(cell) - set(NB201_OPERATIONS)
    if len(cell) != 6 or unknown:
        raise ValueError("a NAS-Bench-201 cell is six operations of "
                         f"{list(NB201_OPERATIONS)}, got {tuple(cell)!r}.")
    first, last = NB201_STAGE_CHANNELS[0], NB201_STAGE_CHANNELS[-1]
    stem = _conv_bn_params(3, first, 3)
    # Each: ReLU-Conv 3x3 stride 2-BN, ReLU-Conv 3x3-BN, and the shortcut's 1x1 convolution.
    reductions = sum(_conv_bn_params(c, 2 * c, 3) + _conv_bn_params(2 * c, 2 * c, 3)
                     + c * 2 * c for c in NB201_STAGE_CHANNELS[:-1])
    head = 2 * last + last * NB201_CLASSES + NB201_CLASSES
    kernels = {"nor_conv_3x3": 3, "nor_conv_1x1": 1}
    cells = NB201_CELLS_PER_STAGE * sum(
        _conv_bn_params(c, c, kernels[op]) for c in NB201_STAGE_CHANNELS for op in cell
        if op in kernels)
    return stem + reductions + head + cells


def nb201_front(table: NB201Table, device: str, max_params: float | None = None
                ) -> tuple[MultiObjective, Callable[[], ParetoFront], tuple[Constraint, ...]]:
    """NAS-Bench-201 cells with two objectives: CIFAR-10 validation accuracy (maximised)
    and the latency measured on ``device`` (minimised); with ``max_params``, a bound on the
    cell's parameters (:func:`nb201_params`) as well, set with ``Constraint.set``.

    Returns:
        The objective (it records ``latency_ms`` and ``params`` on each trial), a function
        that gives the true front (every feasible cell) with its reference point, the
        table's median accuracy and median latency, and four latency budgets, the 10, 25,
        50 and 75 % quantiles of the device's latencies over the table; and the
        constraints.
    """
    index = table.index()
    latency = table.latency_ms[device]
    params = np.array([nb201_params(cell) for cell in table.cells], dtype=float)
    constraints = () if max_params is None else (Constraint("params", max=max_params),)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        cell = tuple(trial.suggest_categorical(f"E{i}", NB201_OPERATIONS) for i in range(6))
        row = index[cell]
        for c in constraints:
            c.set(trial, params[row])  # records params too
        if not constraints:
            trial.set_user_attr("params", float(params[row]))
        trial.set_user_attr("latency_ms", float(latency[row]))
        return float(table.accuracy[row]), float(latency[row])

    def front() -> ParetoFront:
        ok = params <= (np.inf if max_params is None else max_params)
        budgets = quantile_budgets(latency)
        return ParetoFront(
            np.column_stack([table.accuracy[ok], latency[ok]]), ("maximize", "minimize"),
            np.array([np.median(table.accuracy), np.median(latency)]), budgets,
            budget_objective=1,
            about=(f"true front of the {int(ok.sum())} feasible cells of {len(ok)}; reference "
                   "point: the table's median accuracy and median latency on "
                   f"{device}; latency budgets: the 10, 25, 50 and 75 % quantiles of "
                   f"{device}'s latencies over the table"))

    return objective, front, constraints
