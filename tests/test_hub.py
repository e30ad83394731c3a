"""OptunaHub: the registry folders in optunahub/ load offline with
optunahub.load_local_module, RenaSampler and the problems of optuna_rena.problems run
through them, the benchmark's tasks are those problems, and bad input is refused."""

from __future__ import annotations

import inspect
from pathlib import Path
import re
import subprocess
import sys
import textwrap
import types
from typing import Any
import warnings

import numpy as np
import optuna
import pytest

from optuna_rena import RenaSampler
from optuna_rena import trial_violations
from optuna_rena.cli import main
from optuna_rena.problems import NASBenchMacroPairProblem
from optuna_rena.problems import NASBenchMacroProblem
from optuna_rena.problems import NB201FrontProblem
from optuna_rena.problems import NB201LatencyProblem

from helpers import REPO
from helpers import require_optunahub


REGISTRY = REPO / "optunahub"
SAMPLERS = ["samplers/rena"]
BENCHMARKS = {
    "benchmarks/nasbench201_latency": NB201LatencyProblem,
    "benchmarks/nasbench201_latency_front": NB201FrontProblem,
    "benchmarks/nasbench_macro": NASBenchMacroProblem,
    "benchmarks/nasbench_macro_pair": NASBenchMacroPairProblem,
}
PACKAGES = [*SAMPLERS, *BENCHMARKS]
FRONT_MATTER = {"author", "title", "description", "tags", "optuna_versions", "license"}


def _load(package: str) -> types.ModuleType:
    return require_optunahub().load_local_module(package, registry_root=str(REGISTRY))


def _problem(cls: type, data_dir: Path) -> Any:
    """Each problem with the budget its example uses."""
    if cls is NB201LatencyProblem:
        return cls(data_dir, "pixel3", 2.5)
    if cls is NB201FrontProblem:
        return cls(data_dir, "fpga", max_params=300_000)
    return cls(data_dir)


def _readme(package: str) -> tuple[dict[str, str], str]:
    """A registry README's front matter (each field's raw text) and its body."""
    text = (REGISTRY / package / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, flags=re.S)
    assert match, f"{package}: the README opens with no front matter"
    fields = dict(line.split(": ", 1) for line in match.group(1).splitlines())
    return fields, match.group(2)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


# ----- the folders, in the registry's form -----


@pytest.mark.parametrize("package", PACKAGES)
def test_a_registry_folder_holds_what_the_registry_asks(package: str) -> None:
    folder = REGISTRY / package
    for name in ("__init__.py", "README.md", "LICENSE", "requirements.txt", "example.py"):
        assert (folder / name).is_file(), f"{package}: no {name}"
    assert "optuna-rena" in (folder / "requirements.txt").read_text().split()
    assert "MIT License" in (folder / "LICENSE").read_text()
    fields, body = _readme(package)
    assert set(fields) == FRONT_MATTER, f"{package}: front matter {sorted(fields)}"
    assert fields["license"] == "MIT License"
    kind = "sampler" if package.startswith("samplers/") else "benchmark"
    assert re.fullmatch(r"\[.*\]", fields["tags"]) and kind in fields["tags"][1:-1].split(", ")
    # The versions it was checked with (the registry lists them; CI may run a newer one).
    assert re.fullmatch(r"\[\d+\.\d+\.\d+(, \d+\.\d+\.\d+)*\]", fields["optuna_versions"])
    for section in ("## Abstract", "## APIs", "## Installation", "## Example", "## Others",
                    "### Reference", "### Bibtex"):
        assert f"\n{section}\n" in body, f"{package}: no {section} section"
    # The registry strips HTML from a README: only Markdown.
    assert not re.search(r"<[A-Za-z/!][^>]*>", body), f"{package}: HTML in the README"
    images = re.findall(r"!\[[^\]]+\]\((images/[^)]+)\)", body)
    assert images, f"{package}: no image"
    for image in images:
        assert (folder / image).stat().st_size > 1000, image
    # The example file is the README's example.
    example = body.split("\n## Example\n", 1)[1]
    assert _python_blocks(example)[0] in (folder / "example.py").read_text()


def test_the_sampler_readme_documents_every_argument() -> None:
    _, body = _readme("samplers/rena")
    arguments = [n for n in inspect.signature(RenaSampler).parameters]
    assert arguments and [n for n in arguments if f"  - `{n}`: " not in body] == []
    assert "`RenaSampler.paper(**kwargs)`" in body


