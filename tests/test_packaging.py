"""A regular (non-editable) install of this checkout works: every module is in the wheel,
and the installed package and its console script run from outside the checkout."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from helpers import REPO


@pytest.mark.slow
def test_a_regular_install_works(tmp_path: Path) -> None:
    # Built from a copy: a build inside the checkout leaves build/lib behind, whose stale
    # modules (one since renamed) a later build would pack again.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "optuna_rena", source / "optuna_rena",
                    ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel"), str(source)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("optuna_rena-*.whl")
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    packaged = {p.relative_to(target).as_posix() for p in (target / "optuna_rena").rglob("*.py")}
    in_repo = {p.relative_to(REPO).as_posix() for p in (REPO / "optuna_rena").rglob("*.py")}
    assert packaged == in_repo
    # The digits-curves table is package data, not a module: in the wheel all the same.
    assert (target / "optuna_rena" / "data" / "digits_curves.json.gz").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, str(target / "bin" / "optuna-rena"), "resources", "ds-cnn"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ds_cnn" in run.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import optuna_rena; print(optuna_rena.__file__)"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert where.stdout.strip() == str(target / "optuna_rena" / "__init__.py")
