"""Draw the figures of the OptunaHub benchmark packages (``optunahub/benchmarks/*/images/``)
from the tables, through the problems that the packages publish.

    python benchmarks/hub_images.py [--data-dir DIR]

Each figure shows a problem's whole table under its example's budget: every
configuration's objective against the bounded resource, the feasible ones apart, the
optimum or the true front marked (on NAS-Bench-201 the latency axis starts at 0.5 ms and
the accuracy at 40 %: the few cells of little latency below 40 % are left out). The pair
problem's 43 M configurations are shown by 20 000 random pairs.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from optuna_rena.problems import NASBenchMacroPairProblem  # noqa: E402
from optuna_rena.problems import NASBenchMacroProblem  # noqa: E402
from optuna_rena.problems import NB201FrontProblem  # noqa: E402
from optuna_rena.problems import NB201LatencyProblem  # noqa: E402

HUB = Path(__file__).resolve().parents[1] / "optunahub" / "benchmarks"


def _every(problem: Any) -> list[dict[str, Any]]:
    """Every configuration of a problem's search space."""
    space = problem.search_space
    return [dict(zip(space, values))
            for values in itertools.product(*(d.choices for d in space.values()))]


def _uses(problem: Any, params: list[dict[str, Any]], name: str) -> np.ndarray:
    """The bounded metric of each configuration, from its normalised violation."""
    (constraint,) = [c for c in problem.constraints if c.name == name]
    return np.array([(problem.evaluate_constraints(p)[name] + 1) * constraint.limit
                     for p in params])


def _save(fig: Any, package: str, name: str) -> None:
    folder = HUB / package / "images"
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(folder / name, dpi=100)
    plt.close(fig)
    print(folder / name)


def nb201_latency(data_dir: str) -> None:
    problem = NB201LatencyProblem(data_dir, device="pixel3", budget_ms=2.5)
    params = _every(problem)
    accuracy = np.array([problem.evaluate(p) for p in params])
    latency = _uses(problem, params, "latency_ms_max")
    ok = latency <= problem.budget_ms
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(latency[~ok], accuracy[~ok], s=3, c="0.7", label="infeasible")
    ax.scatter(latency[ok], accuracy[ok], s=3, c="tab:blue",
               label=f"feasible ({ok.sum()} of {len(ok)})")
    ax.axvline(problem.budget_ms, ls="--", c="k", label="budget 2.5 ms")
    ax.axhline(problem.optimum(), ls=":", c="tab:green",
               label=f"optimum {problem.optimum():.3f} %")
    ax.set(xscale="log", xlabel="latency on pixel3 (ms)", xlim=(0.5, 60), ylim=(40, None),
           ylabel="CIFAR-10 validation accuracy (%)",
           title="NAS-Bench-201, latency_ms <= 2.5 on pixel3")
    ax.legend(loc="lower right", markerscale=4, fontsize=8)
    _save(fig, "nasbench201_latency", "nb201-pixel3.png")


def nb201_front(data_dir: str) -> None:
    problem = NB201FrontProblem(data_dir, device="pixel3")
    points = np.array([problem.evaluate(p) for p in _every(problem)])
    front = problem.front()
    order = np.argsort(front.points[:, 1])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(points[:, 1], points[:, 0], s=3, c="0.7", label=f"{len(points)} cells")
    ax.step(front.points[order, 1], front.points[order, 0], where="post", c="tab:green",
            marker="o", ms=3, label=f"true front ({len(front.points)} cells)")
    ax.scatter(*front.reference_point[::-1], marker="x", c="k", label="reference point")
    ax.set(xscale="log", xlabel="latency on pixel3 (ms, minimised)", xlim=(0.5, 60),
           ylim=(40, None),
           ylabel="CIFAR-10 validation accuracy (%, maximised)",
           title="NAS-Bench-201: accuracy against latency on pixel3")
    ax.legend(loc="lower right", markerscale=2, fontsize=8)
    _save(fig, "nasbench201_latency_front", "nb201-front-pixel3.png")


def _macro_figure(params: np.ndarray, macs: np.ndarray, accuracy: np.ndarray,
                  problem: Any, title: str, what: str) -> Any:
    max_params, max_macs = (c.limit for c in problem.constraints)
    ok = (params <= max_params) & (macs <= max_macs)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(params[~ok] / 1e6, accuracy[~ok], s=3, c="0.7", label="infeasible")
    ax.scatter(params[ok] / 1e6, accuracy[ok], s=6, c="tab:blue",
               label=f"feasible ({ok.sum()} of {len(ok)} {what})")
    ax.axvline(max_params / 1e6, ls="--", c="k",
               label=f"params <= {max_params:g}, macs <= {max_macs:g}")
    ax.set(xlabel="parameters (M)", ylabel="mean CIFAR-10 accuracy (%)", title=title)
    ax.legend(loc="lower right", markerscale=3, fontsize=8)
    return fig


def macro(data_dir: str) -> None:
    problem = NASBenchMacroProblem(data_dir)
    params = _every(problem)
    fig = _macro_figure(_uses(problem, params, "params_max"), _uses(problem, params, "macs_max"),
                        np.array([problem.evaluate(p) for p in params]), problem,
                        "NAS-Bench-Macro under params and MACs bounds", "networks")
    _save(fig, "nasbench_macro", "nas-bench-macro.png")


def macro_pair(data_dir: str) -> None:
    problem = NASBenchMacroPairProblem(data_dir)
    rng = np.random.default_rng(0)
    names = list(problem.search_space)
    params = [dict(zip(names, (int(d) for d in rng.integers(0, 3, len(names)))))
              for _ in range(20_000)]
    fig = _macro_figure(_uses(problem, params, "params_max"), _uses(problem, params, "macs_max"),
                        np.array([problem.evaluate(p) for p in params]), problem,
                        "Two NAS-Bench-Macro networks: 20 000 random pairs", "pairs")
    _save(fig, "nasbench_macro_pair", "nas-bench-macro-pair.png")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get("OPTUNA_RENA_DATA",
                                                             "../shared/data"))
    args = parser.parse_args()
    for draw in (nb201_latency, nb201_front, macro, macro_pair):
        draw(args.data_dir)


if __name__ == "__main__":
    main()