@pytest.mark.parametrize("package", BENCHMARKS)
def test_a_benchmark_readme_documents_its_problem(package: str) -> None:
    cls = BENCHMARKS[package]
    _, body = _readme(package)
    signature = inspect.signature(cls)
    assert "### class `Problem(" in body
    for name in signature.parameters:
        assert f"- `{name}`: " in body, f"{package}: {name} undocumented"
    for member in ("search_space", "directions", "metric_names", "constraints", "__call__",
                   "evaluate", "evaluate_constraints"):
        assert f"- `{member}" in body, f"{package}: {member} undocumented"
    extra = "front" if cls is NB201FrontProblem else "optimum"
    assert f"- `{extra}()`" in body


# ----- loaded offline with load_local_module -----


def test_the_sampler_package_loads_offline_and_searches_under_a_constraint(
        data_dir: Path) -> None:
    rena = _load("samplers/rena")
    assert rena.RenaSampler is RenaSampler
    # 15 % of the cells meet 4.2 ms on pixel3.
    problem = _load("benchmarks/nasbench201_latency").Problem(
        data_dir=data_dir, device="pixel3", budget_ms=4.2)
    study = optuna.create_study(directions=problem.directions,
                                sampler=rena.RenaSampler(seed=0))
    study.optimize(problem, n_trials=16)
    best = study.best_trial  # Optuna's best trial is a feasible one
    assert problem.evaluate_constraints(best.params)["latency_ms_max"] <= 0
    assert best.value <= problem.optimum()
    assert all(t.system_attrs["rena:order"] for t in study.trials)  # RenaSampler decided


