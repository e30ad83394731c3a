from __future__ import annotations

import argparse
import io
import json
import logging
from pathlib import Path
import re
import subprocess

import optuna
from optuna.trial import TrialState
import pytest

from optuna_rena import NetworkSpec
from optuna_rena import zoo
from optuna_rena import cli
from optuna_rena._sampler.reward import outcome_of
from optuna_rena._storage import open_storage
from optuna_rena.cli import main

from helpers import console_script
from helpers import FiguresFailStorage


def test_resources_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resources", "nas-bench-macro:01100100"]) == 0
    out = capsys.readouterr().out
    assert "| 2 | inverted_residual | filters=64, expansion=3, kernel=3" in out
    assert "params 565,930" in out and "= 2 x 23,001,600 MACs" in out


def test_resources_of_a_json_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.json"
    path.write_text(zoo.ds_cnn().to_json())
    assert main(["resources", str(path), "--dtype", "float16", "--json"]) == 0
    out = capsys.readouterr().out
    assert "(float16)" in out
    assert NetworkSpec.from_json(out[out.index("{"):]) == zoo.ds_cnn()


@pytest.mark.parametrize("argv,message", [
    (["resources", "resnet9000"], "unknown baseline 'resnet9000'"),
    (["resources", "nas-bench-macro:0120"], "8 digits, each 0, 1 or 2, got '0120'"),
    (["resources", "missing.json"], "cannot read the spec file 'missing.json'"),
    (["resources", "ds-cnn", "--dtype", "float7"], "dtype must be a torch dtype"),
])
def test_bad_input_is_one_clear_line(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_spec_file_names_the_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = zoo.ds_cnn().to_dict()
    data["layers"][1]["kernel"] = [3, 0]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["resources", str(path)]) == 2
    assert "layer 1: separable_conv2d: kernel must be a positive integer, got 0" in (
        capsys.readouterr().err)


