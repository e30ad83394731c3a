"""The benchmark command: a tiny run, and the structure of what it writes."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
import re
import time
from typing import Any

import optuna
import pytest

from optuna_rena import trial_violations
from optuna_rena._benchmark import make_sampler
from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark import summarise
from optuna_rena._benchmark import TimedSampler
from optuna_rena._constraints import is_feasible
from optuna_rena.cli import main

from helpers import FiguresFailStorage


def test_benchmark_smoke(tmp_path: Path, data_dir: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'bench.db'}"
    argv = ["benchmark", "--task", "nas-bench-macro", "--samplers", "rena", "random", "tpe",
            "--trials", "6", "--seeds", "2", "--data-dir", str(data_dir),
            "--storage", storage, "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "known optimum: 86.4267" in out and "| rena |" in out and "| tpe |" in out
    # The dashboard whose Best Trial card is the best feasible trial, not the plain one.
    assert out.splitlines()[-1] == f"browse the studies: optuna-rena dashboard {storage}"
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert files == {"results.json", "results.md", "curves.png", "curves.html"}
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    assert report["constraints"] == ["params <= 600000", "macs <= 2.5e+07"]
    assert set(report["summary"]) == {"rena", "random", "tpe"}
    for figures in report["summary"].values():
        for key in ("trials_to_first_feasible", "feasible_fraction", "sampler_ms_per_trial",
                    "wall_seconds", "best_feasible_at_6",
                    "regret_at_6"):
            assert set(figures[key]) == {"median", "q1", "q3", "none"}
    assert len(report["runs"]) == 6 and all(len(r["values"]) == 6 for r in report["runs"])
    # Every run is its own study in the one storage, for optuna-dashboard.
    names = optuna.get_all_study_names(storage)
    assert sorted(names) == sorted(f"nas-bench-macro:{s}:seed{i}"
                                   for s in ("rena", "random", "tpe") for i in range(2))
    # Each records what it measured on, as a search's study does.
    assert {optuna.load_study(study_name=n, storage=storage).user_attrs["task"]
            for n in names} == {"nas-bench-macro"}
    # Each trial has the note that a search's trial has: its verdict, then its layers.
    from optuna_dashboard import get_note

    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        assert len(study.user_attrs["space"]) == 16
        for trial in study.trials:
            note = get_note(optuna.trial.Trial(study, trial._trial_id))
            verdict = "**Feasible**" if is_feasible(trial_violations(trial)) else (
                "**Infeasible**")
            assert note.startswith("### Child of ") and verdict in note, (name, note)
            assert "| # | layer |" in note
    # The same names again would clash: refused before anything runs.
    assert main(argv) == 2
    assert "already holds 6 of these studies" in capsys.readouterr().err
    assert len(optuna.get_all_study_names(storage)) == 6


def test_figures_that_cannot_be_saved_do_not_sink_a_run(data_dir: Path) -> None:
    from optuna_rena._benchmark.runner import run_one

    storage = FiguresFailStorage()
    with pytest.warns(UserWarning, match="resource figures of 'fig' were not saved: the "
                      "figure is too large"):
        result = run_one("nas-bench-macro", "random", 0, 3, storage=storage, study_name="fig",
                         task_options={"data_dir": str(data_dir), "notes": False})
    assert result.states == ["COMPLETE"] * 3
    assert len(optuna.load_study(study_name="fig", storage=storage).trials) == 3


def test_summary_figures() -> None:
    runs = [RunResult("s", 0, "a", [1.0, 3.0, 2.0, None], [False, True, True, False],
                      ["COMPLETE"] * 3 + ["FAIL"], 0.4, 2.0),
            RunResult("s", 1, "b", [5.0, 1.0, 4.0, 6.0], [False, False, False, True],
                      ["COMPLETE"] * 4, 0.8, 2.0)]
    assert runs[0].best_feasible_curve() == [None, 3.0, 3.0, 3.0]
    assert runs[1].trials_to_first_feasible() == 4.0
    m = summarise(runs, [2, 4], optimum=6.0)
    assert m["trials_to_first_feasible"]["median"] == 3.0
    assert m["best_feasible_at_4"]["median"] == 4.5
    assert m["optimum_found_at_4"] == 1
    assert m["sampler_ms_per_trial"]["median"] == pytest.approx(150.0)
    assert m["best_feasible_at_2"]["q1"] == -float("inf")  # seed 1 had nothing feasible


@pytest.mark.parametrize("argv,message", [
    (["benchmark", "--task", "imagenet"], "unknown task 'imagenet'"),
    (["benchmark", "--samplers", "cmaes-ish"], "unknown sampler 'cmaes-ish'"),
    (["benchmark", "--samplers", "nosuchmodule:Sampler"], "cannot import the sampler"),
    (["benchmark", "--task", "nas-bench-macro", "--data-dir", "/nonexistent"],
     "cannot read NAS-Bench-Macro at /nonexistent"),
    (["benchmark", "--task", "nas-bench-macro", "--storage", "notadb://x"],
     "cannot open the storage 'notadb://x'"),
    (["benchmark", "--task", "tests_objectives:missing"], "cannot import the objective"),
    (["benchmark", "--samplers", "rena:no_such_option=1"], "sampler 'rena:no_such_option=1'"),
    (["benchmark", "--samplers", "optuna.pruners:MedianPruner"], "must take a seed keyword"),
    (["benchmark", "--task", "digits", "--device", "gpu"], "unknown device 'gpu'"),
    (["benchmark", "--task", "optuna:create_study", "--max-params", "5"],
     "the constraint flags do not reach it"),
])
def test_benchmark_bad_input(argv: list[str], message: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--trials=0", "--max-params=-5", "--seeds=x"])
def test_benchmark_bad_flags(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["benchmark", flag])
    assert e.value.code == 2
    assert "expected a positive" in capsys.readouterr().err


def test_sampler_options() -> None:
    sampler = make_sampler("rena:elite_size=0,penalty_base=0.5", 3)
    assert sampler.options.elite_size == 0 and sampler.options.penalty_base == 0.5
    assert make_sampler("rena-paper", 0).options.avoid_repeats is False
    with pytest.raises(ValueError, match="penalty_base must be a number"):
        make_sampler("rena:penalty_base=2", 0)
    assert type(make_sampler("optuna.samplers:QMCSampler", 0)).__name__ == "QMCSampler"


def test_tabular_tasks(data_dir: Path) -> None:
    from optuna_rena import trial_violations
    from optuna_rena._tasks import make_task

    plain = make_task("nas-bench-macro-plain", data_dir=data_dir)
    assert plain.space is None and plain.optimum == pytest.approx(86.4267, abs=1e-3)
    nb201 = make_task("nb201:pixel3:2.5", data_dir=data_dir)
    assert nb201.optimum == pytest.approx(78.058)
    assert [str(c) for c in nb201.constraints] == ["latency_ms <= 2.5"]
    study = optuna.create_study(direction="maximize")
    study.optimize(nb201.objective, n_trials=3)
    for trial in study.trials:
        assert set(trial.params) == {f"E{i}" for i in range(6)}
        assert trial_violations(trial)["latency_ms_max"] == pytest.approx(
            trial.user_attrs["latency_ms"] / 2.5 - 1)


@pytest.mark.parametrize("name,message", [
    ("nb201:tpu:2.5", "unknown device 'tpu'"),
    ("nb201:pixel3:fast", "the budget 'fast' is not a number"),
    ("nb201:pixel3", "the budget '' is not a number"),
])
def test_bad_nb201_tasks(name: str, message: str, data_dir: Path) -> None:
    from optuna_rena._tasks import make_task

    with pytest.raises(ValueError, match=message):
        make_task(name, data_dir=data_dir)


def test_feasible_random_samples_new_feasible_children(data_dir: Path) -> None:
    from optuna_rena import trial_violations
    from optuna_rena._constraints import is_feasible

    sampler = make_sampler("feasible-random", 0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    from optuna_rena._tasks import make_task

    task = make_task("nas-bench-macro", data_dir=data_dir, notes=False)
    study.optimize(task.objective, n_trials=8)
    assert all(is_feasible(trial_violations(t)) for t in study.trials)
    assert len({t.system_attrs["rena:child_spec"] for t in study.trials}) == 8


@pytest.mark.parametrize("flag,message", [
    (["--fewer-seeds", "tpe=1"], "seeds given for 'tpe', which is not among the samplers"),
    (["--fewer-seeds", "random=5"], "'random' may run 1 to 2 seeds, got 5"),
])
def test_bad_fewer_seeds(flag: list[str], message: str, tmp_path: Path, data_dir: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["benchmark", "--samplers", "rena", "random", "--seeds", "2", "--trials", "2",
            "--data-dir", str(data_dir), "--storage", f"sqlite:///{tmp_path / 'b.db'}",
            "--out", str(tmp_path / "o"), "--no-progress", *flag]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags,message", [
    (["--samplers", "rena:seed=3", "--seeds", "3"],
     "sampler 'rena:seed=3' fixes seed=3, so its 3 runs would be one run repeated, not 3 "
     "seeds; drop seed= (the runs then take seeds 0 to 2) or run it once with --seeds 1."),
    (["--samplers", "random", "rena-paper:elite_size=0,seed=0", "--seeds", "3",
      "--fewer-seeds", "rena-paper:elite_size=0,seed=0=2"],
     "sampler 'rena-paper:elite_size=0,seed=0' fixes seed=0, so its 2 runs would be one "
     "run repeated, not 2 seeds; drop seed= (the runs then take seeds 0 to 1) or run it "
     "once with --fewer-seeds rena-paper:elite_size=0,seed=0=1."),
], ids=["seeds", "fewer-seeds"])
def test_a_fixed_seed_over_several_seeds_is_refused_before_any_run(
        flags: list[str], message: str, tmp_path: Path, data_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Three identical studies were summarised as three seeds, quartiles and all.
    storage = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["benchmark", "--trials", "2", "--data-dir", str(data_dir), "--storage", storage,
            "--out", str(tmp_path / "o"), "--no-progress", *flags]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"optuna-rena benchmark: error: {message}"
    assert optuna.get_all_study_names(storage) == []
    assert not (tmp_path / "o").exists()


def test_a_fixed_seed_runs_once(tmp_path: Path, data_dir: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["benchmark", "--samplers", "rena:seed=3", "random", "--seeds", "2",
            "--fewer-seeds", "rena:seed=3=1", "--trials", "2", "--data-dir", str(data_dir),
            "--storage", storage, "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(argv) == 0
    assert sorted(optuna.get_all_study_names(storage)) == [
        "nas-bench-macro:random:seed0", "nas-bench-macro:random:seed1",
        "nas-bench-macro:rena:seed=3:seed0"]


def test_repeated_samplers_are_refused_before_any_run(tmp_path: Path, data_dir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Each sampler's runs are studies named by it: a repeat would clash after the first.
    storage = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["benchmark", "--samplers", "random", "tpe", "random", "--seeds", "1",
            "--trials", "2", "--data-dir", str(data_dir), "--storage", storage,
            "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "each sampler may be given once; repeated: ['random']" in err
    assert "Traceback" not in err
    assert optuna.get_all_study_names(storage) == []
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("make_out,message", [
    (lambda p: (p / "a-file").write_text("") or p / "a-file" / "out",
     "cannot create the output folder"),
    (lambda p: (p / "a-file").write_text("") or p / "a-file", "is not a folder"),
    (lambda p: (p / "out" / "results.json").mkdir(parents=True) or p / "out",
     "results.json' is a folder"),
], ids=["under-a-file", "a-file", "results.json-a-folder"])
def test_unwritable_outputs_are_refused_before_any_run(
        make_out: Any, message: str, tmp_path: Path, data_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Found at the end, they would lose every run's summary.
    out = make_out(tmp_path)
    storage = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["benchmark", "--samplers", "random", "--seeds", "1", "--trials", "2",
            "--data-dir", str(data_dir), "--storage", storage, "--out", str(out),
            "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert optuna.get_all_study_names(storage) == []


# Issue 11, item 5: outputs that stand alone.

def _strict_json(text: str) -> Any:
    """``json.loads`` refusing what Python's parser accepts and standard JSON does not."""
    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# Feasible only in the random sampler's studies: seed s from trial s + 1 on, and never for
