"""optuna-dashboard, started for real on a loopback port, shows what the search wrote."""

from __future__ import annotations

import base64
from collections.abc import Callable
from collections.abc import Iterator
import json
import os
from pathlib import Path
import shutil
import subprocess
import time
from typing import Any
import urllib.request
import wsgiref.util

import optuna
import pytest

from optuna_rena import ArchitectureSpace
from optuna_rena import Constraint
from optuna_rena import mirror_constraints_for_dashboard
from optuna_rena import RenaSampler
from optuna_rena import ResourceModel
from optuna_rena import set_constraint
from optuna_rena import trial_violations
from optuna_rena import zoo
from optuna_rena._benchmark.runner import run_one
from optuna_rena._constraints import is_feasible
from optuna_rena._dashboard import dashboard_storage
from optuna_rena._dashboard import feasible_best_trials
from optuna_rena._front import best_within_budgets
from optuna_rena._front import feasible_front
from optuna_rena._offline_report import write_report
from optuna_rena._space import run_decisions
from optuna_rena._storage import open_storage
from optuna_rena._tasks import make_task
from optuna_rena.visualization import save_to_dashboard

from helpers import console_script
from helpers import DIGITS_HEAVY
from helpers import free_port
from helpers import front_study
from helpers import macro_objective
from helpers import macro_space
from helpers import REPO
from helpers import synthetic_accuracy
from helpers import TIGHT
from helpers import unavailable


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, int]]:
    exe = console_script("optuna-dashboard")
    storage = f"sqlite:///{tmp_path / 'dashboard.db'}"
    optuna.create_study(storage=storage, study_name="warm-up")  # the schema exists first
    port = free_port()
    server = subprocess.Popen([exe, storage, "--host", "127.0.0.1", "--port", str(port),
                               "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(port, "/api/meta")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"optuna-dashboard did not start: "
                                       f"{server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.2)
        yield storage, port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_dashboard_shows_feasibility_and_resources(dashboard: tuple[str, int]) -> None:
    storage, port = dashboard
    space = zoo.nas_bench_macro_space(TIGHT)

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        return synthetic_accuracy(trial.params)

    rena = optuna.create_study(storage=storage, study_name="rena", direction="maximize",
                               sampler=RenaSampler(seed=0, pretrain_episodes=0))
    # One network far over budget and one well within it, then RenaSampler's own.
    rena.enqueue_trial({f"L{i}.variant": "kernel=5,expansion=6" for i in range(1, 9)})
    rena.enqueue_trial({f"L{i}.variant": "remove" for i in range(1, 9)})
    rena.optimize(objective, n_trials=12)

    # Another sampler, the same objective: no call of its own is needed.
    tpe = optuna.create_study(storage=storage, study_name="tpe", direction="maximize",
                              sampler=optuna.samplers.TPESampler(seed=0))
    tpe.enqueue_trial({f"L{i}.variant": "remove" for i in range(1, 9)})  # one within budget
    tpe.optimize(objective, n_trials=6)

    studies = {s["study_name"]: s["study_id"] for s in _get(port, "/api/studies")["study_summaries"]}
    for study in (rena, tpe):
        detail = _get(port, f"/api/studies/{studies[study.study_name]}")
        shown = {t["number"]: t for t in detail["trials"]}
        assert len(shown) == len(study.trials)
        kinds = set()
        for trial in study.trials:
            api = shown[trial.number]
            expected = trial_violations(trial)
            # The dashboard's constraints: the same values, so infeasible shows infeasible.
            assert api["constraints"] == pytest.approx(list(expected.values()))
            kinds.add(all(v <= 0 for v in api["constraints"]))
            attrs = {a["key"]: a["value"] for a in api["user_attrs"]}
            for key in ("params", "flops", "macs", "bytes", "compute_intensity", "child",
                        "violated"):
                assert key in attrs
            assert attrs["params"] == str(trial.user_attrs["params"])
        assert kinds == {True, False}  # both feasible and infeasible trials are shown


def _api_front(detail: dict[str, Any]) -> set[int]:
    """The trials that optuna-dashboard's Pareto-front view draws as its front: the
    complete ones whose ``constraints`` are all <= 0 and that no other such trial
    dominates (what its page computes from the study's API, as its bundle does)."""
    signs = [1 if d == "maximize" else -1 for d in detail["directions"]]
    feasible = [t for t in detail["trials"] if t["state"] == "Complete"
                and all(v <= 0 for v in t["constraints"])]

    def dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a["values"] != b["values"] and all(
            s * x >= s * y for s, x, y in zip(signs, a["values"], b["values"]))

    return {t["number"] for t in feasible if not any(dominates(o, t) for o in feasible)}


@pytest.mark.slow
def test_the_dashboards_pareto_front_of_several_objectives_for_every_sampler(
        dashboard: tuple[str, int]) -> None:
    """optuna-dashboard 0.21, for real, on two-objective studies (accuracy against params,
    under a FLOPs budget) of RenaSampler and NSGA-II: the study page loads, its API serves
    the trials with their constraints, whose feasible front is ours, the Pareto-front plot
    draws it, and the resource figures are on the page."""
    storage, port = dashboard
    # A heavy child first: RenaSampler, which tries feasible children first, may draw none.
    studies = [front_study(sampler, 12, storage=storage, study_name=name,
                           enqueued=[DIGITS_HEAVY]) for name, sampler in
               (("rena", RenaSampler(seed=0)), ("nsga2", optuna.samplers.NSGAIISampler(seed=0)))]
    ids = {s["study_name"]: s["study_id"] for s in _get(port, "/api/studies")["study_summaries"]}
    for study in studies:
        assert save_to_dashboard(study)
        study_id = ids[study.study_name]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/studies/{study_id}",
                                    timeout=10) as page:
            assert page.status == 200 and b"<title>Optuna Dashboard</title>" in page.read()
        detail = _get(port, f"/api/studies/{study_id}")
        assert detail["directions"] == ["maximize", "minimize"]
        assert detail["objective_names"] == ["accuracy", "params"]
        shown = {t["number"]: t for t in detail["trials"]}
        assert len(shown) == len(study.trials)
        kinds = set()
        for trial in study.trials:
            api = shown[trial.number]
            assert api["values"] == pytest.approx(trial.values)
            # The constraints list that the dashboard reads, whatever the sampler.
            assert api["constraints"] == pytest.approx(list(trial_violations(trial).values()))
            kinds.add(is_feasible(trial_violations(trial)))
        assert kinds == {True, False}
        front = {t.number for t in feasible_front(study)}
        assert _api_front(detail) == front
        # Its "Best Trials" list is the front of every complete trial: it reads no
        # constraint, so the front's best scores, over the budget, are in it.
        best = {t["number"] for t in detail["best_trials"]}
        assert front < best  # the heavy child, infeasible, scores best
        assert all(not is_feasible(trial_violations(study.trials[n])) for n in best - front)
        # The Pareto-front plot drawn by the server (Optuna's plot_pareto_front) holds the
        # same front, and the infeasible trials apart.
        plot = _get(port, f"/api/studies/{study_id}/plot/pareto_front")
        drawn = {t["hovertemplate"].split("<extra>")[1].split("</extra>")[0]: t
                 for t in plot["data"]}
        assert sorted(drawn["Best Trial"]["x"]) == sorted(
            study.trials[n].values[0] for n in front)
        assert len(drawn["Infeasible Trial"]["x"]) == sum(
            not is_feasible(trial_violations(t)) for t in study.trials)
        # Our figures, on the study's page: the front against params with the budgets,
        # and the best network within each.
        figures = {g["id"]: json.loads(g["graph_object"])
                   for g in detail["plotly_graph_objects"]}
        assert set(figures) == {"objective-vs-flops", "pareto-front", "best-within-budgets"}
        _, picks = best_within_budgets(study)
        table = figures["best-within-budgets"]["data"][0]
        assert table["cells"]["values"][1] == [str(p.trial.number) for p in picks if p.trial]


def _wsgi_get(app: Callable[..., Any], path: str) -> dict[str, Any]:
    """GET ``path`` of a WSGI app, in this process."""
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    wsgiref.util.setup_testing_defaults(environ)
    statuses = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(
        status)))
    assert statuses == ["200 OK"], (statuses, environ["wsgi.errors"].getvalue()[-2000:])
    return json.loads(body)


