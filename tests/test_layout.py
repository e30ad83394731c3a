"""The layout that docs/architecture.md describes holds: the package at the top level, no
import circles, no module importing another's private names, nothing outside tests/
importing from tests/."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

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


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_owners(trees: dict[Path, ast.Module]) -> dict[str, set[str]]:
    """Each private name that the package defines, with where: ``module`` for a module's
    own (function, class or variable), ``module:Class`` for a class's (method, class
    attribute, or attribute set on ``self`` or ``cls``)."""
    owners: dict[str, set[str]] = {}
    for path, tree in trees.items():
        module = _module_name(path)
        for node in tree.body:
            for name in _defined(node):
                owners.setdefault(name, set()).add(module)
        for cls in ast.walk(tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in cls.body:
                for name in _defined(node):
                    owners.setdefault(name, set()).add(f"{module}:{cls.name}")
            for node in ast.walk(cls):
                if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                        and isinstance(node.value, ast.Name)
                        and node.value.id in ("self", "cls") and _private(node.attr)):
                    owners.setdefault(node.attr, set()).add(f"{module}:{cls.name}")
    return owners


def _defined(node: ast.stmt) -> list[str]:
    """The private names a module or class body statement defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names = [node.name]
    elif isinstance(node, ast.Assign):
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        names = [node.target.id]
    else:
        names = []
    return [n for n in names if _private(n)]


def _reached(tree: ast.Module) -> list[tuple[ast.expr, str, int, list[str]]]:
    """``(object, name, line, enclosing classes)`` for each private attribute reached on
    an object other than ``self`` or ``cls``: ``x._name``, and ``getattr``, ``setattr``,
    ``hasattr`` or ``delattr`` of ``x`` with a literal ``"_name"``."""
    out = []

    def visit(node: ast.AST, classes: list[str]) -> None:
        if isinstance(node, ast.ClassDef):
            classes = [*classes, node.name]
        if isinstance(node, ast.Attribute) and _private(node.attr):
            out.append((node.value, node.attr, node.lineno, classes))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str) and _private(node.args[1].value)):
            out.append((node.args[0], node.args[1].value, node.lineno, classes))
        for child in ast.iter_child_nodes(node):
            visit(child, classes)

    visit(tree, [])
    return [r for r in out if not (isinstance(r[0], ast.Name) and r[0].id in ("self", "cls"))]


def _names_a_sampler(node: ast.expr) -> bool:
    """``sampler``, ``self.sampler``, ``trial.study.sampler``, ``tpe_sampler``..."""
    name = node.id if isinstance(node, ast.Name) else (
        node.attr if isinstance(node, ast.Attribute) else "")
    return name.lstrip("_").lower().endswith("sampler")


def _optunas_private_names() -> set[str]:
    """The private attributes of Optuna's study, trial and frozen trial."""
    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, 0.0)
    objects = (study, trial, study.trials[0], optuna.Study, optuna.Trial, FrozenTrial)
    return {n for o in objects for n in (*dir(o), *getattr(o, "__dict__", ())) if _private(n)}


SAMPLER_PRIVATES_ALLOWED = {
    # Optuna's samplers (NSGA-II, TPE, GP) keep their constraints_func private and offer
    # no public accessor; whether one is set decides who writes the constraints list.
    ("optuna_rena._constraints", "_constraints_func"),
}


def test_no_private_attribute_of_a_sampler_is_reached_by_name() -> None:
    """No code reaches into another object's private attributes by name: not those of
    the package's samplers (their state is theirs; the space and wrappers such as
    TimedSampler go through public hooks), nor any private name that another class or
    module of the package defines (``x._name`` and ``getattr(x, "_name")`` alike; a class
    may reach its own names on another instance, a module its own functions). Optuna's
    own private attributes (``study._storage``, ``trial._trial_id``) are Optuna's matter,
    (a name that they define too is theirs), except on a sampler: no sampler's private attribute is reached, Optuna's included,
    but for the listed exceptions."""
    trees = {path: ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")}
    optunas = _optunas_private_names()
    owners = {k: v for k, v in _private_owners(trees).items() if k not in optunas}
    offenders = []
    for path, tree in trees.items():
        module = _module_name(path)
        for obj, name, line, classes in _reached(tree):
            where = {module} | {f"{module}:{c}" for c in classes}
            at = f"{path.relative_to(REPO)}:{line}: {ast.unparse(obj)}.{name}"
            if name in owners and not owners[name] & where:
                offenders.append(f"{at} (private to {', '.join(sorted(owners[name]))})")
            elif (name not in owners and _names_a_sampler(obj)
                  and (module, name) not in SAMPLER_PRIVATES_ALLOWED):
                offenders.append(f"{at} (a sampler's private attribute)")
    assert offenders == [], "\n".join(offenders)


def test_examples_and_benchmarks_do_not_import_tests() -> None:
    for folder in ("examples", "benchmarks"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            modules = [m for m, _ in _imports(path)]
            assert not any(m == "tests" or m.startswith(("tests.", "test_", "helpers", "conftest"))
                           for m in modules), path
            assert "tests/" not in text and '"tests"' not in text, path
