from __future__ import annotations

from pathlib import Path

import pytest

from helpers import shared_data_dir
from helpers import unavailable


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        unavailable(f"the offline datasets are not at {path}; set OPTUNA_RENA_DATA to the "
                    "folder that holds nas_bench_macro/, cifar10/ and speech_commands/")
    return path
