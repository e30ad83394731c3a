from __future__ import annotations

import os
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The offline datasets: $OPTUNA_RENA_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get("OPTUNA_RENA_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        message = (f"the offline datasets are not at {path}; set OPTUNA_RENA_DATA to the "
                   "folder that holds nas_bench_macro/, cifar10/ and speech_commands/")
        if os.environ.get("CI"):
            pytest.fail(message)  # CI always has ../shared: a missing folder is a CI bug.
        pytest.skip(message)
    return path
