"""The main command, the datasets, the training loop and the examples, for real."""

from __future__ import annotations

import logging
import os
from pathlib import Path
import signal
import sqlite3
import subprocess
import sys
import time
import warnings

import optuna
import pytest
import torch

from optuna_rena import Constraint
from optuna_rena import UnreachableBudgetWarning
from optuna_rena import zoo
from optuna_rena._budget import best_feasible_trial
from optuna_rena._budget import record_budget
from optuna_rena._report import best_feasible_report
from optuna_rena._sampler.reward import outcome_of
from optuna_rena._storage import open_storage
from helpers import console_script
from helpers import REPO
from optuna_rena.cli import _quiet_interruption
from optuna_rena.cli import main
from optuna_rena.datasets import cifar10
from optuna_rena.datasets import digits
from optuna_rena.datasets import is_validation_speaker
from optuna_rena.datasets import speaker_of
from optuna_rena.datasets import speech_commands
from optuna_rena.training import fit
from optuna_rena.training import random_crop_flip


@pytest.mark.slow
def test_default_search_runs_and_continues(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    argv = ["search", "--trials", "4", "--epochs", "1", "--storage", storage,
            "--seed", "0", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best feasible architecture: trial" in out
    assert "| # | layer |" in out and "- params:" in out and "met" in out
    assert f"watch it: optuna-rena dashboard {storage}" in out
    assert main(argv) == 0
    assert "continuing the study 'rena-digits': 4 trials so far" in capsys.readouterr().out
    study = optuna.load_study(study_name="rena-digits", storage=storage)
    assert len(study.trials) == 8 and study.metric_names == ["accuracy"]
    trial = study.trials[0]
    assert 0 <= trial.intermediate_values[0] <= 1  # reported per epoch
    attrs = study._storage.get_study_system_attrs(study._study_id)
    notes = [v for k, v in attrs.items() if "note" in k and isinstance(v, str)]
    assert any("| # | layer |" in n for n in notes)  # the child's layers as a dashboard note


def test_a_seeded_search_repeats(tmp_path: Path) -> None:
    """Two searches with --seed 0 train the same children to the same accuracies, whatever
    torch's global random state: each child's weights and data order are seeded from its
    trial."""
    runs = []
    for run in range(2):
        torch.rand(run + 1)  # a process whose torch has drawn numbers before
        storage = f"sqlite:///{tmp_path / f'run{run}.db'}"
        assert main(["search", "--trials", "3", "--epochs", "1", "--storage", storage,
                     "--seed", "0", "--no-progress"]) == 0
        study = optuna.load_study(study_name="rena-digits", storage=storage)
        runs.append([(t.params, t.value, t.intermediate_values) for t in study.trials])
    assert len(runs[0]) == 3 and runs[0] == runs[1]


_THREADS = """
import torch


def threads(trial):
    return float(torch.get_num_threads())
"""


@pytest.mark.parametrize("flags,expected", [([], 1), (["--threads", "2"], 2)])
def test_search_trains_on_the_threads_asked(flags: list[str], expected: int, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "search_threads.py").write_text(_THREADS)
    monkeypatch.syspath_prepend(str(tmp_path))
    storage = f"sqlite:///{tmp_path / 'threads.db'}"
    before = torch.get_num_threads()
    assert main(["search", "--task", "search_threads:threads", "--trials", "1", "--storage",
                 storage, "--no-progress", *flags]) == 0
    assert torch.get_num_threads() == before  # the calling process keeps its own
    study = optuna.load_study(study_name="rena-search_threads:threads", storage=storage)
    assert study.trials[0].value == expected


@pytest.mark.parametrize("argv,message", [
    (["search", "--task", "cifar10", "--data-dir", "/nonexistent"],
     "cifar10: /nonexistent/cifar10/train is not a folder"),
    (["search", "--storage", "mysql+nodriver://x/y"], "cannot open the storage"),
])
def test_search_bad_input(argv: list[str], message: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_continued_search_keeps_its_budget(tmp_path: Path, data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'budget.db'}"
    argv = ["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir), "--trials",
            "12", "--storage", storage, "--seed", "0", "--no-progress"]
    assert main(argv) == 0
    study = optuna.load_study(study_name="rena-nas-bench-macro", storage=storage)
    assert study.user_attrs["constraints"] == ["params <= 600000", "macs <= 2.5e+07"]
    assert len(study.user_attrs["space"]) == 16
    capsys.readouterr()
    # Another budget: refused before any trial, with the way out named.
    assert main([*argv, "--max-params", "200000"]) == 2
    err = capsys.readouterr().err
    assert "was searched under params <= 600000, macs <= 2.5e+07" in err
    assert "asks for params <= 200000" in err and "--study-name" in err
    assert len(study.trials) == 12
    # The same budget continues.
    assert main([*argv[:6], "2", *argv[7:]]) == 0
    assert len(study.trials) == 14


@pytest.mark.parametrize("first,second", [
    (["--task", "nb201:pixel3:2.5"], ["--task", "nb201:fpga:2.5"]),
    # A budget that some pair meets (the problem refuses one that none does).
    (["--task", "nas-bench-macro-plain", "--max-params", "1400000", "--max-macs", "55e6"],
     ["--task", "nas-bench-macro-pair", "--max-params", "1400000", "--max-macs", "55e6"]),
], ids=["nb201-devices", "macro-plain-pair"])
def test_a_continued_search_keeps_its_task(first: list[str], second: list[str],
                                           tmp_path: Path, data_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # The same budget measured on another device or table: it was accepted, and the
    # study's feasibility mixed the two.
    storage = f"sqlite:///{tmp_path / 'task.db'}"
    common = ["search", "--data-dir", str(data_dir), "--trials", "2", "--storage", storage,
              "--study-name", "s", "--seed", "0", "--no-progress"]
    assert main([*common, *first]) == 0
    study = optuna.load_study(study_name="s", storage=storage)
    assert study.user_attrs["task"] == first[1]
    assert study.user_attrs["objective"] == study.metric_names[0]
    capsys.readouterr()
    assert main([*common, *second]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"optuna-rena search: error: the study 's' searched {first[1]}, "
                           f"and this run asks for {second[1]}; "), line
    assert line.endswith("Give another --study-name."), line
    assert len(study.trials) == 2 and study.user_attrs["task"] == first[1]
    assert main([*common, *first]) == 0  # the same task continues
    assert len(study.trials) == 4


def test_a_study_recorded_before_tasks_continues_and_records_its_task(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'old.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    budget = [Constraint("latency_ms", max=2.5)]
    record_budget(study, budget, None, None)  # what the previous release recorded: no task
    study.add_trial(optuna.trial.create_trial(
        value=70.0, user_attrs={"latency_ms": 2.0},
        system_attrs={"constraints:latency_ms_max": 2.0 / 2.5 - 1}))
    argv = ["search", "--data-dir", str(data_dir), "--trials", "1", "--storage", storage,
            "--study-name", "s", "--seed", "0", "--no-progress"]
    assert main([*argv, "--task", "nb201:pixel3:2.5"]) == 0
    assert len(study.trials) == 2
    assert study.user_attrs["task"] == "nb201:pixel3:2.5"  # recorded from now on
    assert main([*argv, "--task", "nb201:fpga:2.5"]) == 2
    assert "searched nb201:pixel3:2.5, and this run asks for nb201:fpga:2.5" in (
        capsys.readouterr().err)


def test_a_task_of_another_objective_is_refused() -> None:
    study = optuna.create_study()
    record_budget(study, [], None, task="m:f", objective="loss")
    with pytest.raises(ValueError, match="the study '.*' searched m:f for 'loss', and this "
                                         "run asks for m:f for 'accuracy'"):
        record_budget(study, [], None, task="m:f", objective="accuracy")
    record_budget(study, [], None, task="m:f", objective="loss")  # the same: goes on
    record_budget(study, [], None)  # a caller that knows no task checks none


def test_search_warns_in_one_line_of_a_budget_out_of_reach(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'reach.db'}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # pytest would keep the sampler's warning apart
        assert main(["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir),
                     "--trials", "6", "--max-params", "380000", "--storage", storage,
                     "--no-progress"]) == 0
    captured = capsys.readouterr()
    # The command's line, the space's sentence (with its advice) as it is; not the
    # sampler's own warning a second time.
    (line,) = [line for line in captured.err.splitlines() if "warning" in line.lower()]
    assert line.startswith("optuna-rena search: warning: no child of this space meets "
                           "params <= 380000"), line
    assert "3.879e+05" in line, line  # the smallest params the space reaches
    assert not [w for w in caught if issubclass(w.category, UnreachableBudgetWarning)]
    assert "no feasible architecture among 6 trials" in captured.out
    study = optuna.load_study(study_name="rena-nas-bench-macro", storage=storage)
    assert len({t.system_attrs["rena:child_spec"] for t in study.trials}) == 6


def test_a_study_without_a_recorded_budget_is_not_continued(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'other.db'}"
    study = optuna.create_study(storage=storage, study_name="rena-nas-bench-macro",
                                direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert main(["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir),
                 "--trials", "2", "--storage", storage, "--no-progress"]) == 2
    assert ("has 2 trials and no recorded budget; its trials imply no constraints, and "
            "this run asks for macs <= 2.5e+07, params <= 600000") in capsys.readouterr().err
    assert len(study.trials) == 2


def test_a_budget_is_recorded_to_the_last_digit() -> None:
    study = optuna.create_study()
    record_budget(study, [Constraint("params", max=1_234_567)], None)
    assert study.user_attrs["constraints"] == ["params <= 1234567"]
    with pytest.raises(ValueError, match="was searched under params <= 1234567, and this "
                                         "run asks for params <= 1.23457e"):
        record_budget(study, [Constraint("params", max=1_234_570)], None)
    record_budget(study, [Constraint("params", max=1_234_567)], None)  # the same: goes on


def test_a_study_of_an_earlier_version_continues_under_the_budget_its_trials_imply() -> None:
    # Named constraint values and metrics, no study-level record: what 0.2 wrote.
    study = optuna.create_study(direction="maximize")
    for params, flops in [(5_000, 300_000), (12_000, 700_000)]:
        study.add_trial(optuna.trial.create_trial(
            value=0.5, user_attrs={"params": params, "flops": flops},
            system_attrs={"constraints:params_max": params / 10_000 - 1,
                          "constraints:flops_max": flops / 600_000 - 1}))
    asked = [Constraint("params", max=10_000), Constraint("flops", max=600_000)]
    with pytest.raises(ValueError, match="its trials imply flops <= 600000, params <= "
                                         "10000, and this run asks for params <= 20000"):
        record_budget(study, [Constraint("params", max=20_000)], None)
    record_budget(study, asked, None)
    assert study.user_attrs["constraints"] == ["params <= 10000", "flops <= 600000"]


def test_best_feasible_is_checked_against_the_budget_asked() -> None:
    # A trial stored as feasible under an old budget breaks the one asked for now.
    study = optuna.create_study(direction="maximize")
    for value, params, stored in [(0.9, 500_000, -0.1), (0.8, 100_000, -0.8),
                                  (0.95, 90_000, 0.5)]:
        trial = study.ask()
        trial.set_user_attr("params", params)
        trial.set_constraint("params", stored)
        study.tell(trial, value)
    budget = [Constraint("params", max=200_000)]
    best = best_feasible_trial(study, budget)
    assert best is not None and best.number == 1  # not trial 0 (old budget), nor trial 2
    assert "best feasible architecture: trial 1" in best_feasible_report(study, budget)
    assert best_feasible_trial(study, [Constraint("params", max=50_000)]) is None


_FLAKY = """
import optuna


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    if trial.number < 4:  # four failures in a row, each its own
        raise LookupError(f"no row {trial.number}")
    return x


def stopped(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    raise KeyboardInterrupt
"""


@pytest.fixture
def user_objectives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of objectives, importable as ``search_flaky``; a storage URL beside it."""
    (tmp_path / "search_flaky.py").write_text(_FLAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"sqlite:///{tmp_path / 'user.db'}"


@pytest.mark.parametrize("trials", ["30", "1"])
def test_an_objective_that_always_raises_stops_in_one_line(
        trials: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # os.getcwd(trial) raises a TypeError: it ended the search with a traceback.
    storage = f"sqlite:///{tmp_path / 'raises.db'}"
    assert main(["search", "--task", "os:getcwd", "--trials", trials, "--storage", storage,
                 "--no-progress"]) == 1
    out, err = capsys.readouterr()
    n = min(3, int(trials))
    assert "Traceback" not in err and "Trial 0 failed" not in err, err
    (line,) = [line for line in err.splitlines() if "optuna-rena" in line]
    assert line == ("optuna-rena search: error: the objective raised TypeError: "
                    "posix.getcwd() takes no arguments (1 given) in "
                    f"{n} trials in a row, failing them; the search stopped. Fix the "
                    "objective, and the same command continues the study."), line
    assert out.splitlines() == [f"trial {i}: fail (TypeError: posix.getcwd() takes no "
                                "arguments (1 given))" for i in range(n)]
    study = optuna.load_study(study_name="rena-os:getcwd", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * n


def test_an_objective_that_raises_now_and_then_fails_those_trials_only(
        user_objectives: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--task", "search_flaky:objective", "--trials", "6",
                 "--storage", user_objectives, "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "error" not in err, err
    assert "trial 3: fail (LookupError: no row 3)" in out.splitlines()
    study = optuna.load_study(study_name="rena-search_flaky:objective",
                              storage=user_objectives)
    assert [t.state.name for t in study.trials] == ["FAIL"] * 4 + ["COMPLETE"] * 2


def test_an_objective_stopped_by_ctrl_c_still_ends_the_search(
        user_objectives: str, capsys: pytest.CaptureFixture[str]) -> None:
    # KeyboardInterrupt is no Exception: not caught as a failed trial.
    assert main(["search", "--task", "search_flaky:stopped", "--trials", "5",
                 "--storage", user_objectives, "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "optuna-rena search: interrupted; 0 complete trials are kept" in err
    assert "Traceback" not in err and "error" not in err, err
    study = optuna.load_study(study_name="rena-search_flaky:stopped",
                              storage=user_objectives)
    (trial,) = study.trials
    assert trial.system_attrs["rena:interrupted"] is True


def _as_from_a_terminal() -> None:
    """Ctrl-C's default action in the command, as in a terminal. A test run started in
    the background (CI may be one) ignores SIGINT, and a child inherits that; Python then
    raises no KeyboardInterrupt, as nohup and background jobs intend."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_training(db: Path, run: subprocess.Popen) -> None:
    """Until the search ``run`` has a trial in ``db`` whose child network is chosen.

    It reads with sqlite3, read-only: opening the file with Optuna while the search is
    still creating its tables would create them too, and one of the two would fail.
    """
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if run.poll() is not None:
            pytest.fail(f"the search ended early with exit code {run.returncode}: "
                        f"{run.stderr.read() if run.stderr else ''}")
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
                chosen = connection.execute(
                    "SELECT COUNT(*) FROM trial_user_attributes WHERE key = 'child'"
                ).fetchone()[0]
        except sqlite3.OperationalError:  # no file or no table yet
            continue
        if chosen:
            return
    pytest.fail(f"no trial started training in {db} within 300 s")


def test_optuna_reports_a_failed_trial_but_not_a_stopped_one() -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    optuna_logger = logging.getLogger("optuna")  # Optuna's records stop there
    optuna_logger.addHandler(handler)

    def failing(trial: optuna.Trial) -> float:
        raise RuntimeError("the child did not train")

    def stopped(trial: optuna.Trial) -> float:
        raise KeyboardInterrupt

    study = optuna.create_study()
    try:
        with _quiet_interruption():
            study.optimize(failing, n_trials=1, catch=(RuntimeError,))
            with pytest.raises(KeyboardInterrupt):
                study.optimize(stopped, n_trials=1)
    finally:
        optuna_logger.removeHandler(handler)
    failed = [r for r in records if r.name == "optuna.study._optimize"]
    assert len(failed) == 2 and all("Trial 0 " in r.getMessage() for r in failed), failed
    assert [r.exc_info[0] for r in failed if r.exc_info] == [RuntimeError]


def _wait_until_stale(db: Path, trial_id: int, grace_period: int) -> None:
    """Until the trial's last heartbeat in ``db`` is older than ``grace_period`` by the
    database's clock, as Optuna judges a trial stale (whole seconds, as SQLite keeps them).
    Read with sqlite3, read-only, so that nothing fails the trial before the next run."""
    deadline = time.monotonic() + 60
    age = None
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            row = connection.execute(
                "SELECT CAST(strftime('%s', 'now') AS INTEGER)"
                " - CAST(strftime('%s', heartbeat) AS INTEGER)"
                " FROM trial_heartbeats WHERE trial_id = ?", (trial_id,)).fetchone()
        age = None if row is None else row[0]
        if age is not None and age > grace_period:
            return
        time.sleep(0.2)
    pytest.fail(f"trial {trial_id} in {db} was not stale within 60 s: its heartbeat is "
                f"{'missing' if age is None else f'{age} s old'}, the grace period "
                f"{grace_period} s")


@pytest.mark.slow
def test_ctrl_c_ends_a_search_in_one_line_and_teaches_nothing(tmp_path: Path) -> None:
    db = tmp_path / "stop.db"
    storage = f"sqlite:///{db}"
    run = subprocess.Popen(
        [console_script("optuna-rena"), "search", "--trials", "5", "--epochs", "200",
         "--storage", storage, "--seed", "0", "--no-progress", "--heartbeat", "5"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_as_from_a_terminal)
    _wait_for_training(db, run)  # interrupt while the trial trains
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "optuna-rena search: interrupted; 0 complete trials are kept in" in err
    assert "the same command continues the study" in err
    study = optuna.load_study(study_name="rena-digits", storage=storage)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.FAIL
    assert trial.system_attrs["rena:interrupted"] is True
    assert outcome_of(trial, set(), 1) is None  # nothing to learn, unlike a failed child
    # The run kept heartbeats, so a killed run's trial would be failed and retried.
    with sqlite3.connect(db) as connection:
        beats = connection.execute("SELECT trial_id FROM trial_heartbeats").fetchall()
    assert beats == [(trial._trial_id,)]


@pytest.mark.slow
def test_a_killed_search_is_retried_by_the_next_run(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    storage = f"sqlite:///{db}"
    argv = [console_script("optuna-rena"), "search", "--storage", storage, "--seed", "0",
            "--no-progress", "--heartbeat", "1"]
    run = subprocess.Popen([*argv, "--trials", "5", "--epochs", "200"], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_training(db, run)
    run.kill()  # a lost machine: no cleanup at all
    run.wait()
    study = optuna.load_study(study_name="rena-digits", storage=storage)
    (killed,) = study.trials
    assert killed.state == optuna.trial.TrialState.RUNNING
    _wait_until_stale(db, killed._trial_id, grace_period=2)  # twice the heartbeat interval
    done = subprocess.run([*argv, "--trials", "1", "--epochs", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first, retry = study.trials
    assert first.state == optuna.trial.TrialState.FAIL
    assert retry.state == optuna.trial.TrialState.COMPLETE
    assert retry.system_attrs["failed_trial"] == first.number
    assert retry.params == first.params  # the same network, trained this time
    assert outcome_of(first, {first.number}, 1) is None  # the killed run teaches nothing


@pytest.mark.slow
def test_a_search_killed_on_a_journal_is_named_and_failed_on_request(tmp_path: Path) -> None:
    log = tmp_path / "killed.log"
    storage = f"journal:{log}"
    argv = [console_script("optuna-rena"), "search", "--storage", storage, "--seed", "0",
            "--no-progress"]
    run = subprocess.Popen([*argv, "--trials", "5", "--epochs", "200"], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    # Until the child network is chosen (its user attribute written): read as bytes, since
    # opening the journal with Optuna could write to it.
    while not (log.exists() and b'"child"' in log.read_bytes()):
        if run.poll() is not None:
            pytest.fail(f"the search ended early with exit code {run.returncode}: "
                        f"{run.stderr.read() if run.stderr else ''}")
        if time.monotonic() > deadline:
            run.kill()
            pytest.fail(f"no trial started training in {log} within 300 s")
        time.sleep(0.5)
    run.kill()  # a lost machine: no cleanup at all
    run.wait()
    study = optuna.load_study(study_name="rena-digits", storage=open_storage(storage))
    (killed,) = study.trials
    assert killed.state == optuna.trial.TrialState.RUNNING
    # Optuna 5.1 keeps no heartbeats on a journal file: the next run names the trial and
    # leaves it, as it may be another worker's.
    done = subprocess.run([*argv, "--trials", "1", "--epochs", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("optuna-rena search: warning: the study 'rena-digits' has 1 RUNNING trial that "
            "this run did not start: trial 0 (started ") in done.stderr
    assert study.trials[0].state == optuna.trial.TrialState.RUNNING
    done = subprocess.run([*argv, "--trials", "1", "--epochs", "1", "--fail-running-trials"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--fail-running-trials: marked FAIL 1 of the 1 RUNNING trial" in done.stdout
    first, second, third = study.trials
    assert first.state == optuna.trial.TrialState.FAIL
    assert outcome_of(first, set(), 1) is None  # the killed run teaches nothing
    assert second.state == third.state == optuna.trial.TrialState.COMPLETE


@pytest.mark.slow
def test_ctrl_c_ends_a_parallel_benchmark_in_one_line(tmp_path: Path, data_dir: Path) -> None:
    log = tmp_path / "bench.log"
    run = subprocess.Popen(
        [console_script("optuna-rena"), "benchmark", "--task", "nb201:pixel3:2.5",
         "--data-dir", str(data_dir), "--samplers", "gp", "tpe", "--trials", "150",
         "--seeds", "2", "--jobs", "2", "--no-progress", "--out", str(tmp_path / "out"),
         "--storage", f"journal:{log}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_as_from_a_terminal)
    deadline = time.monotonic() + 120
    while not log.exists() or log.stat().st_size < 20_000:  # both workers' trials under way
        if run.poll() is not None:
            pytest.fail(f"the benchmark ended before Ctrl-C, exit code {run.returncode}: "
                        f"{run.stderr.read() if run.stderr else ''}")
        if time.monotonic() > deadline:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate(timeout=60)
            pytest.fail(f"the benchmark's journal {log} did not reach 20 kB (trials under way "
                        "in both workers) within 120 s")
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert err.strip() == "optuna-rena benchmark: interrupted", err
    assert not (tmp_path / "out" / "results.json").exists()


def test_digits_dataset() -> None:
    data = digits()
    assert data.x_train.shape[1:] == (1, 8, 8) and len(data.x_train) + len(data.x_val) == 1797
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1


def test_cifar10_folder(data_dir: Path) -> None:
    data = cifar10(data_dir / "cifar10", max_train=40, max_val=20)
    assert data.x_train.shape == (40, 3, 32, 32) and data.x_val.shape == (20, 3, 32, 32)
    assert sorted(set(data.y_train.tolist())) == list(range(10))  # classes interleaved
    assert data.classes[0] == "airplane"


def test_cifar10_bad_folder(tmp_path: Path) -> None:
    (tmp_path / "train" / "cat").mkdir(parents=True)
    with pytest.raises(ValueError, match="test is not a folder"):
        cifar10(tmp_path)


def test_speech_commands_folder_is_speaker_disjoint(data_dir: Path) -> None:
    data = speech_commands(data_dir / "speech_commands")
    assert data.x_train.shape[1:] == (1, 40, 101)
    assert len(data.classes) == 12 and len(data.x_train) + len(data.x_val) == 1800
    names = sorted((data_dir / "speech_commands").glob("*/*.wav"))
    speakers = {speaker_of(p.name) for p in names}
    held_out = {s for s in speakers if is_validation_speaker(s)}
    assert 0.1 < len(held_out) / len(speakers) < 0.3
    assert speaker_of("022cd682_nohash_1.wav") == "022cd682"
    assert speaker_of("backward_0c540988_nohash_0.wav.wav") == "0c540988"


def test_speech_commands_bad_folder(tmp_path: Path) -> None:
    (tmp_path / "yes").mkdir()
    with pytest.raises(ValueError, match="lacks the class folder"):
        speech_commands(tmp_path)


def test_fit_reports_and_prunes() -> None:
    data = digits()
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    study.optimize(lambda t: fit(zoo.digits_cnn().build(), data, epochs=3, trial=t),
                   n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]  # pruned after the first epoch's report
    accuracy = fit(zoo.digits_cnn().build(), data, epochs=2)
    assert 0.5 < accuracy <= 1.0


def test_augmentation_is_a_random_crop_and_flip() -> None:
    """Each augmented image is a window of the reflect-padded image, mirrored or not, and
    over a batch both flips and several offsets occur."""
    n, padding = 64, 2
    x = torch.rand(n, 3, 8, 8)
    out = random_crop_flip(x, torch.Generator().manual_seed(0), padding=padding)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4, mode="reflect")
    seen = set()
    for i in range(n):
        found = [(dy, dx, flip)
                 for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)
                 for flip in (False, True)
                 if torch.equal(out[i], (lambda w: w.flip(-1) if flip else w)(
                     padded[i, :, dy:dy + 8, dx:dx + 8]))]
        assert found, f"image {i} is no crop of its padded input"
        seen.update(found)
    assert {flip for _, _, flip in seen} == {False, True}
    assert len({(dy, dx) for dy, dx, _ in seen}) > 10


@pytest.mark.slow
@pytest.mark.parametrize("script,folder,extra", [
    ("cifar10.py", "cifar10", ["--max-train", "300"]),
    ("speech_commands.py", "speech_commands", []),
])
def test_examples_run_end_to_end(script: str, folder: str, extra: list[str],
                                 data_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), "--data-dir",
         str(data_dir / folder), "--trials", "2", "--epochs", "1",
         "--storage", f"sqlite:///{tmp_path / 'example.db'}", *extra],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    # Every constraint of the examples is analytic, so RenaSampler plans feasible
    # children from the first trial.
    assert "best feasible architecture: trial" in result.stdout, result.stdout
