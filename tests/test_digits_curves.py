"""The ``digits-curves`` task: its learning-curve table (our own training runs), its
trials' reports under a pruner, and the benchmark's ``--pruner``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from scipy.stats import spearmanr

from optuna_rena import Constraint
from optuna_rena import zoo
from optuna_rena._benchmark import run_benchmark
from optuna_rena._space import ArchitectureSpace
from optuna_rena._space import every_params
from optuna_rena._tabular import check_curve_table
from optuna_rena._tasks import DEFAULT_CONSTRAINTS
from optuna_rena._tasks import make_task
from optuna_rena.cli import main
from optuna_rena.datasets import load_digits_curves


def test_every_params_walks_each_child_once() -> None:
    macro = zoo.nas_bench_macro_space(notes=False)
    codes = [zoo.nas_bench_macro_code(p) for p in every_params(macro.decisions)]
    assert len(codes) == len(set(codes)) == 3 ** 8
    space = zoo.digits_curves_space(notes=False)
    params = every_params(space.decisions)
    # A removed layer asks no scale factor: 3 x (1 + 3 filters x 2 kernels) choices.
    assert len(params) == 7 ** 3
    assert len({space.child(p) for p in params}) == 7 ** 3
    with pytest.raises(ValueError, match="more than 100 children"):
        every_params(space.decisions, limit=100)


def test_the_tables_rows_are_the_spaces_children() -> None:
    table = load_digits_curves()
    space = zoo.digits_curves_space(notes=False)
    assert table.epochs == 12 and table.fingerprint == space.decisions_fingerprint
    check_curve_table(table, space, zoo.digits_curves_key)  # raises if not
    for params in every_params(space.decisions):
        row = table.rows[zoo.digits_curves_key(params)]
        assert row["decisions"] == params
        # The resources a search records for the child are the table's.
        counted = space.resource_model.count(space.child(params)).as_dict()
        assert row["resources"] == pytest.approx({m: counted[m] for m in row["resources"]})


def test_the_table_is_a_search_problem_whose_curves_cross() -> None:
    table = load_digits_curves()
    rows = list(table.rows.values())
    curves = np.array([r["accuracy"] for r in rows])
    feasible = [not any(c.violation(r["resources"][c.metric]) > 0
                        for c in DEFAULT_CONSTRAINTS["digits-curves"]) for r in rows]
    assert 20 <= sum(feasible) <= 100  # the budget binds, and leaves a choice
    # The second epoch's ranking is not the last's: early stopping can be wrong.
    rho = spearmanr(curves[:, 1], curves[:, -1]).statistic
    assert rho < 0.9
    assert np.argmax(curves[:, 1]) != np.argmax(curves[:, -1])


def test_the_task_reports_each_epoch_and_a_median_pruner_prunes() -> None:
    task = make_task("digits-curves", notes=False)
    table = load_digits_curves()
    finals = [r["accuracy"][-1] for r in table.rows.values()
              if all(c.violation(r["resources"][c.metric]) <= 0 for c in task.constraints)]
    assert task.optimum == max(finals)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))
    task.record(study)
    study.optimize(task.objective, n_trials=30)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.PRUNED in states
    assert optuna.trial.TrialState.COMPLETE in states
    for t in study.trials:
        curve = table.rows[zoo.digits_curves_key(t.params)]["accuracy"]
        reported = [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
        # What a trial reported is its child's curve, cut where the pruner stopped it.
        assert reported == curve[:len(reported)]
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.value == curve[-1] and len(reported) == table.epochs
        else:
            # The first epoch is never judged; the last is, as fit() judges it.
            assert 2 <= len(reported) <= table.epochs
        assert t.user_attrs["params"] == table.rows[zoo.digits_curves_key(t.params)][
            "resources"]["params"]


def test_the_task_refuses_what_the_table_cannot_answer() -> None:
    with pytest.raises(ValueError, match="counted metrics only"):
        make_task("digits-curves", constraints=[Constraint("latency_ms", max=1.0)])
    # A table made for one space does not answer another's trials.
    other = ArchitectureSpace(zoo.digits_cnn(), scale_factors={"filters": (0.5, 1.0)},
                              layers=(0, 1, 2), max_inserts=0, notes=False)
    with pytest.raises(ValueError, match="made for the space"):
        check_curve_table(load_digits_curves(), other, zoo.digits_curves_key)


def _benchmark(tmp_path: Path, pruner: str | None, samplers: list[str],
               trials: int) -> dict[str, object]:
    out = tmp_path / f"out-{pruner}"
    argv = ["benchmark", "--task", "digits-curves", "--samplers", *samplers,
            "--trials", str(trials), "--seeds", "1", "--storage",
            f"journal:{tmp_path / f'{pruner}.log'}", "--out", str(out), "--no-progress"]
    assert main(argv + (["--pruner", pruner] if pruner else [])) == 0
    return json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_the_benchmark_passes_its_pruner_to_every_study(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    median = _benchmark(tmp_path, "median", ["random", "tpe"], 20)
    out = capsys.readouterr().out
    assert "- pruner: median (MedianPruner(n_startup_trials=5, n_warmup_steps=1))" in out
    assert median["pruner"].startswith("median (MedianPruner(")
    assert median["optimum"] == make_task("digits-curves").optimum
    for run in median["runs"]:
        assert "PRUNED" in run["states"]
    assert all(m["pruned_fraction"]["median"] > 0 for m in median["summary"].values())
    hyperband = _benchmark(tmp_path, "hyperband", ["random"], 20)
    assert hyperband["pruner"] == "hyperband (HyperbandPruner())"
    assert "PRUNED" in hyperband["runs"][0]["states"]
    # By default nothing is pruned: Optuna's own default would be a MedianPruner.
    plain = _benchmark(tmp_path, None, ["random"], 20)
    assert plain["pruner"] == "none (NopPruner())"
    assert set(plain["runs"][0]["states"]) == {"COMPLETE"}


def test_a_pruner_for_several_objectives_is_refused(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(ValueError, match="cannot prune"):
        run_benchmark("nas-bench-macro-front", ["random"], 1, 2, storage=None,
                      out_dir=tmp_path, task_options={"data_dir": str(data_dir)},
                      pruner="median")
    with pytest.raises(ValueError, match="unknown pruner"):
        run_benchmark("digits-curves", ["random"], 1, 2, storage=None, out_dir=tmp_path,
                      pruner="asha")
