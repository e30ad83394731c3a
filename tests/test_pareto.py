"""Multi-objective tasks and their benchmark: fronts, hypervolume gaps and budget regrets
checked by hand, NAS-Bench-201's parameter count against a network built in torch, the
tasks' trials, the benchmark's tables, and a continued study with other directions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from optuna_rena import trial_violations
from optuna_rena._benchmark import RunResult
from optuna_rena._benchmark.fronts import gap_curve
from optuna_rena._benchmark.fronts import pooled_front
from optuna_rena._benchmark.fronts import regrets
from optuna_rena._benchmark.fronts import summarise_front
from optuna_rena._budget import record_budget
from optuna_rena._pareto import best_within
from optuna_rena._pareto import budget_regret
from optuna_rena._pareto import hypervolume
from optuna_rena._pareto import hypervolume_gap
from optuna_rena._pareto import non_dominated
from optuna_rena._pareto import ParetoFront
from optuna_rena._resources import ResourceModel
from optuna_rena._tabular import nb201_params
from optuna_rena._tasks import make_task
from optuna_rena.cli import main
from optuna_rena.datasets import load_nas_bench_macro
from optuna_rena.datasets import load_nb201_hw


MAX_MIN = ("maximize", "minimize")

# accuracy (maximised) against latency (minimised); the reference point (0, 2).
# (3, 1) dominates [0, 3] x [1, 2], area 3; (2, 0.5) dominates [0, 2] x [0.5, 2], area 3;
# they share [0, 2] x [1, 2], area 2: the front's hypervolume is 4.
FRONT = ParetoFront(np.array([[3.0, 1.0], [2.0, 0.5], [1.0, 1.5]]), MAX_MIN,
                    np.array([0.0, 2.0]), budgets=(0.75, 1.0, 0.25))


def test_the_hypervolume_of_a_tiny_front_by_hand() -> None:
    # (1, 1.5) is dominated by (3, 1): not on the front.
    assert FRONT.points.tolist() == [[3.0, 1.0], [2.0, 0.5]]
    assert FRONT.hypervolume == pytest.approx(4.0)
    assert hypervolume([[2.0, 0.5]], [0.0, 2.0], MAX_MIN) == pytest.approx(3.0)
    assert hypervolume_gap([[2.0, 0.5]], FRONT) == pytest.approx(0.25)
    # Beyond the reference point (accuracy below 0, or latency above 2): nothing added,
    # where Optuna's own function would refuse the point.
    assert hypervolume_gap([[2.0, 0.5], [-1.0, 0.1], [5.0, 3.0]], FRONT) == pytest.approx(0.25)
    assert hypervolume_gap([], FRONT) == 1.0
    assert hypervolume_gap([[3.0, 1.0], [2.0, 0.5], [1.0, 1.9]], FRONT) == pytest.approx(0.0)
    # Minimised objectives alone: no sign change. One point, a box of 2 x 3.
    assert hypervolume([[1.0, 0.0]], [3.0, 3.0], ("minimize", "minimize")) == pytest.approx(6)
    # Three objectives: (1, 2, 3) maximised, minimised, minimised against (0, 4, 4).
    assert hypervolume([[1.0, 2.0, 3.0]], [0.0, 4.0, 4.0],
                       ("maximize", "minimize", "minimize")) == pytest.approx(2.0)
    assert non_dominated([[1, 1], [1, 1], [0, 0]], MAX_MIN).tolist() == [[1, 1], [0, 0]]


def test_a_front_that_dominates_nothing_has_no_gap() -> None:
    front = ParetoFront(np.array([[-1.0, 1.0]]), MAX_MIN, np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="dominates no volume"):
        hypervolume_gap([[1.0, 1.0]], front)


def test_budget_regret_by_hand() -> None:
    assert FRONT.budget_optima() == [2.0, 3.0, None]
    assert best_within([[2.5, 0.7], [2.9, 0.9]], MAX_MIN, 1, 0.75) == 2.5
    assert budget_regret(3.0, 2.5, maximize=True) == pytest.approx(0.5)
    assert budget_regret(3.0, None, maximize=True) == float("inf")
    assert np.isnan(budget_regret(None, 2.0, maximize=True))
    run = RunResult("s", 0, "n", [[1.0, 0.6], [2.5, 0.9], [9.0, 0.1], None],
                    [True, True, False, False], ["COMPLETE"] * 3 + ["FAIL"], 0.1, 1.0,
                    directions=list(MAX_MIN))
    # The infeasible (9, 0.1) counts nowhere. Within 0.75: 1.0 of 2.0; within 1: 2.5 of 3.
    r = regrets(run, FRONT, 4)
    assert r[:2] == pytest.approx([1.0, 0.5]) and np.isnan(r[2])
    assert regrets(run, FRONT, 1)[1] == pytest.approx(2.0)
    # (1, 0.6) dominates [0, 1] x [0.6, 2], 1.4; with (2.5, 0.9): + 1.5 x 1.1 = 3.05.
    assert gap_curve(run, FRONT) == pytest.approx([0.65, 1 - 3.05 / 4, 1 - 3.05 / 4,
                                                   1 - 3.05 / 4])
    summary = summarise_front([run], FRONT, [2, 4])
    assert summary["hv_gap_at_2"]["median"] == pytest.approx(1 - 3.05 / 4)
    assert summary["regret_at_4_budget_1"]["median"] == pytest.approx(0.5)
    assert "regret_at_4_budget_2" not in summary  # no point of the front within 0.25


def test_the_pooled_front_of_a_run_without_a_true_front() -> None:
    runs = [RunResult("a", 0, "a", [[1.0, 1.0], [3.0, 2.0]], [True, True], ["COMPLETE"] * 2,
                      0.1, 1.0, directions=list(MAX_MIN)),
            RunResult("b", 0, "b", [[2.5, 0.5], [0.5, 3.0], None], [True, True, False],
                      ["COMPLETE", "COMPLETE", "FAIL"], 0.1, 1.0, directions=list(MAX_MIN))]
    front = pooled_front(runs, MAX_MIN)
    assert not front.known
    assert front.points.tolist() == [[3.0, 2.0], [2.5, 0.5]]
    assert front.reference_point.tolist() == [1.75, 1.5]  # the trials' medians
    # Only (2.5, 0.5) is within the reference point: b has all the front's volume.
    assert gap_curve(runs[1], front)[-1] == pytest.approx(0.0)
    assert gap_curve(runs[0], front)[-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no run found a feasible trial"):
        pooled_front([RunResult("c", 0, "c", [None], [False], ["FAIL"], 0.1, 1.0)], MAX_MIN)


# NAS-Bench-201's network for CIFAR-10 (Dong and Yang 2020, its TinyNetwork with
# InferCell), built from the description alone, to hold nb201_params to it.

def _relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2,
                                              bias=False), nn.BatchNorm2d(c_out))


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


def _edge(op: str, c: int) -> nn.Module:
    return {"nor_conv_3x3": lambda: _relu_conv_bn(c, c, 3),
            "nor_conv_1x1": lambda: _relu_conv_bn(c, c, 1),
            "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
            "skip_connect": nn.Identity, "none": _Zero}[op]()


class _Cell(nn.Module):
    def __init__(self, cell: tuple[str, ...], c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_edge(op, c) for op in cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.edges  # |e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|
        n1 = e[0](x)
        n2 = e[1](x) + e[2](n1)
        return e[3](x) + e[4](n1) + e[5](n2)


class _Reduction(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.a = _relu_conv_bn(c_in, c_out, 3, 2)
        self.b = _relu_conv_bn(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2),
                                      nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.b(self.a(x))


def _nb201_network(cell: tuple[str, ...]) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)]
    for stage, c in enumerate((16, 32, 64)):
        if stage:
            layers.append(_Reduction(c // 2, c))
        layers += [_Cell(cell, c) for _ in range(5)]
    layers += [nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(64, 10)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("cell", [
    ("none",) * 6,
    ("nor_conv_3x3",) * 6,
    # The ResNet-like cell: 0.559386 M in NAS-Bench-201.
    ("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "skip_connect"),
    ("nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none"),
])
def test_nb201_params_count_the_benchmarks_network(cell: tuple[str, ...]) -> None:
    net = _nb201_network(cell).eval()
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)  # a network that runs
    assert nb201_params(cell) == sum(p.numel() for p in net.parameters())


def test_nb201_params_span_the_benchmarks_range() -> None:
    # The least and most parameters NAS-Bench-201 lists for CIFAR-10: 0.073306 and
    # 1.531546 M.
    assert nb201_params(("avg_pool_3x3",) * 6) == 73_306
    assert nb201_params(("nor_conv_3x3",) * 6) == 1_531_546
    with pytest.raises(ValueError, match="six operations"):
        nb201_params(("conv",) * 6)


def test_nb201_front_trials_and_front(data_dir: Path) -> None:
    task = make_task("nb201-front:pixel3", data_dir=data_dir)
    assert task.directions == MAX_MIN and task.metric_names == ("accuracy", "latency_ms")
    assert task.constraints == ()
    study = optuna.create_study(directions=task.directions,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    task.record(study)
    study.optimize(task.objective, n_trials=4)
    assert study.metric_names == ["accuracy", "latency_ms"]
    for trial in study.trials:
        assert len(trial.values) == 2 and trial.values[1] == trial.user_attrs["latency_ms"]
        assert trial.user_attrs["params"] == nb201_params(
            tuple(trial.params[f"E{i}"] for i in range(6)))
    front = task.front
    table = load_nb201_hw(data_dir)
    assert front.known and len(front.points) == 37
    assert front.reference_point.tolist() == pytest.approx(
        [np.median(table.accuracy), np.median(table.latency_ms["pixel3"])])
    assert front.budgets == (3.274, 6.441, 10.68, 15.59)  # 10, 25, 50, 75 % quantiles
    # The front's best accuracy is the table's, at the latency of that cell or less.
    assert front.points[:, 0].max() == table.accuracy.max()


def test_nb201_front_under_a_parameter_budget(data_dir: Path) -> None:
    task = make_task("nb201-front:fpga:params=300000", data_dir=data_dir)
    assert [str(c) for c in task.constraints] == ["params <= 300000"]
    study = optuna.create_study(directions=task.directions,
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(task.objective, n_trials=6)
    for trial in study.trials:
        assert trial_violations(trial)["params_max"] == pytest.approx(
            trial.user_attrs["params"] / 300_000 - 1)
    table = load_nb201_hw(data_dir)
    params = np.array([nb201_params(c) for c in table.cells])
    feasible = {(a, l) for a, l, p in zip(table.accuracy, table.latency_ms["fpga"], params)
                if p <= 300_000}
    front = task.front
    # Only cells without a 3x3 convolution fit: the front is theirs, and lower.
    assert all(tuple(p) in feasible for p in front.points)
    unbounded = make_task("nb201-front:fpga", data_dir=data_dir).front
    assert front.hypervolume < unbounded.hypervolume


def test_nas_bench_macro_front_returns_the_counted_metrics(data_dir: Path) -> None:
    task = make_task("nas-bench-macro-front", data_dir=data_dir, notes=False)
    assert task.metric_names == ("accuracy", "params", "macs")
    assert task.space is not None and task.constraints == ()
    study = optuna.create_study(directions=task.directions,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(task.objective, n_trials=4)
    table = load_nas_bench_macro(data_dir)
    from optuna_rena import zoo

    for trial in study.trials:
        code = zoo.nas_bench_macro_code(trial.params)
        counted = ResourceModel().count(zoo.nas_bench_macro(code))
        # Equal to the counted metrics, which the sampler recognises, and to the table's.
        assert trial.values == [table[code]["mean_acc"], counted.params, counted.macs]
        assert trial.values[1:] == [trial.user_attrs["params"], trial.user_attrs["macs"]]
        assert trial.values[1:] == [table[code]["params"], table[code]["flops"]]
    front = task.front
    points = np.array([[r["mean_acc"], r["params"], r["flops"]] for r in table.values()])
    assert front.reference_point.tolist() == pytest.approx(np.median(points, axis=0).tolist())
    assert 0 < len(front.points) < len(points)


def test_digits_front_trains_and_measures_latency() -> None:
    task = make_task("digits-front", epochs=1, device="cpu", notes=False)
    assert task.front is None  # no true front: the benchmark pools the runs'
    study = optuna.create_study(directions=task.directions,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(task.objective, n_trials=1)
    (trial,) = study.trials
    accuracy, latency = trial.values
    assert 0 <= accuracy <= 1 and latency > 0
    assert trial.user_attrs["latency_ms"] == latency


@pytest.mark.parametrize("name,flags,message", [
    ("nb201-front:tpu", [], "unknown device 'tpu'"),
    ("nb201-front:pixel3:params=many", [], "with MAX a positive number of parameters, got "
                                           "'params=many'"),
    ("nb201-front:pixel3:flops=5", [], "got 'flops=5'"),
    ("nb201-front:pixel3", ["--max-params", "5"], "sets its own constraints (none); the "
                                                  "constraint flags do not apply"),
    ("nb201-front:pixel3:params=3e5", ["--max-latency-ms", "5"],
     "sets its own constraints (params <= MAX, from its name)"),
    ("nas-bench-macro-front", ["--max-macs", "5"], "params and MACs are objectives"),
    ("digits-front", ["--max-latency-ms", "5"], "minimises latency_ms as an objective"),
])
def test_bad_multi_objective_tasks(name: str, flags: list[str], message: str, tmp_path: Path,
                                   data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["benchmark", "--task", name, "--data-dir", str(data_dir), "--trials", "2",
            "--storage", f"journal:{tmp_path / 'b.log'}", "--out", str(tmp_path / "o"),
            "--no-progress", *flags]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("optuna-rena benchmark: error: ") and message in line, line
    assert not (tmp_path / "o").exists()


# Until the resource figures draw studies of several objectives, saving them warns.
@pytest.mark.filterwarnings("ignore:the resource figures of")
def test_the_benchmark_of_a_front(tmp_path: Path, data_dir: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["benchmark", "--task", "nb201-front:pixel3", "--samplers", "random", "tpe",
            "--seeds", "2", "--trials", "10", "--data-dir", str(data_dir),
            "--storage", f"journal:{tmp_path / 'b.log'}", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    md = (out / "results.md").read_text()
    assert md.strip() in printed
    assert {p.name for p in out.iterdir()} == {"results.json", "results.md", "curves.png",
                                               "curves.html"}
    for text in ("objectives: accuracy (maximize), latency_ms (minimize)",
                 "reference point: accuracy 72.278, latency_ms 10.6756",
                 "latency_ms <= 3.274 (best accuracy 78.792)",
                 "| sampler | seeds | hv gap @10 |",
                 "| sampler | latency_ms <= 3.274 @10 |", "the true front"):
        assert text in md, text
    report = json.loads((out / "results.json").read_text())
    assert report["directions"] == list(MAX_MIN) and report["front"]["known"]
    assert set(report["summary"]) == {"random", "tpe"}
    for run in report["runs"]:
        assert len(run["hv_gap"]) == 10 and all(len(v) == 2 for v in run["values"])
        assert run["hv_gap"] == sorted(run["hv_gap"], reverse=True)  # never worse
    figures = report["summary"]["random"]
    assert set(figures["hv_gap_at_10"]) == {"median", "q1", "q3", "none"}
    assert {f"regret_at_10_budget_{i}" for i in range(4)} <= set(figures)
    for name in optuna.get_all_study_names(optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "b.log")))):
        assert name.startswith("nb201-front:pixel3:")


def test_a_continued_study_with_other_directions_is_refused(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(storage=storage, study_name="s", directions=["minimize", "minimize"])
    argv = ["search", "--task", "nb201-front:pixel3", "--data-dir", str(data_dir),
            "--storage", storage, "--study-name", "s", "--trials", "1", "--no-progress"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == ("optuna-rena search: error: the study 's' was made to minimize objective "
                    "0, minimize objective 1, and this run's objective has the directions "
                    "['maximize', 'minimize']; a study keeps its directions. Give another "
                    "--study-name.")
    assert optuna.load_study(study_name="s", storage=storage).trials == []
    # A study of one objective, and a task of two: its recorded task says so first.
    study = optuna.create_study(direction="maximize")
    make_task("nb201:pixel3:2.5", data_dir=data_dir).record(study)
    with pytest.raises(ValueError, match="searched nb201:pixel3:2.5 for .*, and this run asks "
                                         "for nb201-front:pixel3 for 'accuracy, latency_ms'"):
        make_task("nb201-front:pixel3", data_dir=data_dir).record(study)
    # Without a recorded task (another program's study), the directions still differ.
    study = optuna.create_study(direction="maximize")
    with pytest.raises(ValueError, match=r"was made to maximize objective 0, and this run's "
                                         r"objective has the directions \['maximize', "
                                         r"'minimize'\]"):
        record_budget(study, [], None, task="t", directions=MAX_MIN)


def test_a_minimised_objective_of_one_value_is_recorded_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The study's directions are checked against the task's: a user's objective that the
    # benchmark minimises must be recorded as minimised, not refused.
    (tmp_path / "pareto_loss.py").write_text(
        "def objective(trial):\n    return trial.suggest_float('x', 0.0, 1.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    storage = f"journal:{tmp_path / 'b.log'}"
    argv = ["benchmark", "--task", "pareto_loss:objective", "--direction", "minimize",
            "--samplers", "random", "--seeds", "1", "--trials", "2", "--storage", storage,
            "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["direction"] == "minimize" and report["runs"][0]["maximize"] is False