@pytest.mark.parametrize("package", BENCHMARKS)
def test_a_benchmark_package_loads_offline(package: str) -> None:
    optunahub = require_optunahub()
    module = _load(package)
    assert module.Problem is BENCHMARKS[package]
    assert issubclass(module.Problem, optunahub.benchmarks.BaseProblem)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_readme_examples_run_offline(package: str, data_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # As published they call optunahub.load_module, which downloads the package: here
    # it loads this checkout's folder.
    optunahub = require_optunahub()
    monkeypatch.setattr(optunahub, "load_module", lambda package, **_: _load(package))
    monkeypatch.setenv("OPTUNA_RENA_DATA", str(data_dir))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _, body = _readme(package)
    blocks = _python_blocks(body)
    assert blocks
    for index, code in enumerate(blocks):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            exec(compile(code, f"{package}/README.md python block {index}", "exec"),
                 {"__name__": "__readme__"})
    assert capsys.readouterr().out


# ----- the problems: through problem(trial), and through evaluate / evaluate_constraints


def _by_evaluate(problem: Any) -> Any:
    """An objective that calls evaluate and evaluate_constraints, as a user of the
    registry's base class may, with Optuna's own trial.set_constraint."""
    def objective(trial: optuna.Trial) -> Any:
        params = {name: trial.suggest_categorical(name, d.choices)
                  for name, d in problem.search_space.items()}
        for name, value in problem.evaluate_constraints(params).items():
            trial.set_constraint(name, value)
        return problem.evaluate(params)
    return objective


@pytest.mark.parametrize("cls", BENCHMARKS.values(), ids=lambda c: c.__name__)
def test_a_problem_called_on_trials_agrees_with_evaluate(cls: type, data_dir: Path) -> None:
    problem = _problem(cls, data_dir)
    assert isinstance(problem, require_optunahub().benchmarks.BaseProblem)
    several = len(problem.directions) > 1
    studies = []
    for objective in (problem, _by_evaluate(problem)):
        study = optuna.create_study(directions=problem.directions,
                                    sampler=optuna.samplers.RandomSampler(seed=1))
        study.optimize(objective, n_trials=8)
        studies.append(study)
    called, evaluated = (s.trials for s in studies)
    for a, b in zip(called, evaluated):
        assert a.params == b.params and a.values == b.values
        value = problem.evaluate(a.params)
        assert (list(value) if several else [value]) == a.values
        violations = problem.evaluate_constraints(a.params)
        assert list(violations) == [c.name for c in problem.constraints]
        # Written once where Optuna and optuna-dashboard read it, by name through
        # trial_violations; Optuna's form by name too, with the same values.
        assert trial_violations(a) == pytest.approx(violations)
        assert a.system_attrs["constraints"] == pytest.approx(list(violations.values()))
        assert b.constraints == pytest.approx(violations)
        for c in problem.constraints:
            assert a.user_attrs[c.metric] == pytest.approx(
                (violations[c.name] + 1) * c.limit)


@pytest.mark.parametrize("cls,sampler", [
    (NB201LatencyProblem, optuna.samplers.TPESampler),
    (NB201LatencyProblem, RenaSampler),
    (NB201FrontProblem, optuna.samplers.NSGAIISampler),
    (NB201FrontProblem, RenaSampler),
    (NASBenchMacroProblem, optuna.samplers.TPESampler),
    (NASBenchMacroPairProblem, RenaSampler),
], ids=lambda x: x.__name__)
def test_samplers_search_the_problems(cls: type, sampler: type, data_dir: Path) -> None:
    problem = _problem(cls, data_dir)
    study = optuna.create_study(directions=problem.directions, sampler=sampler(seed=0))
    study.optimize(problem, n_trials=16)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if len(problem.directions) > 1:
        assert all(t.user_attrs["latency_ms"] == t.values[1] for t in study.trials)
        for t in study.best_trials:  # the feasible front
            assert all(v <= 0 for v in problem.evaluate_constraints(t.params).values())
        found = [t.values for t in study.best_trials]
        assert 0 <= problem.front().gap(found) <= 1
    else:
        feasible = [t for t in study.trials if max(trial_violations(t).values()) <= 0]
        if feasible:
            assert study.best_trial.value == max(t.value for t in feasible)
            assert study.best_trial.value <= problem.optimum()


def test_the_front_problem_without_a_bound_records_params(data_dir: Path) -> None:
    problem = NB201FrontProblem(data_dir, "pixel3")
    assert problem.constraints == () and problem.evaluate_constraints(
        {f"E{i}": "none" for i in range(6)}) == {}
    study = optuna.create_study(directions=problem.directions)
    study.optimize(problem, n_trials=3)
    assert all({"params", "latency_ms"} <= set(t.user_attrs) for t in study.trials)
    assert all("constraints" not in t.system_attrs for t in study.trials)


# ----- the benchmark runs the same objects -----


@pytest.mark.parametrize("task,cls", [
    ("nb201:pixel3:2.5", NB201LatencyProblem),
    ("nb201-front:fpga:params=300000", NB201FrontProblem),
    ("nas-bench-macro-plain", NASBenchMacroProblem),
    ("nas-bench-macro-pair", NASBenchMacroPairProblem),
])
def test_the_benchmarks_tasks_are_the_problems(task: str, cls: type, data_dir: Path) -> None:
    from optuna_rena._tasks import make_task

    made = make_task(task, data_dir=data_dir)
    assert type(made.objective) is cls
    problem = _problem(cls, data_dir)
    assert made.constraints == problem.constraints
    assert made.directions == tuple(d.name.lower() for d in problem.directions)
    if cls is NB201FrontProblem:
        np.testing.assert_array_equal(made.front.points, problem.front().points)
        assert made.front.budgets == problem.front().budgets
    else:
        assert made.optimum == problem.optimum()


def test_a_macro_task_takes_the_bounds_given(data_dir: Path) -> None:
    from optuna_rena import Constraint
    from optuna_rena._tasks import make_task

    task = make_task("nas-bench-macro-pair", data_dir=data_dir,
                     constraints=[Constraint("params", max=1e6)])
    assert [str(c) for c in task.constraints] == ["params <= 1e+06"]
    assert [str(c) for c in make_task("nas-bench-macro-plain", data_dir=data_dir,
                                      constraints=[]).constraints] == []


# ----- bad input -----


@pytest.mark.parametrize("make,message", [
    (lambda d: NB201LatencyProblem(d / "nowhere", "pixel3", 2.5),
     "is not a folder; expected the folder that holds nb201_hw/nb201_hw.csv."),
    (lambda d: NB201LatencyProblem(None, "pixel3", 2.5),
     "data_dir must be the path of a folder that holds nb201_hw/nb201_hw.csv, got None."),
    (lambda d: NB201LatencyProblem(d / "nas_bench_macro", "pixel3", 2.5),
     "cannot read NAS-Bench-201 at "),
    (lambda d: NASBenchMacroProblem(d / "nowhere"),
     "expected the folder that holds nas_bench_macro/nas-bench-macro_cifar10.json."),
    (lambda d: NB201LatencyProblem(d, "tpu", 2.5),
     "unknown device 'tpu'; expected one of ['raspi4', 'pixel3', 'fpga', "),
    (lambda d: NB201FrontProblem(d, "Pixel3"), "unknown device 'Pixel3'"),
    (lambda d: NB201LatencyProblem(d, "fpga", 1.0),
     "budget_ms=1 is below the smallest latency on fpga in the table, 1.13296 ms: no cell "
     "meets it; expected at least 1.13296."),
    (lambda d: NB201LatencyProblem(d, "pixel3", 0),
     "budget_ms must be a positive finite number, got 0."),
    (lambda d: NB201LatencyProblem(d, "pixel3", "2.5"),
     "budget_ms must be a positive finite number, got '2.5'."),
    (lambda d: NB201LatencyProblem(d, "pixel3", float("inf")),
     "budget_ms must be a positive finite number, got inf."),
    (lambda d: NB201FrontProblem(d, "pixel3", max_params=50_000),
     "max_params=50000 is below the fewest parameters of a cell in the table, 73306: no "
     "cell meets it; expected at least 73306."),
    (lambda d: NASBenchMacroProblem(d, max_params=300_000),
     "max_params=300000 is below the fewest parameters of a network in the table, 387882"),
    (lambda d: NASBenchMacroPairProblem(d, max_params=600_000),
     "max_params=600000 is below the fewest parameters of two networks in the table, "
     "775764: no pair meets it"),
    (lambda d: NASBenchMacroPairProblem(d, max_macs=True),
     "max_macs must be a positive finite number, got True."),
], ids=lambda x: x if isinstance(x, str) else "")
def test_bad_problem_arguments(make: Any, message: str, data_dir: Path) -> None:
    with pytest.raises(ValueError) as e:
        make(data_dir)
    assert message in str(e.value)


@pytest.mark.parametrize("params,message", [
    ({f"E{i}": "none" for i in range(5)}, "missing ['E5']"),
    ({**{f"E{i}": "none" for i in range(6)}, "E6": "none"}, "unknown ['E6']"),
    ({**{f"E{i}": "none" for i in range(5)}, "E5": "conv_3x3"},
     "params['E5'] = 'conv_3x3' is not one of ['none', 'skip_connect', "),
    (["none"] * 6, "params must be a dict of ['E0', "),
])
def test_bad_params_to_evaluate(params: Any, message: str, data_dir: Path) -> None:
    problem = NB201LatencyProblem(data_dir, "pixel3", 2.5)
    for method in (problem.evaluate, problem.evaluate_constraints):
        with pytest.raises(ValueError) as e:
            method(params)
        assert message in str(e.value)


def test_a_macro_layer_is_its_choice(data_dir: Path) -> None:
    problem = NASBenchMacroProblem(data_dir)
    assert problem.evaluate({f"L{i}": 1.0 for i in range(1, 9)}) == problem.evaluate(
        {f"L{i}": 1 for i in range(1, 9)})
    with pytest.raises(ValueError, match=r"params\['L1'\] = True is not one of \[0, 1, 2\]"):
        problem.evaluate({f"L{i}": True for i in range(1, 9)})


@pytest.mark.parametrize("task,message", [
    ("nb201:pixel3:0.001", "budget_ms=0.001 is below the smallest latency on pixel3 in the "
                           "table, 0.00328 ms: no cell meets it"),
    ("nb201-front:pixel3:params=1000", "max_params=1000 is below the fewest parameters"),
])
def test_a_budget_that_nothing_meets_is_refused_before_any_run(
        task: str, message: str, tmp_path: Path, data_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["benchmark", "--task", task, "--data-dir", str(data_dir), "--samplers",
            "random", "--trials", "2", "--storage", f"sqlite:///{tmp_path / 'b.db'}",
            "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "b.db").exists()


# ----- the docstrings' examples -----


@pytest.mark.parametrize("cls", BENCHMARKS.values(), ids=lambda c: c.__name__)
def test_a_problems_docstring_example_runs(cls: type, data_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTUNA_RENA_DATA", str(data_dir))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    doc = inspect.getdoc(cls) or ""
    (block,) = re.findall(r"\.\. code-block:: python\n\n((?:[ \t]+.*\n|\n)+)", doc + "\n")
    exec(compile(textwrap.dedent(block), f"{cls.__name__} docstring", "exec"),
         {"__name__": "__doc__"})


def test_the_problems_are_public_and_documented() -> None:
    import optuna_rena.problems as problems

    assert sorted(problems.__all__) == sorted(c.__name__ for c in BENCHMARKS.values())
    for cls in BENCHMARKS.values():
        doc = inspect.getdoc(cls) or ""
        assert "Args:" in doc and "Raises:" in doc and ".. code-block:: python" in doc


@pytest.mark.slow
def test_the_problems_run_without_optunahub(data_dir: Path) -> None:
    # optunahub is an optional extra: without it the problems stand on a base class of
    # the same interface, and the benchmark runs them as before.
    code = textwrap.dedent(f"""
        import sys
        sys.modules["optunahub"] = None  # import optunahub raises ImportError
        import optuna
        from optuna_rena._tasks import make_task
        from optuna_rena.problems import BaseProblem, NB201FrontProblem

        assert BaseProblem.__module__ == "optuna_rena.problems", BaseProblem
        task = make_task("nb201:pixel3:2.5", data_dir={str(data_dir)!r})
        study = optuna.create_study(direction="maximize")
        study.optimize(task.objective, n_trials=3)
        problem = NB201FrontProblem({str(data_dir)!r}, "fpga")
        assert problem.evaluate(study.trials[0].params)[0] == study.trials[0].value
        print("ran", len(study.trials))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ran 3"
