"""The summary table of BENCHMARKS.md's "Pareto search": per benchmark folder of several
objectives and per sampler, the median hypervolume gap at each checkpoint, the median
budget regret at the last trial under each budget, and the sampler's seconds per run,
read from the folders' ``results.json`` (nothing is run).

    python benchmarks/pareto_table.py benchmarks/nb201-front-pixel3 benchmarks/nb201-front-eyeriss ...
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import sys


def main(folders: list[str]) -> None:
    print("| task | sampler | seeds | hv gap | budget regret at the last trial | "
          "sampler s/run |")
    print("|---|---|---|---|---|---|")
    for folder in folders:
        report = json.loads((Path(folder) / "results.json").read_text())
        last = report["trials"]
        for sampler in report["samplers"]:
            s = report["summary"][sampler]
            gaps = sorted((int(re.findall(r"\d+", k)[0]), v["median"])
                          for k, v in s.items() if k.startswith("hv_gap_at_"))
            gap = " / ".join(f"{v:.3f}" for _, v in gaps)
            at = [int(n) for n, _ in gaps]
            regrets = [s[k]["median"] for k in sorted(s)
                       if k.startswith(f"regret_at_{last}_budget_")]
            regret = " / ".join("none" if v is None else f"{v:.2f}" for v in regrets)
            print(f"| {report['task']} | {sampler} | {s['runs']} | {gap} (@{'/'.join(map(str, at))}) "
                  f"| {regret} | {s['sampler_seconds']['median']:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
