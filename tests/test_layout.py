"""The layout that docs/architecture.md describes holds: the package at the top level, no
import circles, no module importing another's private names, nothing outside tests/
importing from tests/."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

PACKAGE = REPO / "optuna_rena"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for each ``from module import names`` and ``import module``
    that runs; imports for type checkers only (``if TYPE_CHECKING:``) do not."""
    out = []
    pending: list[ast.AST] = [ast.parse(path.read_text())]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
                node.test.id == "TYPE_CHECKING"):
            pending += node.orelse
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        pending += ast.iter_child_nodes(node)
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = set()
        for module, imported in _imports(path):
            for candidate in (*(f"{module}.{i}" for i in imported), module):
                if candidate in modules and candidate != name:
                    graph[name].add(candidate)
                    break
    return graph


def test_the_package_is_at_the_top_level() -> None:
    assert (PACKAGE / "__init__.py").is_file()
    assert not (REPO / "src").exists()


def test_no_import_circles() -> None:
    edges = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                raise AssertionError("import circle: " + " -> ".join(
                    path[path.index(dep):] + [dep]))
            if dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for module, names in _imports(path):
            if not module.startswith("optuna_rena"):
                continue
            offenders += [f"{_module_name(path)}: from {module} import {n}"
                          for n in names if n.startswith("_")]
    assert offenders == []


def test_no_private_attribute_of_a_sampler_is_reached_by_name() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert 'getattr(sampler, "_' not in text and "getattr(self.sampler, \"_" not in text, path


def test_examples_and_benchmarks_do_not_import_tests() -> None:
    for folder in ("examples", "benchmarks"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            modules = [m for m, _ in _imports(path)]
            assert not any(m == "tests" or m.startswith(("tests.", "test_", "helpers", "conftest"))
                           for m in modules), path
            assert "tests/" not in text and '"tests"' not in text, path