def test_optuna_rena_dashboard_lists_the_feasible_front_as_best_trials() -> None:
    """What ``optuna-rena dashboard`` serves for a multi-objective study's Best Trials
    card: the feasible front, as ``study.best_trials`` is, where the plain dashboard lists
    the front of every trial; and the plain dashboard's function is put back after."""
    import optuna_dashboard

    study = front_study(optuna.samplers.RandomSampler(seed=0), 12, enqueued=[DIGITS_HEAVY])
    app = optuna_dashboard.wsgi(dashboard_storage(study._storage))
    path = f"/api/studies/{study._study_id}"
    plain = {t["number"] for t in _wsgi_get(app, path)["best_trials"]}
    with feasible_best_trials():
        ours = {t["number"] for t in _wsgi_get(app, path)["best_trials"]}
    feasible = {t.number for t in feasible_front(study)}
    assert ours == feasible == {t.number for t in study.best_trials}
    assert 0 in plain - ours  # the heavy child: the best score, over the budget
    assert {t["number"] for t in _wsgi_get(app, path)["best_trials"]} == plain
    # No trial feasible: the card still lists a front (of every trial), drawn infeasible.
    none = front_study(optuna.samplers.RandomSampler(seed=0), 3, storage=study._storage,
                       enqueued=[DIGITS_HEAVY] * 3)
    with feasible_best_trials():
        listed = _wsgi_get(app, f"/api/studies/{none._study_id}")["best_trials"]
    assert [t["number"] for t in listed] == [0, 1, 2] and all(
        t["constraints"][0] > 0 for t in listed)


