"""Many workers on one study, restarts after SIGKILL, faults inside trials, threads."""

from __future__ import annotations

from collections.abc import Iterator
import glob
import json
import math
import os
from pathlib import Path
import shutil
import select
import signal
import subprocess
import sys
import tempfile
import time

import optuna
from optuna.trial import TrialState
import pytest
import torch

from optuna_rena import Constraint
from optuna_rena import RenaSampler
from optuna_rena import SpecError
from optuna_rena import trial_violations
from optuna_rena._storage import open_storage

from helpers import check_learnt_once
from helpers import check_rena_trials
from helpers import free_port
from helpers import LOOSE
from helpers import macro_objective
from helpers import macro_space
from helpers import REPO
from helpers import synthetic_accuracy
from helpers import unavailable

WORKER = str(REPO / "tests" / "worker.py")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on loopback, made for these tests and removed after."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    why = None
    if not bins:
        why = "PostgreSQL is not installed: apt-get install postgresql (.ci/run does)"
    else:
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            why = "psycopg2 is not installed: pip install 'optuna-rena[test]'"
    if why:
        unavailable(why)
    bindir = Path(bins[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="rena-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(data, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
        run(str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"),
            "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
    except subprocess.CalledProcessError as e:
        unavailable(f"PostgreSQL could not be started: {e.stderr.decode()[-500:]}")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "rena")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/rena"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m",
                        "fast", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)


def _workers(storage: str, study: str, n_workers: int, trials: int) -> list[dict]:
    if not storage.startswith("journal:"):
        # Optuna's RDB storage creates its tables on first use; workers racing to do it on
        # an empty database collide (alembic_version exists), so the study comes first.
        optuna.create_study(storage=storage, study_name=study, direction="maximize")
    # The workers start together: each says it is ready (imports take seconds, and a
    # worker alone would finish its trials before the others exist), then all go at once.
    go = Path(tempfile.mkdtemp(prefix="rena-go-")) / "go"
    procs = [subprocess.Popen([sys.executable, WORKER, storage, study, str(trials), str(seed),
                               "--start-after", str(go), "--trial-seconds", "0.05"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
             for seed in range(n_workers)]
    for p in procs:
        line = _read_line(p, timeout=300)
        assert line and json.loads(line) == {"ready": True}, p.stderr.read() if p.stderr else ""
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    shutil.rmtree(go.parent, ignore_errors=True)
    return out


def _check_shared_study(storage: optuna.storages.BaseStorage | str, study_name: str,
                        reports: list[dict], expected: int) -> None:
    """RenaSampler's guarantees on a study that several workers shared, whatever their
    interleaving: each worker learnt each trial at most once, in full batches of two, only
    from finished trials; every trial's stored order names its parameters; and a new
    worker learns every trial, those of all the workers, from storage."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.trials
    assert len(trials) == expected
    ran = [n for r in reports for n in r["ran"]]
    assert sorted(ran) == list(range(expected))  # no trial run twice
    for t in trials:
        order = t.system_attrs["rena:order"]
        assert len(order) == len(set(order)) and set(order) == set(t.params), t.number
    for r in reports:
        check_learnt_once(r["learned"], set(range(expected)), 2)
        assert r["updates"] == len(r["learned"]) // 2, r
    late = RenaSampler(seed=0, batch_size=2, pretrain_episodes=0)
    resumed = optuna.load_study(study_name=study_name, storage=storage, sampler=late)
    resumed.optimize(macro_objective(macro_space()), n_trials=1)
    assert late.learned_trials == list(range(expected))  # in trial-number order


@pytest.mark.slow
def test_four_processes_share_a_journal_file(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'journal.log'}"
    reports = _workers(url, "shared", 4, 10)
    _check_shared_study(open_storage(url), "shared", reports, 40)


@pytest.mark.slow
def test_four_processes_share_postgresql(postgres_url: str) -> None:
    reports = _workers(postgres_url, "shared-pg", 4, 10)
    _check_shared_study(postgres_url, "shared-pg", reports, 40)


def _workers_with_heartbeat(storage: str, study: str, trials: int) -> dict:
    result = subprocess.run([sys.executable, WORKER, storage, study, str(trials), "1",
                             "--heartbeat"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The next line that ``process`` prints, or a failure after ``timeout`` seconds."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        pytest.fail(f"the worker printed nothing in {timeout} s")
    return process.stdout.readline()


@pytest.mark.slow
def test_sigkill_mid_trial_then_a_new_worker_resumes(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'restart.db'}"
    doomed = subprocess.Popen([sys.executable, WORKER, storage, "restart", "20", "0",
                               "--sleep-on", "6", "--heartbeat"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = _read_line(doomed, timeout=300)  # the worker says when it hangs in trial 6
    assert line and json.loads(line) == {"hanging": 6}, doomed.stderr.read() if (
        doomed.stderr) else ""
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=60)
    before = optuna.load_study(study_name="restart", storage=storage)
    finished = {t.number: t.params for t in before.trials if t.state == TrialState.COMPLETE}
    assert sorted(finished) == [0, 1, 2, 3, 4, 5]
    assert before.trials[6].state == TrialState.RUNNING
    # Wait until the killed trial's heartbeat is stale as the storage judges it (grace
    # period 3 s), rather than sleeping for a guessed time.
    watcher = open_storage(storage, heartbeat_interval=1, grace_period=3)
    study_id = watcher.get_study_id_from_name("restart")
    deadline = time.monotonic() + 60
    while 6 not in {watcher.get_trial(t).number for t in watcher._get_stale_trial_ids(study_id)}:
        assert time.monotonic() < deadline, "the killed trial never became stale"
        time.sleep(0.5)
    report = _workers_with_heartbeat(storage, "restart", 6)
    after = optuna.load_study(study_name="restart", storage=storage)
    # The new worker failed the stale trial, and RetryHeartbeatStaleTrialCallback queued it again.
    assert after.trials[6].state == TrialState.FAIL
    retries = [t for t in after.trials if t.system_attrs.get("failed_trial") == 6]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == after.trials[6].params
    # No finished trial was lost, and the new controller learnt from the old history
    # (and not from the killed trial, which was not the architecture's fault).
    for number, params in finished.items():
        assert after.trials[number].state == TrialState.COMPLETE
        assert after.trials[number].params == params
    assert {0, 1, 2, 3, 4, 5} <= set(report["learned"])
    assert 6 not in report["learned"]


ENERGY = Constraint("energy_mj", max=100.0, user=True)


def test_faults_inside_trials_do_not_stop_the_study() -> None:
    """Each fault is handled as documented in optuna_rena._sampler.reward; the study goes
    on. The objective measures a user constraint that every trial violates (v = 1), except
    in fault 7, where it measures nothing: a constraint not measured is not penalised."""
    sampler = RenaSampler(seed=0, batch_size=2, pretrain_episodes=0,
                          penalty_tightening=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    space = macro_space((ENERGY,))

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        fault = trial.number % 9
        if fault != 7:
            ENERGY.set(trial, 200.0)
        if fault == 0:
            raise ValueError("the objective raises")
        if fault == 1:
            return math.nan
        if fault == 2:
            return math.inf
        if fault == 3:
            trial.report(50.0, 0)
            raise optuna.TrialPruned()
        if fault == 4:
            raise optuna.TrialPruned()  # pruned before any report: nothing to learn
        if fault == 5:
            raise SpecError("layer 3 (conv2d): the child failed to build")
        if fault == 6:
            raise torch.OutOfMemoryError("CUDA out of memory (raised by the test)")
        return synthetic_accuracy(trial.params)

    study.optimize(objective, n_trials=36, catch=(ValueError, RuntimeError))
    states = [t.state for t in study.trials[:9]]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE, TrialState.PRUNED,
                      TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE,
                      TrialState.COMPLETE]
    assert len(study.trials) == 36
    rewards = sampler.rewards()
    for number in (0, 1, 2, 5, 6):  # raised, NaN, inf, SpecError, out of memory
        assert rewards[number] == 0.0
    # Pruned after a report, before any trial completed: it waits for one, then stands
    # in with the worst completed value (trial 7 reports nothing to rank it against).
    assert rewards[3] == pytest.approx(study.trials[7].value * 0.9)
    assert not any(n % 9 == 4 for n in rewards)  # pruned before a report: not learnt
    assert trial_violations(study.trials[7]) == {}
    assert rewards[7] == study.trials[7].value  # nothing measured: no penalty
    assert rewards[8] == pytest.approx(study.trials[8].value * 0.9)  # v = 1


def test_missing_constraints_count_as_feasible() -> None:
    # Three configurations only: the policy samples them all, again and again.
    sampler = RenaSampler(seed=0, batch_size=2, penalty_tightening=False, world_model=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    limit = Constraint("energy", max=1.0, user=True)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_categorical("x", [0.5, 1.0, 2.0])
        if trial.number % 2 == 0:
            limit.set(trial, x)  # measured on even trials only
        return 1.0 + x

    study.optimize(objective, n_trials=13)
    rewards = sampler.rewards()
    assert sorted(rewards) == list(range(12))
    penalised = 0
    for t in study.trials[:12]:
        if t.number % 2:
            assert trial_violations(t) == {}
            assert rewards[t.number] == t.value  # not measured: counted feasible
        elif t.params["x"] == 2.0:  # 2 / 1 - 1 = 1
            assert rewards[t.number] == pytest.approx(t.value * 0.9)
            penalised += 1
        else:
            assert rewards[t.number] == t.value
    unmeasured_big = [t for t in study.trials[:12] if t.number % 2 and t.params["x"] == 2.0]
    assert penalised and unmeasured_big, "the seed should give both kinds of x = 2 trials"


@pytest.mark.slow
def test_threads_stress() -> None:
    """One sampler, four threads, many short trials: whatever the interleaving, every
    trial's stored order matches its parameters, no child is planned twice, and every
    finished trial is learnt exactly once, in full batches."""
    sampler = RenaSampler(seed=0, batch_size=4, pretrain_episodes=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    space = macro_space(LOOSE)  # see LOOSE: TIGHT runs out of feasible children
    study.optimize(macro_objective(space), n_trials=200, n_jobs=4)
    trials = study.trials
    assert len(trials) == 200
    order = [f"L{i}.variant" for i in range(1, 9)]
    assert all(t.system_attrs["rena:order"] == list(t.params) == order for t in trials)
    check_rena_trials(trials)
    check_learnt_once(sampler.learned_trials, set(range(200)), 4)
    assert sampler.n_updates == len(sampler.learned_trials) // 4
    # One more trial starts with all 200 finished: it learns the rest, in 50 batches.
    study.optimize(macro_objective(space), n_trials=1)
    assert sorted(sampler.learned_trials) == list(range(200)) and sampler.n_updates == 50
