"""The README's examples run as written."""

from __future__ import annotations

import json
from pathlib import Path
import re
import shlex
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
import torch

from helpers import free_port
from helpers import REPO
from helpers import require_optunahub


def _blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_example_runs(index: int, request: pytest.FixtureRequest,
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = _blocks("python")[index]
    # An example of OptunaHub's runs from the clone's top folder (the registry folder
    # optunahub/ is there); the others in a folder of their own, where a storage file that
    # they write is new at each run. They read the offline data from where
    # OPTUNA_RENA_DATA says.
    monkeypatch.chdir(REPO if "optunahub" in code else tmp_path)
    if "OPTUNA_RENA_DATA" in code:
        monkeypatch.setenv("OPTUNA_RENA_DATA", str(request.getfixturevalue("data_dir")))
    if re.search(r"^import optunahub$", code, flags=re.M):
        require_optunahub()
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def _optuna_rena_commands() -> list[str]:
    return [line for block in _blocks("bash") for line in block.splitlines()
            if line.startswith("optuna-rena ")]


# The README's budgets are a user's; the tests run the same commands with tiny ones and
# their own storage and output folders (argparse keeps the last value of a flag).
_TINY = {
    "search": ["--trials", "2", "--epochs", "1", "--no-progress"],
    "benchmark": ["--trials", "4", "--seeds", "1", "--no-progress"],
    "resources": [],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", _optuna_rena_commands())
def test_cli_command_runs(command: str, tmp_path, data_dir) -> None:
    argv = shlex.split(command)
    sub = argv[1]
    if sub == "dashboard":
        _serves(argv, tmp_path)
        return
    extra = list(_TINY[sub])
    if sub in ("search", "benchmark"):
        extra += ["--storage", f"sqlite:///{tmp_path / 'readme.db'}"]
    if sub == "benchmark":
        extra += ["--out", str(tmp_path / "out")]
    argv = [a.replace("../shared/data", str(data_dir)) for a in argv]
    result = subprocess.run([sys.executable, "-m", "optuna_rena.cli", *argv[1:], *extra],
                            capture_output=True, text=True, timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stderr
    expected = {"resources": "compute intensity", "search": "feasible architecture",
                "benchmark": "| rena |"}[sub]
    assert expected in result.stdout, result.stdout


def _serves(argv: list[str], tmp_path: Path) -> None:
    """The README's dashboard command, on a storage of the test's and a free port, answers
    with the storage's studies."""
    storage = f"sqlite:///{tmp_path / 'readme.db'}"
    optuna.create_study(storage=storage, study_name="readme")
    argv = [storage if a.startswith(("sqlite:", "journal:")) else a for a in argv]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "optuna_rena.cli", *argv[1:],
                               "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/studies"
                with urllib.request.urlopen(url, timeout=10) as response:
                    studies = json.loads(response.read())["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.3)
        assert [s["study_name"] for s in studies] == ["readme"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_search_example_repeats_with_its_seed(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """The "Search with RenaSampler" example, run twice as written with
    ``RenaSampler(seed=0)``, gives the same trials, value for value: its objective seeds
    the child's initial weights from the trial. (Unseeded, the two runs of the example gave
    0.588 and 0.478.)"""
    code = next(b for b in _blocks("python") if "load_digits" in b and "RenaSampler(seed=" in b)
    # Fewer trials and training steps, for a fast test; the weights still decide the values.
    code = re.sub(r"n_trials=\d+", "n_trials=3", code)
    code = re.sub(r"range\(\d+\)", "range(3)", code)
    # One intra-op thread: on a busy shared machine two wait on each other for seconds a
    # step; the values do not depend on it.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runs = []
    try:
        for run in range(2):
            # Each run in a folder of its own: the example's SQLite study would continue.
            (tmp_path / str(run)).mkdir()
            monkeypatch.chdir(tmp_path / str(run))
            namespace: dict[str, object] = {"__name__": "__readme__"}
            exec(compile(code, "README.md search example", "exec"), namespace)
            study = namespace["study"]
            runs.append([(t.params, t.value)
                         for t in study.trials])  # type: ignore[attr-defined]
    finally:
        torch.set_num_threads(threads)
    assert len(runs[0]) == 3
    assert runs[0] == runs[1]
