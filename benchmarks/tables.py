"""Re-render a benchmark folder's results.md from its results.json (after the table's
columns change, without re-running anything):

    python benchmarks/tables.py benchmarks/nas-bench-macro-plain [...]

It rewrites results.json too, in standard JSON (null, not Infinity, for a figure with no
value), with the summary recomputed from the raw runs, which stay as they were (figures it
no longer computes stay too). Old files with Infinity are read as they are; one without a
recorded command says so in results.md.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark import summarise
from optuna_rena._benchmark.results import checkpoints_for
from optuna_rena._benchmark.results import json_safe
from optuna_rena._benchmark.results import markdown_table
from optuna_rena._benchmark.results import NULL_MEANS
from optuna_rena._benchmark.results import results_markdown


def main() -> None:
    for folder in map(Path, sys.argv[1:]):
        # Python's parser reads the Infinity that older runs wrote.
        report = json.loads((folder / "results.json").read_text())
        runs = [RunResult(**r) for r in report["runs"]]
        checkpoints = checkpoints_for(report["trials"])
        summary = {s: summarise([r for r in runs if r.sampler == s], checkpoints,
                                report["optimum"]) for s in report["samplers"]}
        # Figures of older checkpoints (digits' @20) stay, as null where they were Infinity.
        report["summary"] = {s: {**report["summary"].get(s, {}), **m}
                             for s, m in summary.items()}
        report.setdefault("direction", "maximize" if all(r.maximize for r in runs)
                          else "minimize")
        report.setdefault("command", None)
        report["null_means"] = NULL_MEANS
        table = markdown_table(summary, checkpoints, report["optimum"])
        (folder / "results.md").write_text(results_markdown(report, table))
        # The runner's order: the keys that say what ran, then the summary and the runs.
        order = [k for k in report if k not in ("summary", "runs")] + ["summary", "runs"]
        (folder / "results.json").write_text(json.dumps(
            json_safe({k: report[k] for k in order}), indent=1, allow_nan=False))
        print(folder / "results.md", folder / "results.json")


if __name__ == "__main__":
    main()