def test_mirrored_constraints_of_several_objectives_reach_the_dashboard() -> None:
    """An objective of two values that sets its constraint with Optuna's own
    ``trial.set_constraint`` and mirrors it: the plain dashboard reads it, so its Pareto
    view draws the feasible front, which is ours and Optuna's."""
    import optuna_dashboard

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("x_max", x - 0.6)
        mirror_constraints_for_dashboard(trial)
        return x, x * x

    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=12)
    detail = _wsgi_get(optuna_dashboard.wsgi(study._storage), f"/api/studies/{study._study_id}")
    assert [t["constraints"] for t in detail["trials"]] == [
        [pytest.approx(t.params["x"] - 0.6)] for t in study.trials]
    front = {t.number for t in feasible_front(study)}
    assert _api_front(detail) == front == {t.number for t in study.best_trials}
    assert all(study.trials[n].params["x"] <= 0.6 for n in front)


def test_the_trial_table_shows_violated_and_child_before_the_resources(tmp_path: Path
                                                                       ) -> None:
    """optuna-dashboard's trial table puts the parameter columns first (its bundle's
    order, out of our hands), then the user attributes as the storage returns them: a
    journal file as they were written, which puts ``violated`` and ``child`` first; an RDB
    by name, which ``optuna-rena dashboard`` reorders as it reads."""
    import optuna_dashboard

    def columns(storage: optuna.storages.BaseStorage, name: str) -> list[str]:
        study_id = storage.get_study_id_from_name(name)
        detail = _wsgi_get(optuna_dashboard.wsgi(storage), f"/api/studies/{study_id}")
        return [a["key"] for a in detail["union_user_attrs"]]

    for url in (f"journal:{tmp_path / 'table.log'}", f"sqlite:///{tmp_path / 'table.db'}"):
        storage = open_storage(url)
        study = optuna.create_study(storage=storage, study_name="table", direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(macro_objective(macro_space()), n_trials=3)
        plain = columns(storage, "table")
        ours = columns(dashboard_storage(open_storage(url)), "table")
        assert ours[:2] == ["violated", "child"], (url, ours)
        assert sorted(ours) == sorted(plain)
        if url.startswith("journal:"):
            assert plain == ours  # as written
        else:
            assert plain == sorted(plain)  # by name: violated last


def _gp_constraint_models(write: Callable[[optuna.Trial], None]) -> tuple[int, optuna.Study]:
    """How many constraint models GPSampler fits when ``write`` records each trial's
    constraints of NAS-Bench-Macro's tight budget."""
    sampler = optuna.samplers.GPSampler(seed=0, n_startup_trials=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        write(trial)
        return synthetic_accuracy(trial.params)

    study.optimize(objective, n_trials=4)  # 3 random, then one fit with the constraints
    # GPSampler fits one model per key of FrozenTrial.constraints (what set_constraint and
    # the constraints list record), the same keys on every trial or it refuses the study.
    keys = {tuple(sorted(t.constraints)) for t in study.trials}
    assert len(keys) == 1, keys
    return len(keys.pop()), study


def test_gp_fits_each_constraint_once_where_the_dashboard_reads_it() -> None:
    space = macro_space(TIGHT)

    def optunas_own(trial: optuna.Trial) -> None:
        child, _ = run_decisions(space.decisions(), trial.suggest_categorical)
        metrics = ResourceModel().count(child).as_dict()
        for c in TIGHT:
            trial.set_constraint(c.name, c.violation(metrics[c.metric]))

    def mirrored(trial: optuna.Trial) -> None:
        optunas_own(trial)
        mirror_constraints_for_dashboard(trial)

    plain, _ = _gp_constraint_models(optunas_own)
    ours, study = _gp_constraint_models(space.suggest)
    assert plain == ours == len(TIGHT)
    for t in study.trials:  # and optuna-dashboard reads every one of them
        assert len(t.constraints) == len(TIGHT)
        assert t.system_attrs["constraints"] == list(trial_violations(t).values())
    # Why not the old mirror beside Optuna's own: GPSampler would fit each one twice.
    assert _gp_constraint_models(mirrored)[0] == 2 * len(TIGHT)


def _space_and_own_constraint(trial: optuna.Trial) -> float:
    # The space writes the list (params, met); the objective adds its own broken bound.
    ArchitectureSpace(zoo.ds_cnn(), [Constraint("params", max=10**9)], max_inserts=0,
                      notes=False).suggest(trial)
    trial.set_constraint("latency_max", 0.5)
    return 1.0


def test_optuna_rena_dashboard_shows_named_values_beside_the_list() -> None:
    study = optuna.create_study(direction="maximize")
    study.optimize(_space_and_own_constraint, n_trials=1)
    (raw,) = study.trials
    storage = dashboard_storage(study._storage)
    shown = storage.get_trial(raw._trial_id).system_attrs["constraints"]
    assert shown == pytest.approx(list(trial_violations(raw).values()))
    assert len(shown) == 2 and shown[1] == 0.5  # drawn infeasible
    assert raw.system_attrs["constraints"] == [shown[0]]  # nothing written back
    (listed,) = storage.get_all_trials(study._study_id)
    assert listed.system_attrs["constraints"] == shown


def test_with_no_feasible_trial_the_best_trial_card_falls_back_as_documented() -> None:
    """The card shows the best feasible trial, even when an infeasible one scores more;
    with no feasible trial, the storage's own best (the card needs one: no HTTP 500),
    drawn infeasible."""
    storage = dashboard_storage(optuna.storages.InMemoryStorage())
    study = optuna.create_study(direction="maximize", storage=storage)
    for x in (0.2, 0.9, 0.5):
        study.enqueue_trial({"x": x})
    study.optimize(lambda t: set_constraint(t, "x_max", 1.0) or t.suggest_float("x", 0, 1),
                   n_trials=3)
    own_best = optuna.storages.InMemoryStorage.get_best_trial(storage, study._study_id)
    best = storage.get_best_trial(study._study_id)
    assert best.number == own_best.number == 1 and best.value == 0.9
    assert best.system_attrs["constraints"] == [1.0]  # drawn infeasible
    # A feasible trial below the infeasible best: it is the card's, the storage's is not.
    study.enqueue_trial({"x": 0.3})
    study.optimize(lambda t: set_constraint(t, "x_max", t.suggest_float("x", 0, 1) - 0.4)
                   or t.params["x"], n_trials=1)
    best = storage.get_best_trial(study._study_id)
    assert best.number == 3 and best.system_attrs["constraints"] == [pytest.approx(-0.1)]
    assert optuna.storages.InMemoryStorage.get_best_trial(storage, study._study_id).number == 1


def test_mirror_appends_named_values_beside_the_list() -> None:
    study = optuna.create_study(direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        value = _space_and_own_constraint(trial)
        mirror_constraints_for_dashboard(trial)
        mirror_constraints_for_dashboard(trial)  # twice: nothing more to append
        return value

    study.optimize(objective, n_trials=1)
    (t,) = study.trials
    params = trial_violations(t)["params_max"]
    assert t.system_attrs["constraints"] == [params, 0.5]
    assert trial_violations(t) == {"params_max": params, "latency_max": 0.5}
    assert t.user_attrs["violated"] == "latency_max +0.5"
    # Optuna counts the mirrored value twice, by position and by name, which keeps its
    # feasibility: still no feasible trial.
    assert t.constraints == {"0": params, "1": 0.5, "latency_max": 0.5}
    with pytest.raises(ValueError, match="No feasible trials"):
        study.best_trial
    # and the dashboard's view adds nothing more
    shown = dashboard_storage(study._storage).get_trial(t._trial_id)
    assert shown.system_attrs["constraints"] == [params, 0.5]


@pytest.mark.slow
def test_a_benchmark_study_of_tpe_is_right_in_the_dashboard(dashboard: tuple[str, int],
                                                             data_dir: Path) -> None:
    storage, port = dashboard
    budget = [Constraint("params", max=1_500_000), Constraint("macs", max=60_000_000)]
    run_one("nas-bench-macro", "tpe", 0, 16, storage=storage, study_name="bench-tpe",
            task_options={"data_dir": str(data_dir), "constraints": budget, "notes": False})
    study = optuna.load_study(study_name="bench-tpe", storage=storage)
    study_id = {s["study_name"]: s["study_id"]
                for s in _get(port, "/api/studies")["study_summaries"]}["bench-tpe"]
    detail = _get(port, f"/api/studies/{study_id}")
    shown = {t["number"]: t for t in detail["trials"]}
    kinds = set()
    for trial in study.trials:
        api = shown[trial.number]
        assert api["constraints"] == pytest.approx(list(trial_violations(trial).values()))
        feasible = all(v <= 0 for v in api["constraints"])
        kinds.add(feasible)
        attrs = {a["key"]: a["value"] for a in api["user_attrs"]}
        assert "child_spec" not in attrs and len(attrs["child"]) < 30
        if feasible:
            assert attrs["violated"] == "none"
        else:
            assert attrs["violated"].startswith(("params +", "macs +")), attrs["violated"]
    assert kinds == {True, False}
    # The history plot's best-value line runs through the feasible complete trials only:
    # it ends at Optuna's best trial.
    best = max(t["values"][0] for t in detail["trials"]
               if t["state"] == "Complete" and all(v <= 0 for v in t["constraints"]))
    assert best == pytest.approx(study.best_trial.value)
    # The budget, the space and the objective's name, at study level.
    attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    assert json.loads(attrs["constraints"]) == ["params <= 1.5e+06", "macs <= 6e+07"]
    assert len(attrs["space"]) == 16
    assert attrs["space_summary"].startswith("edits of nas_bench_macro_11111111 (")
    assert detail["objective_names"] == ["mean accuracy (%)"]
    note = detail["note"]["body"]
    assert "- params <= 1.5e+06\n- macs <= 6e+07" in note and "**Space**: edits of" in note
    assert {g["id"] for g in detail["plotly_graph_objects"]} == {
        "objective-vs-params", "objective-vs-macs", "pareto-front", "best-feasible"}


def test_optuna_rena_dashboard_shows_the_best_feasible_trial(tmp_path: Path,
                                                             data_dir: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'best.db'}"
    budget = [Constraint("params", max=1_500_000), Constraint("macs", max=60_000_000)]
    run_one("nas-bench-macro", "tpe", 0, 16, storage=storage, study_name="bench-tpe",
            task_options={"data_dir": str(data_dir), "constraints": budget, "notes": False})
    study = optuna.load_study(study_name="bench-tpe", storage=storage)
    raw_best = study._storage.get_best_trial(study._study_id)
    assert not is_feasible(trial_violations(raw_best))  # what the plain dashboard shows

    def raw(trial: optuna.Trial) -> float:  # Optuna's own constraint API, nothing of ours
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("x_max", x - 0.5)
        return x

    plain = optuna.create_study(storage=storage, study_name="plain", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    plain.optimize(raw, n_trials=12)
    front = front_study(optuna.samplers.RandomSampler(seed=0), 8, storage=storage,
                        study_name="front", enqueued=[DIGITS_HEAVY])
    port = free_port()
    server = subprocess.Popen([console_script("optuna-rena"), "dashboard", storage,
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                summaries = _get(port, "/api/studies")["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "optuna-rena dashboard did not start"
                time.sleep(0.3)
        ids = {s["study_name"]: s["study_id"] for s in summaries}
        detail = _get(port, f"/api/studies/{ids['bench-tpe']}")
        plain_detail = _get(port, f"/api/studies/{ids['plain']}")
        front_detail = _get(port, f"/api/studies/{ids['front']}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    (best,) = detail["best_trials"]
    assert best["number"] == study.best_trial.number != raw_best.number
    assert best["values"] == [pytest.approx(study.best_value)]
    # Trials that used trial.set_constraint are drawn with their feasibility, and nothing
    # was written to the storage for it.
    shown = {t["number"]: t["constraints"] for t in plain_detail["trials"]}
    assert shown == {t.number: [pytest.approx(t.params["x"] - 0.5)] for t in plain.trials}
    assert plain_detail["best_trials"][0]["number"] == plain.best_trial.number
    assert all("constraints" not in t.system_attrs for t in plain.trials)
    # Of several objectives, the Best Trials card lists the feasible front, without the
    # heavy child (trial 0), which scores best and breaks the budget.
    assert {t["number"] for t in front_detail["best_trials"]} == {
        t.number for t in front.best_trials} == {t.number for t in feasible_front(front)}
    assert 0 not in {t.number for t in feasible_front(front)}


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    unavailable("Chromium is not installed: apt-get install chromium (.ci/run does)")


class _Browser:
    """Headless Chromium driven over its DevTools pipe (file descriptors 3 and 4), so a
    test can wait for what a page shows, measure its layout and take screenshots, with
    nothing beyond the standard library."""

    def __init__(self, chromium: str, profile: Path) -> None:
        commands, self._to_browser = os.pipe()
        self._from_browser, replies = os.pipe()

        def as_fds_3_and_4() -> None:
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self._process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(3, 4),
            preexec_fn=as_fds_3_and_4)
        os.close(commands)
        os.close(replies)
        self._buffer = b""
        self._id = 0

    def __enter__(self) -> _Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError):
            pass
        os.close(self._to_browser)
        os.close(self._from_browser)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buffer += chunk
            raw, _, self._buffer = self._buffer.partition(b"\0")
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str, *, offline: bool = False) -> str:
        """A new 1400 x 1000 tab at ``url``; its session."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", session, width=1400, height=1000,
                  deviceScaleFactor=1, mobile=False)
        if offline:
            self.send("Network.enable", session)
            self.send("Network.emulateNetworkConditions", session, offline=True, latency=0,
                      downloadThroughput=-1, uploadThroughput=-1)
        self.send("Page.navigate", session, url=url)
        return session

    def wait(self, session: str, expression: str, done: Callable[[Any], bool],
             timeout: float = 60) -> Any:
        """The value of ``expression`` in the page once ``done`` accepts it."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.send("Runtime.evaluate", session, expression=expression,
                              returnByValue=True)["result"].get("value")
            if value is not None and done(value):  # None: the page is not there yet
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed it; last {expression} = "
                                     f"{str(value)[:2000]}")
            time.sleep(0.25)

    def screenshot(self, session: str, name: str) -> Path:
        """The whole page as ``tests/artifacts/NAME.png`` (gitignored), for a person to
        look at."""
        data = self.send("Page.captureScreenshot", session, captureBeyondViewport=True)["data"]
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data))
        print(f"screenshot: {path}")
        return path


ARTIFACTS = REPO / "tests" / "artifacts"
_TEXT = "document.body.textContent"


@pytest.mark.slow
def test_browser_shows_feasibility_the_figures_and_short_rows(
        dashboard: tuple[str, int], data_dir: Path, tmp_path: Path) -> None:
    """The dashboard as a person sees it, in headless Chromium, on a study with TPE's
    trials (as the benchmark writes them) and then RenaSampler's: the study page shows
    the resource figures and marks infeasible trials, an infeasible trial says what it
    breaks, the trial table's rows stay short; and the offline report draws with no
    network."""
    chromium = _chromium()
    storage, port = dashboard
    run_one("nas-bench-macro", "tpe", 0, 8, storage=storage, study_name="browser",
            task_options={"data_dir": str(data_dir)})
    task = make_task("nas-bench-macro", data_dir=str(data_dir))
    study = optuna.load_study(study_name="browser", storage=storage,
                              sampler=RenaSampler(seed=0))
    study.optimize(task.objective, n_trials=4)
    save_to_dashboard(study)
    kinds = [is_feasible(trial_violations(t)) for t in study.trials]
    assert True in kinds and False in kinds
    infeasible = study.trials[kinds.index(False)]
    study_id = {s["study_name"]: s["study_id"]
                for s in _get(port, "/api/studies")["study_summaries"]}["browser"]
    base = f"http://127.0.0.1:{port}/dashboard/studies/{study_id}"
    titles = ["mean accuracy (%) against params", "mean accuracy (%) against macs",
              "Pareto front: mean accuracy (%)",
              "Best feasible mean accuracy (%) so far"]
    with _Browser(chromium, tmp_path / "profile") as browser:
        page = browser.open(base)
        browser.wait(page, _TEXT, lambda text: all(t in text for t in titles))
        # The timeline's legend: infeasible trials are drawn as such.
        browser.wait(page, "document.querySelectorAll('[data-unformatted=\"Infeasible\"]')"
                           ".length", lambda n: n >= 1)
        browser.screenshot(page, "dashboard-study")

        page = browser.open(f"{base}/trials?numbers={infeasible.number}")
        text = browser.wait(page, _TEXT, lambda text: "Infeasible: breaks" in text)
        assert f"Trial {infeasible.number}" in text
        assert "Infeasible: breaks params <= 600000 (+" in text  # the note's first line
        assert infeasible.user_attrs["violated"] in text  # the user attribute, too
        browser.screenshot(page, "dashboard-infeasible-trial")

        page = browser.open(f"{base}/smartSelection")
        heights = browser.wait(
            page, "Array.from(document.querySelectorAll('tbody tr'))"
                  ".map(r => r.getBoundingClientRect().height)",
            lambda h: isinstance(h, list) and len(h) == len(study.trials))
        # One or two lines each: the child's spec no longer fills a row ~700 px tall.
        assert max(heights) < 150, heights
        browser.screenshot(page, "dashboard-trial-table")

        written = write_report(study, tmp_path / "report")
        page = browser.open(written[0].as_uri(), offline=True)
        drawn = browser.wait(
            page, "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                  ".map(d => d.querySelectorAll('.main-svg').length)",
            lambda n: isinstance(n, list) and len(n) == 4 and all(n))
        assert len(drawn) == 4
        browser.screenshot(page, "offline-report")
