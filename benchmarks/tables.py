"""Re-render a benchmark folder's results.md from its results.json (after the table's
columns change, without re-running anything):

    python benchmarks/tables.py benchmarks/nas-bench-macro-plain [...]

It rewrites results.json too, in standard JSON (null, not Infinity, for a figure with no
value), with the summary recomputed from the raw runs, which stay as they were (figures it
no longer computes stay too). Old files with Infinity are read as they are; one without a
recorded command says so in results.md. A multi-objective benchmark's folder (its
results.json has a "front") gets its hypervolume gaps and budget regrets recomputed against
the front it recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
from typing import Any

from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark import summarise
from optuna_rena._benchmark.fronts import front_from_record
from optuna_rena._benchmark.fronts import front_markdown
from optuna_rena._benchmark.fronts import front_tables
from optuna_rena._benchmark.fronts import gap_curve
from optuna_rena._benchmark.fronts import summarise_front
from optuna_rena._benchmark.results import checkpoints_for
from optuna_rena._benchmark.results import json_safe
from optuna_rena._benchmark.results import markdown_table
from optuna_rena._benchmark.results import NULL_MEANS
from optuna_rena._benchmark.results import results_markdown


def main() -> None:
    for folder in map(Path, sys.argv[1:]):
        # Python's parser reads the Infinity that older runs wrote.
        report = json.loads((folder / "results.json").read_text())
        if "front" in report:
            _front_tables(folder, report)
            continue
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
        _write_json(folder, report)


def _front_tables(folder: Path, report: dict[str, Any]) -> None:
    """A multi-objective benchmark's tables, against the front that results.json holds."""
    front = front_from_record(report["front"])
    runs = [RunResult(**{k: v for k, v in r.items() if k != "hv_gap"}) for r in report["runs"]]
    checkpoints = checkpoints_for(report["trials"])
    report["summary"] = {s: summarise_front([r for r in runs if r.sampler == s], front,
                                            checkpoints) for s in report["samplers"]}
    for record, run in zip(report["runs"], runs):
        record["hv_gap"] = gap_curve(run, front)
    tables = front_tables(report["summary"], front, report["metric_names"], checkpoints,
                          report["trials"])
    (folder / "results.md").write_text(front_markdown(report, tables))
    _write_json(folder, report)


def _write_json(folder: Path, report: dict[str, Any]) -> None:
    # The runner's order: the keys that say what ran, then the summary and the runs.
    order = [k for k in report if k not in ("summary", "runs")] + ["summary", "runs"]
    (folder / "results.json").write_text(json.dumps(
        json_safe({k: report[k] for k in order}), indent=1, allow_nan=False))
    print(folder / "results.md", folder / "results.json")


if __name__ == "__main__":
    main()