# seed 4; so at trial t the random seeds with a feasible trial are min(t, 4) of 5, and the
# TPE seeds none. The value is the trial number, so every figure is known in advance.
_STAGGERED = '''
import optuna


def objective(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    seed = int(trial.study.study_name.rsplit("seed", 1)[1])
    feasible = ":random:" in trial.study.study_name and seed < 4 and trial.number >= seed
    trial.set_constraint("budget", -1.0 if feasible else 1.0)
    return float(trial.number)
'''


@pytest.fixture(scope="module")
def staggered_benchmark(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A benchmark of the staggered objective, TPE and random, 5 trials x 5 seeds: its
    output folder and what it printed (run once for the tests that read it)."""
    root = tmp_path_factory.mktemp("staggered")
    (root / "bench_staggered.py").write_text(_STAGGERED)
    # TPE first: random's colour is then not the first of a cycle, which a band left to
    # matplotlib's own colour cycle would also get.
    argv = ["benchmark", "--task", "bench_staggered:objective", "--samplers", "tpe", "random",
            "--trials", "5", "--seeds", "5", "--storage", f"sqlite:///{root / 'b.db'}",
            "--out", str(root / "out"), "--no-progress"]
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.syspath_prepend(str(root))
        assert main(argv) == 0
    return root / "out", printed.getvalue()


def _row(markdown: str, sampler: str) -> list[str]:
    line = next(l for l in markdown.splitlines() if l.startswith(f"| {sampler} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_results_md_carries_the_header_that_stdout_prints(tmp_path: Path, data_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    argv = ["benchmark", "--task", "nas-bench-macro-plain", "--samplers", "random",
            "--trials", "4", "--seeds", "2", "--data-dir", str(data_dir),
            "--storage", f"sqlite:///{tmp_path / 'b.db'}", "--out", str(tmp_path / "out"),
            "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    md = (tmp_path / "out" / "results.md").read_text()
    # One function writes both: the whole file is what the command printed.
    assert md.strip() in out
    for text in ("nas-bench-macro-plain", "4 trials x 2 seeds",
                 "constraints: params <= 600000, macs <= 2.5e+07",
                 "median [Q1, Q3] over seeds", "known optimum: 86.4267",
                 "command: `optuna-rena benchmark --task nas-bench-macro-plain --samplers random "
                 "--trials 4 --seeds 2"):
        assert text in md
    assert md.index("known optimum") < md.index("| sampler |")
    report = _strict_json((tmp_path / "out" / "results.json").read_text())
    assert report["command"].startswith("optuna-rena benchmark --task nas-bench-macro-plain")
    assert report["direction"] == "maximize"
    # A plain objective has no space: no space attributes, not nulls.
    study = optuna.load_study(study_name="nas-bench-macro-plain:random:seed0",
                              storage=f"sqlite:///{tmp_path / 'b.db'}")
    assert set(study.user_attrs) == {"constraints", "task", "objective"}


def test_a_password_in_the_storage_url_is_not_written(tmp_path: Path) -> None:
    from optuna_rena.cli import _command_line

    line = _command_line(["benchmark", "--storage", "postgresql://me:s3cret@db/x",
                          "--out", str(tmp_path / "out dir")])
    assert "s3cret" not in line and "postgresql://me:***@db/x" in line
    assert f"'{tmp_path / 'out dir'}'" in line  # quoted as a shell would need


def test_seeds_that_found_nothing_are_written_in_words(
        staggered_benchmark: tuple[Path, str]) -> None:
    out_dir, stdout = staggered_benchmark
    md = (out_dir / "results.md").read_text()
    assert md.strip() in stdout
    assert "inf" not in md.replace("info", "")  # neither inf nor -inf
    head = _row(md, "sampler")
    random, tpe = _row(md, "random"), _row(md, "tpe")
    column = dict(zip(head, random))
    # Seeds reach a feasible trial at trials 1, 2, 3, 4 and never: the nearest ranks.
    assert column["trials to first feasible"] == "3.0 [2.0, 4.0] (none in 1 of 5 seeds)"
    assert column["best feasible @5"] == "4.00 [4.00, 4.00] (none in 1 of 5 seeds)"
    column = dict(zip(head, tpe))
    assert column["trials to first feasible"] == "none found"
    assert column["best feasible @5"] == "none found"
    # The footnote says what the words mean.
    assert '"none found"' in md and "(none in k of n seeds)" in md and "> 5" in md
    assert "known optimum: not known" in md
    report = _strict_json((out_dir / "results.json").read_text())
    first = report["summary"]["tpe"]["trials_to_first_feasible"]
    assert first["median"] is None and first["none"] == 5
    assert report["summary"]["random"]["trials_to_first_feasible"]["q3"] == 4.0
    assert "null" in report["null_means"]


def test_a_median_that_is_censored_says_so() -> None:
    from optuna_rena._benchmark.results import markdown_table

    runs = [RunResult("s", i, "n", [1.0] * 3, [i == 0 and t == 2 for t in range(3)],
                      ["COMPLETE"] * 3, 0.1, 1.0) for i in range(3)]
    table = markdown_table({"s": summarise(runs, [3], optimum=1.0)}, [3], 1.0)
    column = dict(zip(_row(table, "sampler"), _row(table, "s")))
    # 2 of 3 seeds never found a feasible trial in 3: the median is "more than 3".
    assert column["trials to first feasible"] == "> 3 [3.0, > 3] (none in 2 of 3 seeds)"
    assert column["trials to optimum"] == "> 3 [3, > 3] (none in 2 of 3 seeds)"
    assert column["best feasible @3"] == "none [none, 1.00] (none in 2 of 3 seeds)"
    runs = [RunResult("s", i, "n", [1.0] * 3, [False] * 2 + [i == 0], ["COMPLETE"] * 3, 0.1,
                      1.0) for i in range(5)]
    table = markdown_table({"s": summarise(runs, [3], optimum=1.0)}, [3], 1.0)
    column = dict(zip(_row(table, "sampler"), _row(table, "s")))
    # All three figures fall on seeds with nothing: one "> 3", not three.
    assert column["trials to first feasible"] == "> 3 (none in 4 of 5 seeds)"


def test_results_json_is_standard_json(staggered_benchmark: tuple[Path, str]) -> None:
    out_dir, _ = staggered_benchmark
    text = (out_dir / "results.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    report = _strict_json(text)
    # The keys that benchmarks/tables.py reads are there.
    assert {"task", "samplers", "seeds", "trials", "constraints", "optimum", "runs",
            "summary"} <= set(report)
    assert [len(r["values"]) for r in report["runs"]] == [5] * 10


def test_tables_script_rerenders_an_old_results_json(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from helpers import REPO

    # results.json as runs wrote it before it was standard JSON: Infinity in the summary,
    # no direction, command or "none" counts.
    report = _strict_json((REPO / "benchmarks" / "nas-bench-macro-tight" / "results.json"
                           ).read_text())
    for key in ("direction", "command", "null_means"):
        report.pop(key, None)
    runs = [RunResult(**r) for r in report["runs"]]
    report["summary"] = {
        s: {k: {q: v for q, v in f.items() if q != "none"} if isinstance(f, dict) else f
            for k, f in summarise([r for r in runs if r.sampler == s], [50, 100, 200],
                                  report["optimum"]).items()}
        for s in report["samplers"]}
    folder = tmp_path / "tight"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(report, indent=1))
    with pytest.raises(ValueError, match="non-standard JSON constant Infinity"):
        _strict_json((folder / "results.json").read_text())
    old = folder / "old.json"
    shutil.copy(folder / "results.json", old)
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "tables.py"),
                             str(folder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    md = (folder / "results.md").read_text()
    assert "200 trials x 20 seeds" in md and "median [Q1, Q3] over seeds" in md
    assert "command: not recorded" in md
    assert "inf" not in md.replace("info", "")
    random = dict(zip(_row(md, "sampler"), _row(md, "random")))
    assert "(none in" in random["trials to first feasible"]
    report = _strict_json((folder / "results.json").read_text())
    assert report["runs"] == json.loads(old.read_text())["runs"]  # the raw runs as they were


def test_curves_html_works_offline(staggered_benchmark: tuple[Path, str]) -> None:
    from plotly.offline import get_plotlyjs

    out_dir, _ = staggered_benchmark
    html = (out_dir / "curves.html").read_text()
    # Not `<script src="http` alone: plotly's CDN tag is `<script charset="utf-8" src=...`.
    assert re.search(r"<script[^>]*\bsrc=", html) is None
    assert get_plotlyjs()[:2000] in html


def test_curves_png_is_matplotlibs(staggered_benchmark: tuple[Path, str]) -> None:
    # Plotly would need kaleido (and a browser) for a PNG; matplotlib writes it.
    out_dir, _ = staggered_benchmark
    png = (out_dir / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and b"Matplotlib" in png


def _runs(out_dir: Path) -> list[RunResult]:
    return [RunResult(**r) for r in _strict_json((out_dir / "results.json").read_text())["runs"]]


def test_bands_have_their_lines_colour_and_no_false_edge(
        staggered_benchmark: tuple[Path, str]) -> None:
    from matplotlib.colors import to_rgba
    from optuna_rena._benchmark.plots import matplotlib_figure
    from optuna_rena._benchmark.plots import plotly_figure

    out_dir, _ = staggered_benchmark
    runs = _runs(out_dir)
    # Random's seeds have a feasible trial from trials 1, 2, 3, 4 and never: Q3 is
    # defined from trial 2, the median from 3, Q1 (so the band) only at 4 and 5.
    fig = plotly_figure(runs, "t", None)
    line = next(t for t in fig.data if t.name == "random")
    assert list(line.y) == [None, None, 2.0, 3.0, 4.0]  # the trial number reached
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 1
    band = bands[0]
    # Upper and lower edges over the same trials: no edge from Q3's start to Q1's.
    assert list(band.x) == [4, 5, 5, 4] and list(band.y) == [3.0, 4.0, 4.0, 3.0]
    rgba = re.fullmatch(r"rgba\((\d+), (\d+), (\d+), ([\d.]+)\)", band.fillcolor)
    assert rgba is not None
    assert tuple(int(v) / 255 for v in rgba.groups()[:3]) == pytest.approx(
        to_rgba(line.line.color)[:3])
    assert 0 < float(rgba.group(4)) < 1

    fig = matplotlib_figure(runs, "t", None)
    ax = fig.axes[0]
    line2d = next(l for l in ax.get_lines() if l.get_label() == "random")
    polys = ax.collections
    assert len(polys) == 1
    xs = polys[0].get_paths()[0].vertices[:, 0]
    assert xs.min() == 4 and xs.max() == 5
    face = polys[0].get_facecolor()[0]
    assert tuple(face[:3]) == pytest.approx(to_rgba(line2d.get_color())[:3])
    assert 0 < face[3] < 1
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_sampler_without_a_line_says_why(staggered_benchmark: tuple[Path, str]) -> None:
    from optuna_rena._benchmark.plots import matplotlib_figure

    out_dir, _ = staggered_benchmark
    html = (out_dir / "curves.html").read_text()
    assert "tpe: no feasible trial in any seed" in html
    fig = matplotlib_figure(_runs(out_dir), "t", None)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "tpe: no feasible trial in any seed" in labels
    import matplotlib.pyplot as plt

    plt.close(fig)
    # With 1 of 5 seeds feasible, there is no median either: said with the count.
    runs = [RunResult("r", i, "n", [1.0, 2.0], [i == 0] * 2, ["COMPLETE"] * 2, 0.1, 1.0)
            for i in range(5)]
    fig = matplotlib_figure(runs, "t", None)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["r: no median: 1 of 5 seeds found a feasible trial"]
    plt.close(fig)


def test_the_known_optimum_is_a_dashed_line(tmp_path: Path, data_dir: Path) -> None:
    from optuna_rena._benchmark import run_benchmark
    from optuna_rena._benchmark.plots import matplotlib_figure
    from optuna_rena._benchmark.plots import plotly_figure

    report = run_benchmark("nas-bench-macro-plain", ["rena"], 1, 3, storage=None,
                           out_dir=tmp_path / "out", task_options={"data_dir": data_dir},
                           progress=False)
    optimum = report["optimum"]
    html = (tmp_path / "out" / "curves.html").read_text()
    assert "known optimum 86.4267" in html
    runs = [RunResult(**r) for r in report["runs"]]
    fig = plotly_figure(runs, "t", optimum)
    (shape,) = fig.layout.shapes
    assert shape.line.dash == "dash" and shape.y0 == shape.y1 == optimum
    assert any(a.text == "known optimum 86.4267" for a in fig.layout.annotations)
    fig = matplotlib_figure(runs, "t", optimum)
    dashed = [l for l in fig.axes[0].get_lines() if l.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [optimum, optimum]
    assert dashed[0].get_label() == "known optimum 86.4267"
    import matplotlib.pyplot as plt

    plt.close(fig)


class _Clocked(optuna.samplers.BaseSampler):
    """TPE, with the wall and thread CPU time spent inside each of its methods; each call
    also spins 2 ms of CPU, so that a call left out of the timing is missed by far more
    than the timing's own overhead."""

    def __init__(self) -> None:
        self.tpe = optuna.samplers.TPESampler(seed=0)
        self.seconds = self.cpu_seconds = 0.0

    def _clocked(self, name: str, *args: Any) -> Any:
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            while time.thread_time() < start_cpu + 0.002:
                pass
            return getattr(self.tpe, name)(*args)
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.thread_time() - start_cpu

    def infer_relative_search_space(self, *args: Any) -> Any:
        return self._clocked("infer_relative_search_space", *args)

    def sample_relative(self, *args: Any) -> Any:
        return self._clocked("sample_relative", *args)

    def sample_independent(self, *args: Any) -> Any:
        return self._clocked("sample_independent", *args)

    def before_trial(self, *args: Any) -> None:
        self._clocked("before_trial", *args)

    def after_trial(self, *args: Any) -> None:
        self._clocked("after_trial", *args)


def test_timed_sampler_counts_wall_and_cpu_time_of_the_sampler_alone() -> None:
    """Whatever the machine's speed: the timed seconds hold at least the time spent
    inside the wrapped sampler's methods and at most the time spent outside the
    objective's own work, and they grow with every trial's calls."""
    busy = [0.0, 0.0]  # the objective's own work: wall, thread CPU

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)  # the sampler's time
        start, start_cpu = time.perf_counter(), time.thread_time()
        deadline = start_cpu + 0.01  # the objective's CPU is not the sampler's
        while time.thread_time() < deadline:
            pass
        busy[0] += time.perf_counter() - start
        busy[1] += time.thread_time() - start_cpu
        return x

    inner = _Clocked()
    timed = TimedSampler(inner)
    grown: list[tuple[float, float]] = []
    study = optuna.create_study(sampler=timed)
    start, start_cpu = time.perf_counter(), time.thread_time()  # n_jobs=1: this thread
    study.optimize(objective, n_trials=20,
                   callbacks=[lambda *_: grown.append((timed.seconds, timed.cpu_seconds))])
    wall, cpu = time.perf_counter() - start, time.thread_time() - start_cpu
    eps = 1e-9  # sums of differences of one clock, rounded
    assert 0.0 < inner.seconds <= timed.seconds + eps <= wall - busy[0] + 2 * eps
    assert 0.0 < inner.cpu_seconds <= timed.cpu_seconds + eps <= cpu - busy[1] + 2 * eps
    assert timed.cpu_seconds <= timed.seconds + 1e-3  # two clocks
    # Every trial calls the sampler: the wall time grows with each, the CPU time never
    # falls.
    seconds = [s for s, _ in grown]
    assert len(grown) == 20 and all(b > a for a, b in zip(seconds, seconds[1:]))
    assert all(b[1] >= a[1] for a, b in zip(grown, grown[1:]))


