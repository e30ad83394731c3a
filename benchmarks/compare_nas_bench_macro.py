"""RenaSampler against Optuna's samplers on NAS-Bench-Macro (params <= 0.6 M, MACs <= 25 M).

python benchmarks/compare_nas_bench_macro.py --seeds 10 --trials 200 --samplers rena tpe gp random
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
import json
import os
from pathlib import Path
import sys

import optuna

from optuna_rena import Constraint
from optuna_rena._benchmark import load_nas_bench_macro
from optuna_rena._benchmark import run_nas_bench_macro
from optuna_rena._benchmark import summarise


def _one(args: tuple[str, str, int, int, float, float]) -> dict:
    data, sampler, seed, trials, max_params, max_macs = args
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import torch
    torch.set_num_threads(1)
    table = load_nas_bench_macro(data)
    r = run_nas_bench_macro(table, sampler, seed, trials,
                            [Constraint("params", max=max_params), Constraint("macs", max=max_macs)])
    return r.__dict__


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("OPTUNA_RENA_DATA", "../shared/data"))
    parser.add_argument("--samplers", nargs="+", default=["rena", "tpe", "gp", "random"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--max-params", type=float, default=600_000)
    parser.add_argument("--max-macs", type=float, default=25_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    jobs = [(args.data, s, seed, args.trials, args.max_params, args.max_macs)
            for s in args.samplers for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        raw = list(pool.map(_one, jobs))
    from optuna_rena._benchmark import RunResult
    results = [RunResult(**r) for r in raw]
    summary = {}
    for s in args.samplers:
        summary[s] = summarise([r for r in results if r.sampler == s], [100, args.trials])
    optimum = max(v["mean_acc"] for v in load_nas_bench_macro(args.data).values()
                  if v["params"] <= args.max_params and v["flops"] <= args.max_macs)
    print(f"| sampler | trials to first feasible | best feasible @100 | best feasible @{args.trials} | optimum found | mean best @{args.trials} | feasible % | sampler ms/trial |")
    print("|---|---|---|---|---|---|---|---|")
    for s, m in summary.items():
        print(f"| {s} | {m['trials_to_first_feasible']['median']:g} | "
              f"{m['best_feasible_at_100']['median']:.2f} | {m[f'best_feasible_at_{args.trials}']['median']:.2f} | "
              f"{sum(max(v for v, f in zip(r.values, r.feasible) if f) >= optimum - 1e-9 for r in results if r.sampler == s and any(r.feasible))}/{m['runs']} | "
              f"{sum(max([v for v, f in zip(r.values, r.feasible) if f] or [0]) for r in results if r.sampler == s) / m['runs']:.2f} | "
              f"{100 * m['feasible_fraction']['median']:.0f} | {m['sampler_ms_per_trial']['median']:.1f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "runs": raw}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
