"""The README's examples run as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from conftest import REPO


def _blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_example_runs(index: int) -> None:
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def _optuna_rena_commands() -> list[str]:
    return [line for block in _blocks("bash") for line in block.splitlines()
            if line.startswith("optuna-rena ")]


@pytest.mark.parametrize("command", _optuna_rena_commands())
def test_cli_command_runs(command: str) -> None:
    argv = shlex.split(command)
    result = subprocess.run([sys.executable, "-m", "optuna_rena.cli", *argv[1:]],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "compute intensity" in result.stdout
