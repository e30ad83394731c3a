"""The tables of the tabular problems (:mod:`optuna_rena.problems`): their feasible optima,
NAS-Bench-201's parameter counts and true Pareto fronts.

* NAS-Bench-Macro: the best mean accuracy under bounds on parameters and MACs, of one
  network (:func:`macro_optimum`) or of two side by side (:func:`macro_pair_optimum`);
* NAS-Bench-201: the best CIFAR-10 validation accuracy under a latency budget on one
  device (:func:`nb201_optimum`), and the true front of accuracy against a device's latency,
  optionally under a parameter budget (:func:`nb201_true_front`).

The ``digits-curves`` table (our own training runs): its rows checked against the space
they tabulate (:func:`check_curve_table`) and its best feasible final accuracy
(:func:`curves_optimum`).

NAS-Bench-201's table holds no parameter counts; :func:`nb201_params` counts them from the
benchmark's network (see there).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np

from optuna_rena._constraints import Constraint
from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import violations_of
from optuna_rena._pareto import ParetoFront
from optuna_rena._pareto import quantile_budgets
from optuna_rena._space import ArchitectureSpace
from optuna_rena._space import every_params
from optuna_rena.datasets import CurveTable
from optuna_rena.datasets import NB201_OPERATIONS
from optuna_rena.datasets import NB201Table


def macro_columns(table: dict[str, dict[str, Any]]) -> tuple[list[str], np.ndarray,
                                                               np.ndarray, np.ndarray]:
    """NAS-Bench-Macro's codes in order, with their mean accuracies, parameters and MACs
    (the table's ``flops`` column is MACs)."""
    codes = sorted(table)
    return (codes, np.array([table[c]["mean_acc"] for c in codes], dtype=float),
            np.array([table[c]["params"] for c in codes], dtype=float),
            np.array([table[c]["flops"] for c in codes], dtype=float))


def macro_optimum(table: dict[str, dict[str, Any]], max_params: float = np.inf,
                  max_macs: float = np.inf) -> float | None:
    """The best mean accuracy of a network within both bounds, or ``None`` when none is."""
    _, accuracy, params, macs = macro_columns(table)
    ok = (params <= max_params) & (macs <= max_macs)
    return float(accuracy[ok].max()) if ok.any() else None


def macro_pair_optimum(table: dict[str, dict[str, Any]], max_params: float = np.inf,
                       max_macs: float = np.inf) -> float | None:
    """The best mean of two networks' accuracies whose summed parameters and MACs are
    within the bounds, or ``None`` when no pair is: all 6561 x 6561 pairs, 256 rows at a
    time."""
    _, accuracy, params, macs = macro_columns(table)
    best = -np.inf
    for start in range(0, len(accuracy), 256):
        a = slice(start, start + 256)
        ok = ((params[a, None] + params[None, :] <= max_params)
              & (macs[a, None] + macs[None, :] <= max_macs))
        if ok.any():
            best = max(best, float(np.where(ok, accuracy[a, None] + accuracy[None, :],
                                            -np.inf).max()) / 2)
    return best if np.isfinite(best) else None


def nb201_optimum(table: NB201Table, device: str, budget_ms: float) -> float | None:
    """The best accuracy of a cell whose latency on ``device`` is within ``budget_ms``, or
    ``None`` when none is."""
    ok = table.latency_ms[device] <= budget_ms
    return float(table.accuracy[ok].max()) if ok.any() else None


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


def nb201_true_front(table: NB201Table, device: str, params: np.ndarray,
                     max_params: float | None = None) -> ParetoFront:
    """The true front of CIFAR-10 validation accuracy (maximised) against the latency on
    ``device`` (minimised) over the cells whose parameters (``params``, one per row of the
    table) are within ``max_params``; its reference point is the table's median accuracy
    and median latency, and its four latency budgets the 10, 25, 50 and 75 % quantiles of
    the device's latencies over the table."""
    latency = table.latency_ms[device]
    ok = params <= (np.inf if max_params is None else max_params)
    return ParetoFront(
        np.column_stack([table.accuracy[ok], latency[ok]]), ("maximize", "minimize"),
        np.array([np.median(table.accuracy), np.median(latency)]), quantile_budgets(latency),
        budget_objective=1,
        about=(f"true front of the {int(ok.sum())} feasible cells of {len(ok)}; reference "
               "point: the table's median accuracy and median latency on "
               f"{device}; latency budgets: the 10, 25, 50 and 75 % quantiles of "
               f"{device}'s latencies over the table"))


def check_curve_table(table: CurveTable, space: ArchitectureSpace,
                      key: Callable[[dict[str, Any]], str]) -> None:
    """Check that ``table`` has a row for each child of ``space`` and no other, so a trial
    of the space always finds its curve.

    Raises:
        ValueError: The table was made for another space, or its rows are not the space's
            children (``key`` names a child's row).
    """
    if table.fingerprint != space.decisions_fingerprint:
        raise ValueError(f"the learning-curve table was made for the space "
                         f"{table.fingerprint}, not this one ({space.decisions_fingerprint}, "
                         f"{space.summary}); rebuild it with benchmarks/digits_curves.py.")
    try:
        keys = {key(p) for p in every_params(space.decisions, limit=len(table.rows))}
    except ValueError:
        raise ValueError(f"the space has more children than the learning-curve table's "
                         f"{len(table.rows)} rows; rebuild it with "
                         "benchmarks/digits_curves.py.") from None
    missing, extra = keys - set(table.rows), set(table.rows) - keys
    if missing or extra:
        raise ValueError(f"the learning-curve table lacks {len(missing)} of the space's "
                         f"children and has {len(extra)} rows of no child; rebuild it with "
                         "benchmarks/digits_curves.py.")


def curves_optimum(table: CurveTable, constraints: Sequence[Constraint]) -> float | None:
    """The best last-epoch accuracy among the rows whose counted resources meet
    ``constraints``, or ``None`` when none does."""
    finals = [row["accuracy"][-1] for row in table.rows.values()
              if is_feasible(violations_of(constraints, row["resources"]))]
    return max(finals) if finals else None