def test_installed_entry_point() -> None:
    exe = console_script("optuna-rena")
    result = subprocess.run([exe, "resources", "ds-cnn"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "ds_cnn" in result.stdout
    bad = subprocess.run([exe, "resources", "--batch-size", "0", "--latency"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "expected a positive integer, got '0'" in bad.stderr


def test_search_logs_one_line_per_trial_and_draws_the_figures(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'log.db'}"
    # A budget no child meets (the smallest has 387.9 k parameters): every trial breaks it.
    assert main(["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir),
                 "--trials", "3", "--max-params", "380000", "--storage", storage,
                 "--seed", "0", "--no-progress"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith("trial ")]
    assert len(lines) == 3
    for number, line in enumerate(lines):
        assert re.fullmatch(
            rf"trial {number}: infeasible, mean accuracy \(%\) [\d.]+, params [\d.]+[kM] "
            r"\(over budget: params \+\d+%\)", line), line
    assert "finished with value" not in captured.err  # Optuna's own line, parameters and all
    # The dashboard whose Best Trial card is the best feasible trial, not the plain one.
    assert captured.out.splitlines()[-1] == f"watch it: optuna-rena dashboard {storage}"
    study = optuna.load_study(study_name="rena-nas-bench-macro", storage=storage)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    drawn = {k.split(":")[2] for k in attrs if k.startswith("dashboard:plot_data:")}
    assert drawn == {"objective-vs-params", "pareto-front", "best-feasible"}


def test_figures_that_cannot_be_saved_do_not_sink_a_search(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    storage = FiguresFailStorage()
    monkeypatch.setattr(cli, "open_storage", lambda url, **kwargs: storage)
    assert main(["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir),
                 "--trials", "2", "--seed", "0", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert ("optuna-rena search: warning: the resource figures were not saved: the figure "
            "is too large for this storage") in captured.err
    assert "watch it: optuna-rena dashboard" in captured.out  # the search ended as usual
    study = optuna.load_study(study_name="rena-nas-bench-macro", storage=storage)
    assert len(study.trials) == 2


_RUNNING_WARNING = (r"optuna-rena search: warning: the study 'rena-nas-bench-macro' has 1 "
                    r"RUNNING trial that this run did not start: trial 1 \(started "
                    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d, \d+ s ago\); ")


def _one_trial_search(storage: str, data_dir: Path) -> list[str]:
    return ["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir),
            "--trials", "1", "--storage", storage, "--seed", "0", "--no-progress"]


def test_a_search_names_running_trials_of_a_journal_and_fails_them_when_asked(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"journal:{tmp_path / 'journal.log'}"
    argv = _one_trial_search(url, data_dir)
    assert main(argv) == 0
    study = optuna.load_study(study_name="rena-nas-bench-macro", storage=open_storage(url))
    # What a killed run leaves in a journal file, which keeps no heartbeats: a trial
    # RUNNING forever (test_search.py kills a search for real).
    study.ask()
    capsys.readouterr()
    assert main(argv) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "RUNNING" in line]
    assert len(warnings) == 1 and re.match(_RUNNING_WARNING, warnings[0]), warnings
    assert ("a journal file keeps no heartbeats, so a killed run's trial stays RUNNING, and "
            "another worker's live trial looks the same: if no other process runs this "
            "study, --fail-running-trials marks them FAIL before the run.") in warnings[0]
    # Never failed unasked: it may be a live worker's.
    assert study.trials[1].state == TrialState.RUNNING
    assert main([*argv, "--fail-running-trials"]) == 0
    out, err = capsys.readouterr()
    assert ("--fail-running-trials: marked FAIL 1 of the 1 RUNNING trial that another run "
            "left in the study 'rena-nas-bench-macro': trial 1 (started ") in out
    assert "RUNNING" not in err
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                         TrialState.COMPLETE, TrialState.COMPLETE]
    assert outcome_of(trials[1], set(), 1) is None  # the network did not fail: no lesson


def test_running_trials_are_named_only_without_heartbeats(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'heartbeats.db'}"
    argv = _one_trial_search(storage, data_dir)
    assert main(argv) == 0
    optuna.load_study(study_name="rena-nas-bench-macro", storage=storage).ask()
    capsys.readouterr()
    # With heartbeats, Optuna fails a killed run's trial itself, once it is stale.
    assert main(argv) == 0
    assert "RUNNING" not in capsys.readouterr().err
    assert main([*argv, "--heartbeat", "0"]) == 0
    err = capsys.readouterr().err
    assert re.search(_RUNNING_WARNING + "--heartbeat 0 keeps no heartbeats", err), err


def test_search_refuses_budgets_of_one_objective_before_any_trial(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'budgets.db'}"
    assert main([*_one_trial_search(storage, data_dir), "--budget", "params=1e5"]) == 2
    assert capsys.readouterr().err == (
        "optuna-rena search: error: a budget bounds an objective of a multi-objective "
        "study, beside its quality; the study 'rena-nas-bench-macro' has one objective "
        "(mean accuracy (%)): its budget is its constraints.\n")
    study = optuna.load_study(study_name="rena-nas-bench-macro", storage=storage)
    assert study.trials == []
    with pytest.raises(SystemExit):
        main([*_one_trial_search(storage, data_dir), "--budget", "params"])
    assert "expected OBJECTIVE=B1,B2,... (latency_ms=2,4,8), got 'params'" in (
        capsys.readouterr().err)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    # An option left out says what happens: its help names the default, whatever the
    # default is (a value, or the behaviour of none: no time limit, a random seed).
    for name, parser in _subparsers().items():
        for action in parser._actions:
            if not action.option_strings or action.default in (False, argparse.SUPPRESS):
                continue
            if action.container.title == "constraints":  # its description says it once
                continue
            assert "default" in (action.help or ""), (name, action.option_strings)
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--trials TRIALS trials to run (default: 30)" in text
    assert "--epochs EPOCHS training epochs per child (default: 3)" in text


def test_a_refused_search_says_its_error_alone(tmp_path: Path, data_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Optuna's lines, as its own handler receives them (that handler writes to the stream
    # it found at import, which no capture fixture replaces).
    said = io.StringIO()
    handler = logging.StreamHandler(said)
    optuna.logging.get_logger("optuna").addHandler(handler)
    verbosity = optuna.logging.get_verbosity()  # another test's may be quieter
    optuna.logging.set_verbosity(optuna.logging.INFO)
    common = ["search", "--data-dir", str(data_dir), "--trials", "1", "--storage",
              f"sqlite:///{tmp_path / 'refused.db'}", "--study-name", "s", "--no-progress"]
    try:
        assert main([*common, "--task", "nb201:pixel3:2.5"]) == 0
        assert "A new study created in RDB with name: s" in said.getvalue()
        said.seek(0)
        said.truncate()
        capsys.readouterr()
        # Another task: refused, with nothing said before that it uses the study.
        assert main([*common, "--task", "nb201:fpga:2.5"]) == 2
        out, err = capsys.readouterr()
        assert (out, said.getvalue()) == ("", "")
        assert err.startswith("optuna-rena search: error: the study 's' searched "
                              "nb201:pixel3:2.5, and this run asks for nb201:fpga:2.5; "), err
        assert len(err.splitlines()) == 1, err
        # Budgets of one objective: refused before "continuing the study" too.
        assert main([*common, "--task", "nb201:pixel3:2.5", "--budget", "latency_ms=2"]) == 2
        out, err = capsys.readouterr()
        assert (out, said.getvalue()) == ("", "") and len(err.splitlines()) == 1, err
        # Accepted: Optuna's line is said after all.
        assert main([*common, "--task", "nb201:pixel3:2.5"]) == 0
        assert "Using an existing study with `study_name='s'`" in said.getvalue()
        assert "continuing the study 's': 1 trials so far" in capsys.readouterr().out
    finally:
        optuna.logging.set_verbosity(verbosity)
        optuna.logging.get_logger("optuna").removeHandler(handler)
