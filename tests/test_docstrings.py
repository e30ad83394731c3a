"""The examples in the public classes' docstrings run as written."""

from __future__ import annotations

import inspect
import re
import textwrap

import optuna
import pytest

import optuna_rena


def _examples(obj: object) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:[ \t]+.*\n|\n)+)", doc + "\n")
    return [textwrap.dedent(b) for b in blocks]


PUBLIC = [getattr(optuna_rena, name) for name in optuna_rena.__all__]
DOCUMENTED = [obj for obj in PUBLIC if inspect.isclass(obj) and _examples(obj)]


def test_the_main_classes_have_examples() -> None:
    names = {c.__name__ for c in DOCUMENTED}
    assert {"RenaSampler", "ArchitectureSpace", "Constraint", "NetworkSpec",
            "ResourceModel"} <= names, names


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_docstring_example_runs(cls: type) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for code in _examples(cls):
        exec(compile(code, f"{cls.__name__} docstring", "exec"), {"__name__": "__doc__"})
