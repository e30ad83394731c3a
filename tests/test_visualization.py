"""The resource figures, for any sampler's study, and the offline report that draws them."""

from __future__ import annotations

from pathlib import Path
import re

import optuna
import pytest

from optuna_rena import Constraint
from optuna_rena import set_constraint
from optuna_rena import trial_violations
from optuna_rena._budget import study_budget
from optuna_rena._constraints import is_feasible
from optuna_rena.cli import main
from optuna_rena.visualization import plot_pareto_front
from optuna_rena.visualization import resource_figures

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
    fronts = [t for t in figure.data if t.name == "Pareto front"]
    assert [t.visible for t in fronts] == [True, False]
    points = [(t.user_attrs["params"], t.value) for t in study.trials]
    front = list(zip(fronts[0].x, fronts[0].y))
    for x, y in front:
        assert not any(px <= x and py >= y and (px, py) != (x, y) for px, py in points)
    assert max(y for _, y in front) == max(y for _, y in points)
    # compute_intensity is better high (its usual bound is a minimum): the front runs down.
    intensity = list(zip(fronts[1].x, fronts[1].y))
    assert [x for x, _ in intensity] == sorted((x for x, _ in intensity), reverse=True)


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


def test_figures_refuse_several_objectives() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0), n_trials=2)
    with pytest.raises(ValueError, match="single-objective"):
        resource_figures(study)


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
