"""Re-render a benchmark folder's results.md from its results.json (after the table's
columns change, without re-running anything):

    python benchmarks/tables.py benchmarks/nas-bench-macro-plain [...]
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark import summarise
from optuna_rena._benchmark.results import markdown_table


def main() -> None:
    for folder in map(Path, sys.argv[1:]):
        report = json.loads((folder / "results.json").read_text())
        runs = [RunResult(**r) for r in report["runs"]]
        n_trials = report["trials"]
        checkpoints = sorted({k for k in (50, 100) if k < n_trials} | {n_trials})
        summary = {s: summarise([r for r in runs if r.sampler == s], checkpoints,
                                report["optimum"]) for s in report["samplers"]}
        (folder / "results.md").write_text(
            markdown_table(summary, checkpoints, report["optimum"]) + "\n")
        print(folder / "results.md")


if __name__ == "__main__":
    main()
