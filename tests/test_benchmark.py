"""The benchmark command: a tiny run, and the structure of what it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest

from optuna_rena._benchmark import make_sampler
from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark import summarise
from optuna_rena.cli import main


def test_benchmark_smoke(tmp_path: Path, data_dir: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'bench.db'}"
    argv = ["benchmark", "--task", "nas-bench-macro", "--samplers", "rena", "random", "tpe",
            "--trials", "6", "--seeds", "2", "--data-dir", str(data_dir),
            "--storage", storage, "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "known optimum 86.43" in out and "| rena |" in out and "| tpe |" in out
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert files == {"results.json", "results.md", "curves.png", "curves.html"}
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    assert report["constraints"] == ["params <= 600000", "macs <= 2.5e+07"]
    assert set(report["summary"]) == {"rena", "random", "tpe"}
    for figures in report["summary"].values():
        for key in ("trials_to_first_feasible", "feasible_fraction", "sampler_ms_per_trial",
                    "wall_seconds", "best_feasible_at_6",
                    "regret_at_6"):
            assert set(figures[key]) == {"median", "q1", "q3"}
    assert len(report["runs"]) == 6 and all(len(r["values"]) == 6 for r in report["runs"])
    # Every run is its own study in the one storage, for optuna-dashboard.
    names = optuna.get_all_study_names(storage)
    assert sorted(names) == sorted(f"nas-bench-macro:{s}:seed{i}"
                                   for s in ("rena", "random", "tpe") for i in range(2))
    # The same names again would clash: refused before anything runs.
    assert main(argv) == 2
    assert "already holds 6 of these studies" in capsys.readouterr().err
    assert len(optuna.get_all_study_names(storage)) == 6


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
    (["benchmark", "--samplers", "nosuchmodule:Sampler"], "cannot import sampler"),
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
    assert sampler.elite_size == 0 and sampler.penalty_base == 0.5
    assert make_sampler("rena-paper", 0).avoid_repeats is False
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
    assert len({t.user_attrs["child_spec"] for t in study.trials}) == 8


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
