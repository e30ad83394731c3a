"""The tables of BENCHMARKS.md for NAS-Bench-201 on thirty (and seventy) seeds, from the
results that ``nb201_thirty_seeds.sh`` wrote (nothing is run again):

    python benchmarks/nb201_thirty_table.py [benchmarks/nb201-30seeds | benchmarks/nb201-70seeds]

Per budget: each sampler's median regret at 150 trials [quartiles], the seeds that found
the optimum, the sampler's milliseconds per trial, and two-sided tests of RenaSampler
against GP on the same seeds' outcomes: Fisher's exact test on the optimum found, and the
Mann-Whitney U test on the regrets (with the sampler whose regrets tend lower). Where
they are far above 0.05, thirty seeds cannot tell the two apart.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

import numpy as np
from scipy import stats

from nb201_rena_seeds import BUDGETS  # beside this script

SAMPLERS = ("rena", "tpe", "gp")


def _regrets(report: dict, sampler: str) -> np.ndarray:
    """Per seed, the optimum minus the best feasible value (inf where none was found)."""
    out = []
    for run in report["runs"]:
        if run["sampler"] != sampler:
            continue
        found = [v for v, ok in zip(run["values"], run["feasible"]) if ok and v is not None]
        best = max(found) if found else -np.inf
        out.append(report["optimum"] - best if run["maximize"] else best - report["optimum"])
    return np.array(out)


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/nb201-30seeds")
    print("| device, budget | " + " | ".join(SAMPLERS) + " | optimum found: "
          + " / ".join(SAMPLERS) + " | ms/trial: " + " / ".join(SAMPLERS)
          + " | rena vs gp: p (optimum found), p (regret) |")
    print("|---" * (len(SAMPLERS) + 4) + "|")
    for device, budget in BUDGETS:
        path = root / f"{device}-{budget}" / "results.json"
        if not path.exists():
            continue  # not run with these seeds
        report = json.loads(path.read_text())
        regrets = {s: _regrets(report, s) for s in SAMPLERS}
        cells = []
        for s in SAMPLERS:
            q1, median, q3 = np.percentile(regrets[s], [25, 50, 75])
            cells.append(f"{median:.3f} [{q1:.3f}, {q3:.3f}]")
        found = {s: int((regrets[s] <= 1e-9).sum()) for s in SAMPLERS}
        ms = [report["summary"][s]["sampler_ms_per_trial"]["median"] for s in SAMPLERS]
        n = {s: len(regrets[s]) for s in SAMPLERS}
        _, p_found = stats.fisher_exact([[found["rena"], n["rena"] - found["rena"]],
                                         [found["gp"], n["gp"] - found["gp"]]])
        test = stats.mannwhitneyu(regrets["rena"], regrets["gp"])
        # U counts the pairs where RenaSampler's regret is the larger: above half of all
        # pairs, GP's regrets tend lower.
        lower = "gp" if test.statistic > 0.5 * n["rena"] * n["gp"] else "rena"
        print(f"| {device} <= {budget} ms | " + " | ".join(cells) + " | "
              + " / ".join(str(found[s]) for s in SAMPLERS) + f" of {n['rena']} | "
              + " / ".join(f"{m:.1f}" if m < 100 else f"{m:.0f}" for m in ms)
              + f" | {p_found:.2f}, {test.pvalue:.2f} ({lower} lower) |")


if __name__ == "__main__":
    main()