_FAILING = """
import optuna


def now_and_then(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 1:
        raise OSError("the disk is full")
    return x


def always(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    raise TypeError("no such column")
"""


@pytest.fixture
def failing_objectives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Objectives that raise what run_one did not catch (only RuntimeError and ValueError
    failed a trial there: an OSError or a TypeError ended the benchmark in a traceback),
    importable as ``bench_failing``."""
    (tmp_path / "bench_failing.py").write_text(_FAILING)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_an_objective_that_raises_now_and_then_fails_that_trial_in_one_line(
        failing_objectives: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = failing_objectives / "out"
    assert main(["benchmark", "--task", "bench_failing:now_and_then", "--samplers", "random",
                 "--trials", "4", "--seeds", "1", "--storage",
                 f"sqlite:///{failing_objectives / 'b.db'}", "--out", str(out_dir),
                 "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Trial 1 failed" not in err, err
    # As a search says it, with the study's name: a benchmark runs several.
    assert ("bench_failing:now_and_then:random:seed0: trial 1: fail (OSError: the disk is "
            "full)") in out.splitlines()
    (run,) = json.loads((out_dir / "results.json").read_text())["runs"]
    assert run["states"] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]


def test_an_objective_that_always_raises_stops_the_benchmark_in_one_line(
        failing_objectives: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{failing_objectives / 'b.db'}"
    assert main(["benchmark", "--task", "bench_failing:always", "--samplers", "random",
                 "tpe", "--trials", "10", "--seeds", "1", "--storage", storage,
                 "--out", str(failing_objectives / "out"), "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    study = "bench_failing:always:random:seed0"
    assert err.strip() == (
        "optuna-rena benchmark: error: the objective raised TypeError: no such column in 3 "
        f"trials in a row, failing them, in the study {study!r}; the benchmark stopped. Fix "
        "the objective, and run it again with another --storage or --study-prefix.")
    assert out.splitlines() == [f"{study}: trial {i}: fail (TypeError: no such column)"
                                for i in range(3)]
    # The failed trials are kept; the next sampler's run never started.
    assert optuna.get_all_study_names(storage) == [study]
    assert [t.state.name for t in optuna.load_study(study_name=study,
                                                    storage=storage).trials] == ["FAIL"] * 3
