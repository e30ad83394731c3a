"""What the eight NAS-Bench-201 budgets of BENCHMARKS.md ask of a sampler: per budget, the
feasible cells, the tiers of accuracy at the top of the feasible set (a median regret can
only take these values), and how visible the optimum is to a model.

    python benchmarks/nb201_landscape.py [--data-dir DIR]

Visibility is measured with everything known: a ridge regression on the one-hot code of
the six edges and all pairwise products of it (main effects and interactions of two
edges), fitted on all 15625 cells, ranks the feasible cells; the optimum's rank there
tells how visible it is to a smooth model of that kind when everything is known. The optimum's one-edge neighbours show whether it
sits on a ridge a local search climbs, or alone.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.linear_model import Ridge

from nb201_rena_seeds import BUDGETS  # beside this script
from optuna_rena.datasets import load_nb201_hw
from optuna_rena.datasets import NB201_OPERATIONS


def _codes(cells: np.ndarray) -> np.ndarray:
    single = np.stack([cells[:, e] == op for e in range(6) for op in NB201_OPERATIONS],
                      axis=1).astype(float)
    pairs = [single[:, i] * single[:, j] for i in range(30) for j in range(i + 1, 30)
             if i // 5 != j // 5]
    return np.column_stack([single, *pairs])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get("OPTUNA_RENA_DATA",
                                                             "../shared/data"))
    args = parser.parse_args()
    table = load_nb201_hw(args.data_dir)
    cells = np.array(table.cells)
    accuracy = table.accuracy
    x = _codes(cells)
    predicted = Ridge(alpha=1.0).fit(x, accuracy).predict(x)
    print("| device, budget | feasible cells | optimum | cells at the optimum | "
          "next tiers (regret: cells) | optimum's rank by a pairwise model fitted on "
          "all cells | optimum's feasible one-edge neighbours (best regret) |")
    print("|---|---|---|---|---|---|---|")
    for device, budget in BUDGETS:
        feasible = table.latency_ms[device] <= budget
        rows = np.flatnonzero(feasible)
        best = float(accuracy[rows].max())
        optimum = rows[np.argmax(accuracy[rows])]
        tiers = np.unique(accuracy[rows])[::-1]
        counts = [int((accuracy[rows] == t).sum()) for t in tiers[:3]]
        tier_text = ", ".join(f"{best - t:.3f}: {c}" for t, c in zip(tiers[1:3], counts[1:3]))
        rank = 1 + int((predicted[rows] > predicted[optimum]).sum())
        neighbours = np.flatnonzero((cells != cells[optimum]).sum(axis=1) == 1)
        near = neighbours[feasible[neighbours]]
        near_text = (f"{len(near)} of {len(neighbours)} ({best - accuracy[near].max():.3f})"
                     if len(near) else f"0 of {len(neighbours)}")
        print(f"| {device} <= {budget} ms | {len(rows)} ({len(rows) / len(cells):.1%}) | "
              f"{best:.3f} | {counts[0]} | {tier_text} | {rank} of {len(rows)} | "
              f"{near_text} |")


if __name__ == "__main__":
    main()
