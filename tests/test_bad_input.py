"""Bad input to ``optuna-rena search`` and its storages: refused in one line, before
anything is written (docs/bad-input.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import tempfile

import optuna
from optuna.distributions import IntDistribution
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
import pytest

from helpers import console_script
from helpers import unavailable
from optuna_rena._budget import record_budget
from optuna_rena._storage import open_storage
from optuna_rena._tasks import make_task
from optuna_rena.cli import main


def _as_another_user() -> list[str]:
    """A command prefix that drops root, for whom file permissions do not bite; nothing
    for any other user."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("running as root, where a read-only file is writable, and setpriv "
                    "(util-linux), which would run the command as another user, is missing")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, console_script("optuna-rena"), "--help"],
                           capture_output=True, timeout=120, cwd="/", check=False)
    if probe.returncode != 0:
        # Not a missing requirement: a checkout in a private folder (CI's may be one).
        # test_a_read_only_database_says_so covers the message without another user.
        pytest.skip("running as root, where a read-only file is writable, and user 65534 "
                    f"cannot run {console_script('optuna-rena')} (a private folder?)")
    return prefix


def test_a_read_only_database_says_so(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # SQLite opened read-only, which binds root too: the database's own words, not
    # Optuna's "exceeding max length".
    db = tmp_path / "ro.db"
    optuna.create_study(storage=f"sqlite:///{db}", study_name="rena-digits",
                        direction="maximize")
    before = db.read_bytes()
    storage = f"sqlite:///file:{db}?mode=ro&uri=true"
    assert main(["search", "--storage", storage, "--trials", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot open the storage {storage!r}: attempt to write a readonly database" in err
    assert "max length" not in err and "Traceback" not in err
    assert db.read_bytes() == before


def test_a_read_only_sqlite_file_is_named() -> None:
    # Optuna says "exceeding max length" of a read-only SQLite file. Not tmp_path: the
    # other user must reach the folder.
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        db = Path(folder) / "ro.db"
        storage = f"sqlite:///{db}"
        optuna.create_study(storage=storage, study_name="rena-digits", direction="maximize")
        db.chmod(0o444)
        before = db.read_bytes()
        result = subprocess.run(
            [*_as_another_user(), console_script("optuna-rena"), "search", "--storage",
             storage, "--trials", "1", "--epochs", "1", "--no-progress"],
            capture_output=True, text=True, timeout=300, cwd=folder,
            env={**os.environ, "HOME": folder}, check=False)
        assert db.read_bytes() == before
    assert result.returncode == 2, result.stderr
    assert f"the SQLite file {db} is read-only" in result.stderr
    assert "Traceback" not in result.stderr and "max length" not in result.stderr


def test_read_only_commands_refuse_a_missing_storage_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Opening it would create an empty database, and say no more than "0 studies".
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 2  # the default sqlite:///optuna-rena.db
    assert "no such file optuna-rena.db; give the --storage of a search" in (
        capsys.readouterr().err)
    journal = tmp_path / "studies.log"
    assert main(["dashboard", f"journal:{journal}"]) == 2
    assert f"no such file {journal}; give the --storage of a search" in (
        capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no such file"):
        open_storage(f"sqlite:///{tmp_path / 'none.db'}", read_only=True)


def test_a_read_only_sqlite_file_can_be_reported() -> None:
    # report only reads: a file that this user cannot write is no reason to refuse it.
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o777)  # the other user writes the report here
        db = Path(folder) / "ro.db"
        storage = f"sqlite:///{db}"
        study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        db.chmod(0o444)
        before = db.read_bytes()
        result = subprocess.run(
            [*_as_another_user(), console_script("optuna-rena"), "report", "--storage",
             storage, "--out", str(Path(folder) / "out")],
            capture_output=True, text=True, timeout=300, cwd=folder,
            env={**os.environ, "HOME": folder}, check=False)
        assert db.read_bytes() == before
        assert result.returncode == 0, result.stderr
        assert (Path(folder) / "out" / "report.html").is_file()


def test_a_study_with_conflicting_parameters_is_refused_before_any_trial(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'conflict.db'}"
    task = make_task("digits")
    assert task.space is not None
    study = optuna.create_study(storage=storage, study_name="rena-digits",
                                direction="maximize")
    record_budget(study, task.constraints, task.space.decisions_fingerprint)  # as a search left it
    # Another sampler's trial on another objective, under the name of a decision.
    study.add_trial(optuna.trial.create_trial(
        params={"I0.position": 3}, distributions={"I0.position": IntDistribution(0, 9)},
        value=0.5))
    argv = ["search", "--storage", storage, "--trials", "1", "--epochs", "1", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ("the study 'rena-digits' holds trials whose 'I0.position' is "
            "IntDistribution(high=9, log=False, low=0, step=1)") in err
    assert "where this space chooses among [-1, 0, 1, 2, 3, 4]" in err
    assert "Traceback" not in err
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]  # no FAIL trial written


@pytest.mark.parametrize("seed", ["-1", "2.5", str(2**32)])
def test_a_bad_seed_is_a_usage_error(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    # It was reported as a storage error.
    with pytest.raises(SystemExit) as e:
        main(["search", "--seed", seed])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --seed: expected an integer in [0, 2**32), got '{seed}'" in err
    assert "cannot open the storage" not in err


def test_a_negative_heartbeat_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["search", "--heartbeat", "-5"])
    assert e.value.code == 2
    assert "argument --heartbeat: expected an integer >= 0, got '-5'" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["cut", "not-json"])
def test_a_journal_with_an_incomplete_last_line_is_refused_untouched(
        damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.log"
    url = f"journal:{path}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    whole = path.read_bytes()
    if damage == "cut":  # a full disk or a killed writer
        path.write_bytes(whole[:-10])
        offset = whole[:-10].rfind(b"\n") + 1
    else:
        path.write_bytes(whole + b'{"op_code": 4, "worker_id": \n')
        offset = len(whole)
    damaged = path.read_bytes()
    message = f"the journal file {path} has an incomplete last line at byte {offset}"
    with pytest.raises(ValueError, match=message):
        open_storage(url)
    # Optuna would skip that line and join its next write onto it, which no process could
    # read again; the refusal leaves the file as it is.
    assert main(["search", "--storage", url, "--trials", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and f"truncate -s {offset}" in err and "Traceback" not in err
    assert path.read_bytes() == damaged
    assert [p.name for p in tmp_path.iterdir()] == ["journal.log"]  # no lock left behind
    # Cut as told, it opens with every complete record.
    os.truncate(path, offset)
    assert len(optuna.load_study(storage=open_storage(url), study_name="s").trials) >= 1


def test_a_journal_line_joined_onto_a_cut_one_is_named_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.log"
    url = f"journal:{path}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    whole = path.read_bytes()
    start = whole[:-1].rfind(b"\n") + 1
    line_number = whole.count(b"\n")
    path.write_bytes(whole[:start + (len(whole) - start) // 2])  # a killed writer's record
    # Later writers append whole records, the first onto the cut one: the joined line is
    # no longer the last, and Optuna's reader fails on it.
    later = JournalFileBackend(str(path))
    for key in ("a", "b"):
        later.append_logs([{"op_code": 2, "worker_id": "later", "study_id": 0,  # study attr
                            "user_attr": {key: 1}}])
    damaged = path.read_bytes()
    with pytest.raises(json.JSONDecodeError):
        optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    message = (f"the journal file {path} has a line that is not JSON at byte {start} "
               f"(line {line_number}, ")
    with pytest.raises(ValueError, match=re.escape(message)):
        open_storage(url)
    for command in (["search", "--storage", url, "--trials", "1", "--no-progress"],
                    ["report", "--storage", url, "--out", str(tmp_path / "report")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert message in err and "Expecting" not in err and len(err.splitlines()) == 1, err
        assert "in a copy, which is safer than editing the file" in err
    assert path.read_bytes() == damaged  # nothing repaired behind the user's back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.log"]
    # Mended as told, in a copy: every whole record is kept, the later writer's too.
    mend = re.search(r"`([^`]*)`", err)
    assert mend is not None, err
    subprocess.run(mend.group(1), shell=True, check=True, cwd=tmp_path)
    mended = optuna.load_study(storage=open_storage(f"journal:{path}.mended"), study_name="s")
    assert mended.user_attrs == {"a": 1, "b": 1} and len(mended.trials) == 3
