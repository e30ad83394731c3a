"""optuna-dashboard, started for real on a loopback port, shows what the search wrote."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import shutil
import subprocess
import time
import urllib.request

import optuna
import pytest

from optuna_rena import mirror_constraints_for_dashboard
from optuna_rena import RenaSampler
from optuna_rena import trial_violations
from optuna_rena import zoo

from helpers import console_script
from helpers import free_port
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

    def tpe_objective(trial: optuna.Trial) -> float:
        value = objective(trial)
        mirror_constraints_for_dashboard(trial)  # other samplers: the objective mirrors
        return value

    tpe = optuna.create_study(storage=storage, study_name="tpe", direction="maximize",
                              sampler=optuna.samplers.TPESampler(seed=0))
    tpe.optimize(tpe_objective, n_trials=6)

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
            assert api["constraints"] == pytest.approx(
                [expected[k] for k in sorted(expected)])
            kinds.add(all(v <= 0 for v in api["constraints"]))
            attrs = {a["key"]: a["value"] for a in api["user_attrs"]}
            for key in ("params", "flops", "macs", "bytes", "compute_intensity", "child_spec"):
                assert key in attrs
            assert attrs["params"] == str(trial.user_attrs["params"])
        if study is rena:
            assert kinds == {True, False}  # both feasible and infeasible trials are shown


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    unavailable("Chromium is not installed: apt-get install chromium (.ci/run does)")


def _render(chromium: str, url: str, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran, from headless Chromium."""
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
         "--window-size=1400,1000", "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_browser_renders_the_study(dashboard: tuple[str, int], tmp_path: Path) -> None:
    """The dashboard's pages, rendered by headless Chromium: the trial list with every
    trial, and the study page whose timeline marks infeasible trials."""
    chromium = _chromium()
    storage, port = dashboard
    space = zoo.nas_bench_macro_space(TIGHT)
    # Pre-training makes RenaSampler's own trials feasible: the timeline marks feasibility
    # only in a study that has both kinds.
    study = optuna.create_study(storage=storage, study_name="browser", direction="maximize",
                                sampler=RenaSampler(seed=0))
    study.enqueue_trial({f"L{i}.variant": "kernel=5,expansion=6" for i in range(1, 9)})
    study.optimize(lambda t: (space.suggest(t), synthetic_accuracy(t.params))[1], n_trials=4)
    study_id = {s["study_name"]: s["study_id"]
                for s in _get(port, "/api/studies")["study_summaries"]}["browser"]
    base = f"http://127.0.0.1:{port}/dashboard/studies/{study_id}"
    trials_page = _render(chromium, f"{base}/trials", tmp_path)
    for number in range(4):
        assert f"Trial {number}" in trials_page
    assert "Child of nas_bench_macro_11111111" in trials_page  # the selected trial's note
    study_page = _render(chromium, base, tmp_path)
    assert 'data-unformatted="Infeasible"' in study_page
