"""How well the world model's Gaussian process predicts NAS-Bench-201 from a few random
cells: rank correlation with the truth (all 15625 cells, and the better half), the share
of cells within two predicted standard deviations, and the mean negative log predictive
density, for accuracy and for one device's latency; with the choices' relevance learnt
under its prior (the default), learnt without a prior, and not learnt (one length-scale).

    python benchmarks/nb201_model_quality.py [--data-dir DIR] [--device pixel3] [--seeds 4]
        [--plan-seeds 3]

Then, with ``--plan-seeds``, what the model is worth to a search with nothing else in the
way: 8 random cells, then 142 cells each chosen by the largest log EHVI (accuracy
against latency) over all 15625 cells, with each kernel; the hypervolume gap after 50,
75 and 150 cells (reference point: the table's median accuracy and latency, as
``nb201-front``'s). Prints Markdown tables (``benchmarks/pareto.md`` holds the
committed ones).
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
from scipy import stats

from optuna_rena._pareto import hypervolume
from optuna_rena._sampler import gp
from optuna_rena._sampler.world_model import Observations
from optuna_rena._sampler.world_model import WorldModel
from optuna_rena.datasets import load_nb201_hw
from optuna_rena.datasets import NB201_OPERATIONS


def _quality(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> list[float]:
    top = y > np.median(y)
    z = (y - mean) / std
    return [stats.spearmanr(mean, y)[0], stats.spearmanr(mean[top], y[top])[0],
            float(np.mean(np.abs(z) < 2)), float(np.mean(0.5 * z**2 + np.log(std)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("OPTUNA_RENA_DATA",
                                                             "../shared/data"))
    parser.add_argument("--device", default="pixel3")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--plan-seeds", type=int, default=0)
    args = parser.parse_args()
    table = load_nb201_hw(args.data_dir)
    operations = list(NB201_OPERATIONS)
    codes = np.array([[operations.index(o) for o in cell] for cell in table.cells])
    x = gp.Features(codes, np.zeros((len(codes), 0)))
    outputs = {"accuracy": table.accuracy, "latency": -table.latency_ms[args.device]}
    variants = {"relevance, prior": (True, gp._RELEVANCE_PRIOR),
                "relevance, no prior": (True, math.inf),
                "one length-scale": (False, gp._RELEVANCE_PRIOR)}
    default_prior = gp._RELEVANCE_PRIOR
    print("| kernel | cells | output | Spearman, all | Spearman, better half | "
          "within 2 sd | NLPD |")
    print("|---|---|---|---|---|---|---|")
    for name, (learn, prior) in variants.items():
        gp._RELEVANCE_PRIOR = prior  # an infinite deviation is no prior at all
        for n in (30, 60, 120):
            rows = {k: [] for k in outputs}
            for seed in range(args.seeds):
                chosen = np.random.RandomState(seed).choice(len(codes), n, replace=False)
                for output, y in outputs.items():
                    process = gp.GaussianProcess(learn_relevance=learn)
                    process.fit(x.take(chosen), y[chosen])
                    rows[output].append(_quality(y, *process.predict(x)))
            for output, values in rows.items():
                cells = " | ".join(f"{v:.3f}" for v in np.mean(values, axis=0))
                print(f"| {name} | {n} | {output} | {cells} |")
    gp._RELEVANCE_PRIOR = default_prior
    if args.plan_seeds:
        points = np.stack([outputs["accuracy"], outputs["latency"]], axis=1)
        print()
        print("| kernel | hv gap @50 | hv gap @75 | hv gap @150 |")
        print("|---|---|---|---|")
        for name, (learn, prior) in variants.items():
            if not learn:
                continue  # the world model always learns relevance on choices
            gp._RELEVANCE_PRIOR = prior
            gaps = [_plan_exhaustively(x, points, seed) for seed in range(args.plan_seeds)]
            cells = " | ".join(f"{v:.3f}" for v in np.median(gaps, axis=0))
            print(f"| {name} | {cells} |")
        gp._RELEVANCE_PRIOR = default_prior


def _plan_exhaustively(x: gp.Features, points: np.ndarray, seed: int) -> list[float]:
    directions = ["maximize", "maximize"]  # latency is negated in ``points``
    reference = np.median(points, axis=0)
    best = hypervolume(points, reference, directions)
    chosen = list(np.random.RandomState(seed).choice(len(points), 8, replace=False))
    gaps = []
    while len(chosen) < 150:
        model = WorldModel()
        model.fit(Observations(x.take(np.array(chosen)), points[chosen], {},
                               np.ones(len(chosen), dtype=bool)))
        score = model.acquisition(x)
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
        if len(chosen) in (50, 75, 150):
            gaps.append(1 - hypervolume(points[chosen], reference, directions) / best)
    return gaps


if __name__ == "__main__":
    main()
