"""The resource figures, for any sampler's study, and the offline report that draws them;
of a multi-objective study, its feasible front and the best network within each budget."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
import re
import warnings

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
import pytest

from optuna_rena import Constraint
from optuna_rena import RenaSampler
from optuna_rena import set_constraint
from optuna_rena import trial_violations
from optuna_rena import zoo
from optuna_rena._budget import study_budget
from optuna_rena._constraints import is_feasible
from optuna_rena._front import best_within_budgets
from optuna_rena._front import feasible_front
from optuna_rena._report import best_feasible_report
from optuna_rena._report import study_note
from optuna_rena._report import trial_line
from optuna_rena._tasks import DEFAULT_CONSTRAINTS
from optuna_rena._tasks import make_task
from optuna_rena.cli import main
from optuna_rena.visualization import DashboardFigures
from optuna_rena.visualization import plot_best_feasible
from optuna_rena.visualization import plot_pareto_front
from optuna_rena.visualization import resource_figures

from helpers import DIGITS_FLOPS
from helpers import DIGITS_HEAVY
from helpers import front_study
from helpers import macro_objective
from helpers import macro_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

_FEASIBLE = {f"L{i}.variant": "remove" for i in range(1, 9)}
_HEAVY = {f"L{i}.variant": "kernel=5,expansion=6" for i in range(1, 9)}


def _tpe_study(storage: str | None = None, name: str | None = None) -> optuna.Study:
    study = optuna.create_study(direction="maximize", storage=storage, study_name=name,
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.enqueue_trial(_FEASIBLE)
    study.enqueue_trial(_HEAVY)
    study.optimize(macro_objective(macro_space()), n_trials=14)
    return study


def _trace(figure, name: str):  # noqa: ANN001, ANN202 - plotly's own types
    (trace,) = [t for t in figure.data if t.name == name or t.name.startswith(name)]
    return trace


def test_figures_of_a_tpe_study_mark_feasibility_and_the_budget() -> None:
    study = _tpe_study()
    figures = resource_figures(study)
    assert list(figures) == ["objective-vs-params", "objective-vs-macs", "pareto-front",
                             "best-feasible"]
    feasible = {t.number for t in study.trials if is_feasible(trial_violations(t))}
    assert 0 < len(feasible) < len(study.trials)
    scatter = figures["objective-vs-params"]
    assert len(_trace(scatter, "feasible").x) == len(feasible)
    assert len(_trace(scatter, "infeasible").x) == len(study.trials) - len(feasible)
    assert sorted(_trace(scatter, "infeasible").x) == sorted(
        t.user_attrs["params"] for t in study.trials if t.number not in feasible)
    assert list(_trace(scatter, "budget").x) == [600_000, 600_000]
    assert _trace(scatter, "budget").name == "budget: params <= 600k"
    # The best feasible line ends at Optuna's own best trial, and never goes down.
    best = _trace(figures["best-feasible"], "best feasible so far")
    assert best.y[-1] == study.best_trial.value
    assert list(best.y) == sorted(best.y)


def test_pareto_front_has_no_dominated_trial() -> None:
    study = _tpe_study()
    figure = plot_pareto_front(study, ["params", "compute_intensity"])
    # A menu picks the resource; the first is shown.
    menu = figure.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["params", "compute_intensity"]
    fronts = [t for t in figure.data if t.name == "Pareto front of the feasible trials"]
    assert [t.visible for t in fronts] == [True, False]
    points = [(t.user_attrs["params"], t.value) for t in study.trials
              if is_feasible(trial_violations(t))]
    front = list(zip(fronts[0].x, fronts[0].y))
    for x, y in front:
        assert not any(px <= x and py >= y and (px, py) != (x, y) for px, py in points)
    assert max(y for _, y in front) == max(y for _, y in points)
    # compute_intensity is better high (its usual bound is a minimum): the front runs down.
    intensity = list(zip(fronts[1].x, fronts[1].y))
    assert [x for x, _ in intensity] == sorted((x for x, _ in intensity), reverse=True)


def test_the_pareto_front_of_one_objective_is_of_the_feasible_trials() -> None:
    # Trial 1 is the heaviest child: the best score, far over the budget. The front's line
    # ran through it, past the budget line.
    study = _tpe_study()
    figure = plot_pareto_front(study, ["params", "macs"])
    feasible = {t.number for t in study.trials if is_feasible(trial_violations(t))}
    assert 1 not in feasible and study.trials[1].value > study.best_value

    def numbers(trace) -> set[int]:  # noqa: ANN001 - plotly's own type
        return {int(text.split("<br>")[0].split()[1]) for text in trace.text}

    for metric, limit in (("params", 600_000), ("macs", 25_000_000)):
        traces = _visible(figure, metric)
        front = traces["Pareto front of the feasible trials"]
        assert front.mode == "lines+markers" and numbers(front) <= feasible
        assert max(front.x) <= limit  # the line stops at the budget
        assert max(front.y) == study.best_value  # and reaches Optuna's best feasible
        # Infeasible trials are drawn apart: grey crosses, never on the line.
        infeasible = traces["infeasible"]
        assert infeasible.marker.symbol == "x" and infeasible.mode == "markers"
        assert numbers(infeasible) == {t.number for t in study.trials} - feasible
        assert not numbers(infeasible) & numbers(front)
        assert numbers(traces["feasible"]) == feasible


def test_figures_of_a_plain_objective_and_an_unrecorded_budget() -> None:
    energy = Constraint("energy_mj", max=5.0, user=True)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 10.0)
        energy.set(trial, x)  # a metric and its bound, so the budget line is known
        set_constraint(trial, "y_max", x / 8 - 1)  # a value only: drawn against 0
        return x

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=20)
    assert study.user_attrs == {}  # nothing recorded: the trials tell the budget
    assert study_budget(study) == (energy,)
    figures = resource_figures(study)
    assert list(figures) == ["objective-vs-energy_mj", "objective-vs-y_max", "pareto-front",
                             "best-feasible"]
    assert list(_trace(figures["objective-vs-energy_mj"], "budget").x) == [5.0, 5.0]
    assert list(_trace(figures["objective-vs-y_max"], "budget").x) == [0.0, 0.0]
    assert _trace(figures["best-feasible"], "best feasible so far").y[-1] == (
        study.best_trial.value)


def test_report_writes_an_offline_page_and_pngs(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'report.db'}"
    _tpe_study(storage, "tpe").ask()  # a trial still RUNNING: a live worker's or a killed one
    out = tmp_path / "report"
    assert main(["report", "--storage", storage, "--out", str(out)]) == 0
    printed, err = capsys.readouterr()
    assert re.fullmatch(
        r"optuna-rena report: warning: the study 'tpe' has 1 RUNNING trial, not drawn: "
        r"trial 14 \(started [\d: -]+, \d+ s ago\); a live worker's, or a killed run's: if "
        r"no process runs this study, optuna-rena search --fail-running-trials marks them "
        r"FAIL\.\n", err), err
    names = {p.name for p in out.iterdir()}
    assert names == {"report.html", "objective-vs-params.png", "objective-vs-macs.png",
                     "best-feasible.png", *(f"pareto-front-{m}.png" for m in (
                         "params", "macs", "flops", "bytes", "compute_intensity"))}
    assert str(out / "report.html") in printed
    page = (out / "report.html").read_text()
    # plotly.js is inside: no script is fetched (from a CDN or anywhere).
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert len(page) > 3_000_000 and page.count('class="plotly-graph-div"') == 4
    assert "<li>1 RUNNING, not drawn: trial 14 (started " in page
    for name in names - {"report.html"}:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Two studies: the one to draw is asked for.
    _tpe_study(storage, "other")
    assert main(["report", "--storage", storage, "--out", str(out)]) == 2
    assert "holds 2 studies; name one with --study-name: tpe, other" in capsys.readouterr().err


def _feasible(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.trials if is_feasible(trial_violations(t))]


def _dominates(a: FrozenTrial, b: FrozenTrial, directions: Sequence[StudyDirection]) -> bool:
    signs = [1 if d == StudyDirection.MAXIMIZE else -1 for d in directions]
    better = [s * x >= s * y for s, x, y in zip(signs, a.values, b.values)]
    return all(better) and a.values != b.values


def test_the_front_is_of_the_feasible_trials() -> None:
    study = front_study(optuna.samplers.RandomSampler(seed=0))
    feasible = _feasible(study)
    assert 0 < len(feasible) < len(study.trials)
    expected = {t.number for t in feasible
                if not any(_dominates(o, t, study.directions) for o in feasible)}
    front = feasible_front(study)
    assert {t.number for t in front} == expected == {t.number for t in study.best_trials}
    assert [t.values[0] for t in front] == sorted((t.values[0] for t in front), reverse=True)
    # The trials' own front would hold infeasible ones: the best scores break the budget.
    everyone = {t.number for t in study.trials
                if not any(_dominates(o, t, study.directions) for o in study.trials)}
    assert everyone - expected
    # A budget asked is checked again on the trials' metrics, whatever they recorded.
    tighter = feasible_front(study, [Constraint("flops", max=60_000)])
    assert tighter and all(t.user_attrs["flops"] <= 60_000 for t in tighter)
    assert {t.number for t in tighter} != expected


def test_the_best_within_each_budget_is_the_best_feasible_trial_within_it() -> None:
    study = front_study(optuna.samplers.RandomSampler(seed=1), 30,
                        objectives=("params", "bytes"))
    feasible = _feasible(study)
    front, picks = best_within_budgets(study)
    on_front = {t.number for t in front}
    # By default the 25, 50 and 75 % quantiles of the front on each axis, tightest first,
    # in three digits, never tighter than the quantile.
    for axis, name in ((1, "params"), (2, "bytes")):
        limits = [p.budget.limit for p in picks if p.budget.name == name]
        quantiles = np.quantile([t.values[axis] for t in front], [0.25, 0.5, 0.75])
        assert limits == sorted(limits) and len(limits) == 3
        for limit, q in zip(limits, quantiles):
            assert q <= limit <= q * 1.01 and float(f"{limit:.3g}") == limit
    for pick in picks:
        axis = pick.budget.axis
        within = [t for t in feasible if t.values[axis] <= pick.budget.limit]
        assert pick.trial is not None and pick.trial.number in on_front
        assert pick.trial.values[0] == max(t.values[0] for t in within)
        assert pick.trial.values[axis] <= pick.budget.limit
    # Budgets given, by name or by the objective's index; none within the first.
    _, given = best_within_budgets(study, {"params": [1e9, 1], "2": [60_000]})
    assert [str(p.budget) for p in given] == [
        "params <= 1", "params <= 1e+09", "bytes <= 60000"]
    assert given[0].trial is None
    assert given[1].trial is not None and given[1].trial.values[0] == max(
        t.values[0] for t in feasible)
    assert given[2].trial is not None and given[2].trial.values[0] == max(
        t.values[0] for t in feasible if t.values[2] <= 60_000)


@pytest.fixture(scope="module")
def small_front() -> optuna.Study:
    return front_study(optuna.samplers.RandomSampler(seed=0), 8, study_name="mo")


@pytest.mark.parametrize("budgets, message", [
    ({"latency_ms": [2]}, "the study 'mo' has no objective 'latency_ms'; a budget bounds one "
                          "of its budget axes: params (objective 1)."),
    ({"accuracy": [2]}, "'accuracy' is the quality of the study 'mo' (its first objective), "
                        "which the best network within a budget maximises; a budget bounds "
                        "one of its budget axes: params (objective 1)."),
    ({"params": []}, "the budgets on params must be a list of numbers, got []."),
    ({"params": [float("nan")]}, "a budget on params must be a finite number, got nan."),
    ({"params": [1], "1": [2]}, "the budgets on params are given twice ('1')"),
])
def test_a_budget_the_study_cannot_have_is_refused(small_front: optuna.Study,
                                                   budgets: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        resource_figures(small_front, budgets=budgets)
    with pytest.raises(ValueError, match=re.escape(message)):
        best_feasible_report(small_front, (), budgets)


def test_one_objective_takes_no_budgets_and_several_have_no_best_so_far(
        small_front: optuna.Study) -> None:
    study = _tpe_study()
    message = ("a budget bounds an objective of a multi-objective study, beside its quality; "
               f"the study {study.study_name!r} has one objective (mean accuracy (%)): its "
               "budget is its constraints.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["mean accuracy (%)"])
    for draw in (resource_figures, plot_pareto_front):
        with pytest.raises(ValueError, match=re.escape(message)):
            draw(study, budgets={"params": [1]})
    with pytest.raises(ValueError, match="the study 'mo' has 2 objectives: plot_pareto_front"):
        plot_best_feasible(small_front)


def _visible(figure, axis: str) -> dict:  # noqa: ANN001 - plotly's own types
    """The traces that the menu shows for ``axis``, by name."""
    (button,) = [b for b in figure.layout.updatemenus[0].buttons if b.label == axis]
    shown = button.args[0]["visible"]
    return {t.name: t for t, v in zip(figure.data, shown) if v}


def test_figures_of_several_objectives_draw_the_front_and_the_budgets() -> None:
    study = front_study(optuna.samplers.RandomSampler(seed=1), 30,
                        objectives=("params", "bytes"))
    figures = resource_figures(study)
    assert list(figures) == ["objective-vs-flops", "pareto-front", "best-within-budgets"]
    front, picks = best_within_budgets(study)
    feasible = _feasible(study)
    figure = figures["pareto-front"]
    assert [b.label for b in figure.layout.updatemenus[0].buttons] == ["params", "bytes"]
    for axis, name in ((1, "params"), (2, "bytes")):
        traces = _visible(figure, name)
        drawn_front = traces[f"Pareto front ({len(front)} trials)"]
        assert sorted(drawn_front.x) == sorted(t.values[axis] for t in front)
        assert len(traces["feasible"].x) + len(front) == len(feasible)  # grey, or on the front
        assert sorted(traces["infeasible"].x) == sorted(
            t.values[axis] for t in study.trials if not is_feasible(trial_violations(t)))
        # The step line: the best accuracy within a budget on this axis, from the front.
        steps = list(zip(traces["best accuracy within a budget"].x,
                         traces["best accuracy within a budget"].y))
        assert steps == sorted(steps) and set(steps) <= set(zip(drawn_front.x, drawn_front.y))
        # Each budget as a line, named with its best network, which is a star.
        mine = [p for p in picks if p.budget.axis == axis]
        lines = [t for n, t in traces.items() if n.startswith("budget: ")]
        assert [list(t.x) for t in lines] == [[p.budget.limit] * 2 for p in mine]
        assert all(f": trial {p.trial.number}" in t.name for t, p in zip(lines, mine))
        stars = traces["best within each budget"]
        assert list(zip(stars.x, stars.y)) == [(p.trial.values[axis], p.trial.values[0])
                                               for p in mine]
    table = figures["best-within-budgets"].data[0]
    header = [h.replace("<b>", "").replace("</b>", "").replace("<br>", "")
              for h in table.header.values]
    assert header[:5] == ["budget", "trial", "accuracy", "params", "bytes"]
    assert header[-1] == "layers" and "flops" in header and "macs" not in header
    columns = dict(zip(header, table.cells.values))
    assert list(columns["trial"]) == [str(p.trial.number) for p in picks]
    assert all(cell.startswith("conv2d filters=") or cell.startswith("max_pool2d")
               for cell in columns["layers"])


def test_the_closing_report_of_several_objectives_names_the_front_and_the_budgets() -> None:
    study = front_study(optuna.samplers.RandomSampler(seed=0), names=False)
    text = best_feasible_report(study, (DIGITS_FLOPS,), {"objective 1": [5000, 1]})
    front, picks = best_within_budgets(study, {"1": [5000, 1]})
    lines = text.splitlines()
    assert lines[1] == (f"Pareto front: {len(front)} of {len(_feasible(study))} feasible "
                        "trials (24 complete); objective 0 (maximised) against objective 1 "
                        "(minimised)")
    assert lines[3] == "best objective 0 within each budget (as given):"
    assert lines[5].startswith("| budget | trial | objective 0 | objective 1 | params |")
    assert lines[7] == "| objective 1 <= 1 | none within |" + "  |" * (
        lines[5].count("|") - 3)
    best = picks[1].trial
    # A count of parameters whole (not 4.814e+03).
    assert lines[8].startswith(f"| objective 1 <= 5k | {best.number} | {best.values[0]:.4g} | "
                               f"{int(best.values[1])} | ")
    assert f"trial {best.number}, best within objective 1 <= 5k:" in lines
    assert "| # | layer | hyperparameters | output | params | FLOPs | bytes | FLOPs/byte |" in (
        lines)
    assert lines[-1].startswith("- flops: ") and lines[-1].endswith(" against <= 250k: met")
    # A plain objective of two values, no network, no constraint: the table says it all.
    plain = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    plain.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)),
                   n_trials=6)
    text = best_feasible_report(plain, ())
    assert "| budget | trial | objective 0 | objective 1 |" in text
    assert "best within" not in text.rpartition("|")[2]
    # No trial is feasible: said in one line.
    none = front_study(optuna.samplers.RandomSampler(seed=0), 3)
    assert best_feasible_report(none, (Constraint("flops", max=1),)) == (
        "\nno feasible architecture among 3 trials (3 complete); loosen the constraints or "
        "run more trials.")


def test_a_search_line_of_several_objectives_names_each_value() -> None:
    study = front_study(optuna.samplers.RandomSampler(seed=0), 2,
                        objectives=("params", "bytes"), enqueued=[DIGITS_HEAVY])
    heavy, light = study.trials
    names = ["accuracy", "params", "bytes"]
    assert trial_line(heavy, names, [DIGITS_FLOPS]) == (
        f"trial 0: infeasible, accuracy {heavy.values[0]:.4g}, params 416301, bytes "
        f"{int(heavy.values[2])}, flops 3.67M (over budget: flops +1370%)")
    assert trial_line(light, names, [DIGITS_FLOPS]).startswith(
        f"trial 1: feasible, accuracy {light.values[0]:.4g}, params {int(light.values[1])}, ")
    # One name (a caller of one objective's): the others are numbered.
    assert trial_line(light, "accuracy", [DIGITS_FLOPS]).startswith(
        f"trial 1: feasible, accuracy {light.values[0]:.4g}, objective 1 "
        f"{int(light.values[1])}, objective 2 {int(light.values[2])}, flops ")


def test_a_study_note_of_several_objectives() -> None:
    note = study_note(["accuracy", "latency_ms"], [True, False], [DIGITS_FLOPS], None, None)
    assert note.splitlines()[0] == "### accuracy (maximised) against latency_ms (minimised)"
    assert "the best accuracy within each budget with its network" in note
    assert "The plain `optuna-dashboard`'s card ignores constraints: it lists the front of " \
           "every trial, feasible or not." in note
    with pytest.raises(ValueError, match=r"one direction per objective; got 2 names"):
        study_note(["accuracy", "latency_ms"], [True], (), None, None)


@pytest.mark.parametrize("task,card", [
    ("nas-bench-macro", "*Best Trial* card shows the best feasible trial"),
    ("nas-bench-macro-plain", "*Best Trial* card shows the best feasible trial"),
    ("nas-bench-macro-front", "*Best Trials* card lists the feasible Pareto front"),
])
def test_a_tasks_study_note_sends_a_person_to_optuna_rena_dashboard(
        task: str, card: str, data_dir: Path) -> None:
    # The note that search and benchmark write, of one objective or several: the plain
    # optuna-dashboard's card can name an infeasible trial the best.
    from optuna_dashboard import get_note

    made = make_task(task, data_dir=data_dir)
    study = optuna.create_study(directions=list(made.directions))
    made.record(study)
    note = get_note(study)
    first = note.split("\n\n")[1]  # after the title, before the budget
    assert first.startswith("**Best Trial") and card in first, note
    assert "open this storage with `optuna-rena dashboard STORAGE`" in first
    assert "The plain `optuna-dashboard`'s card ignores constraints" in first


@pytest.mark.parametrize("sampler", ["random", "rena"])
def test_report_of_several_objectives(sampler: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'front.db'}"
    study = front_study(optuna.samplers.RandomSampler(seed=0) if sampler == "random"
                        else RenaSampler(seed=0), 16, storage=storage, study_name="front")
    out = tmp_path / "report"
    assert main(["report", "--storage", storage, "--out", str(out),
                 "--budget", "params=5000,20000"]) == 0
    printed = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {
        "report.html", "objective-vs-flops.png", "pareto-front.png", "best-within-budgets.png"}
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    front, picks = best_within_budgets(study, {"params": [5000, 20_000]})
    assert (f"Pareto front: {len(front)} of {len(_feasible(study))} feasible trials (16 "
            "complete); accuracy (maximised) against params (minimised)") in printed
    for pick in picks:
        number = pick.trial.number if pick.trial is not None else "none within"
        assert f"| {'params <= 5k' if pick.budget.limit == 5000 else 'params <= 20k'} | " \
               f"{number} |" in printed
    assert printed.count("| # | layer |") == len({p.trial.number for p in picks if p.trial})
    page = (out / "report.html").read_text()
    assert f"<li>Pareto front: {len(front)} feasible trials, accuracy (the quality) against " \
           "params</li>" in page
    assert page.count('class="plotly-graph-div"') == 3
    # A budget on an objective that the study does not have: one line, nothing written.
    assert main(["report", "--storage", storage, "--out", str(tmp_path / "no"),
                 "--budget", "latency_ms=2"]) == 2
    assert capsys.readouterr().err == (
        "optuna-rena report: error: the study 'front' has no objective 'latency_ms'; a "
        "budget bounds one of its budget axes: params (objective 1).\n")
    assert not (tmp_path / "no").exists()
    assert main(["report", "--storage", storage, "--out", str(tmp_path / "no"),
                 "--budget", "params=1", "--budget", "params=2"]) == 2
    assert capsys.readouterr().err == (
        "optuna-rena report: error: --budget params is given twice; give its budgets once, "
        "as one list: --budget params=B1,B2,...\n")
    with pytest.raises(SystemExit):
        main(["report", "--storage", storage, "--budget", "params=1,x"])
    assert "expected OBJECTIVE=B1,B2,... (latency_ms=2,4,8), got 'params=1,x'" in (
        capsys.readouterr().err)


def test_a_users_study_records_its_budget_and_figures_as_a_search_does(
        tmp_path: Path, data_dir: Path) -> None:
    # The README's "Search with RenaSampler", on the space and budget of a search's task.
    from optuna_dashboard import get_note

    storage = f"sqlite:///{tmp_path / 'own.db'}"
    assert main(["search", "--task", "nas-bench-macro", "--data-dir", str(data_dir),
                 "--trials", "2", "--storage", storage, "--study-name", "cli", "--seed", "0",
                 "--no-progress"]) == 0
    space = zoo.nas_bench_macro_space(DEFAULT_CONSTRAINTS["nas-bench-macro"])
    study = optuna.create_study(storage=storage, study_name="own", direction="maximize",
                                sampler=RenaSampler(seed=0))
    space.record(study, "mean accuracy (%)")
    figures = DashboardFigures(every=10)
    study.optimize(macro_objective(space), n_trials=2, callbacks=[figures])
    figures.refresh(study)
    cli = optuna.load_study(study_name="cli", storage=storage)
    # The same budget and space (a script has no task name), names, note and figures.
    assert study.user_attrs == {k: v for k, v in cli.user_attrs.items()
                                if k not in ("task", "objective")}
    assert set(study.user_attrs) == {"constraints", "space", "space_summary"}
    assert study.metric_names == cli.metric_names == ["mean accuracy (%)"]
    assert get_note(study) == get_note(cli) != ""

    def drawn(s: optuna.Study) -> set[str]:
        attrs = s._storage.get_study_system_attrs(s._study_id)
        return {k.split(":")[2] for k in attrs if k.startswith("dashboard:plot_data:")}

    assert drawn(study) == drawn(cli) == {"objective-vs-params", "objective-vs-macs",
                                          "pareto-front", "best-feasible"}
    # A continued run under another budget is refused, as a search's is.
    with pytest.raises(ValueError, match="was searched under params <= 600000"):
        zoo.nas_bench_macro_space([Constraint("params", max=1e6)]).record(
            optuna.load_study(study_name="own", storage=storage), "mean accuracy (%)")
    with pytest.raises(ValueError, match="has 1 objective; got 2 names"):
        space.record(study, ["accuracy", "params"])
