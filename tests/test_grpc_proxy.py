"""Eight worker processes share one study through Optuna's gRPC storage proxy.

The proxy is the README's ``proxy.py`` (``optuna.storages.run_grpc_proxy_server``), run as
its own process in front of a real PostgreSQL server on loopback. Each worker
(tests/worker.py --grpc) is its own process, talks only to the proxy through
``GrpcStorageProxy`` and optimises with RenaSampler; then the README's ``worker.py`` joins.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import tempfile

import optuna
from optuna.trial import TrialState
import pytest

from optuna_rena._sampler.decisions import ORDER_KEY

from helpers import free_port
from helpers import REPO
from helpers import unavailable
from test_scale_out import _read_line
from test_scale_out import postgres_url  # noqa: F401  (a fixture: PostgreSQL on loopback)
from test_scale_out import WORKER

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

N_WORKERS = 8
TRIALS_PER_WORKER = 5
STUDY = "rena"  # the README's study name


def _readme_block(first_line: str) -> str:
    """The README's ```py block (not run by test_readme.py) that starts with ``first_line``."""
    blocks = re.findall(r"```py\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f"README.md has no single ```py block starting {first_line!r}"
    return found[0]


def _replace(code: str, old: str, new: str) -> str:
    assert old in code, f"{old!r} is no longer in the README's block:\n{code}"
    return code.replace(old, new)


@pytest.fixture
def grpc_proxy(postgres_url: str) -> Iterator[int]:  # noqa: F811
    """The README's proxy.py in its own process, serving ``postgres_url`` on loopback at
    a free port, which it yields."""
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError:
        unavailable("grpcio and protobuf are not installed: pip install 'optuna-rena[test]'")
    port = free_port()
    code = _readme_block("# proxy.py")
    code = _replace(code, "postgresql+psycopg2://USER:PASSWORD@DB_HOST/rena", postgres_url)
    code = _replace(code, 'host="0.0.0.0"', 'host="127.0.0.1"')
    code = _replace(code, "port=13000", f"port={port}")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        try:
            optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port).wait_server_ready(
                timeout=120)
            ready = True
        except ConnectionError:
            ready = False
        if ready:
            yield port
    finally:
        if server.poll() is None:
            server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert ready, f"the gRPC proxy never became ready: {stderr[-3000:]}"
    # It served until the test stopped it: no crash hidden behind the workers' results.
    assert server.returncode == -15, stderr[-3000:]


def _grpc_workers(port: int) -> list[dict]:
    """N_WORKERS processes, each creating or loading STUDY through the proxy (they race
    to create it, as on many machines) and running TRIALS_PER_WORKER trials, all at once."""
    go = Path(tempfile.mkdtemp(prefix="rena-go-")) / "go"
    procs = [subprocess.Popen([sys.executable, WORKER, "-", STUDY, str(TRIALS_PER_WORKER),
                               str(seed), "--grpc", f"127.0.0.1:{port}",
                               "--start-after", str(go), "--trial-seconds", "0.05"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
             for seed in range(N_WORKERS)]
    try:
        for p in procs:
            line = _read_line(p, timeout=300)
            assert line and json.loads(line) == {"ready": True}, (
                p.stderr.read() if p.stderr else "")
        go.touch()
        reports = []
        for p in procs:
            stdout, stderr = p.communicate(timeout=600)
            assert p.returncode == 0, stderr[-3000:]
            reports.append(json.loads(stdout.strip().splitlines()[-1]))
        return reports
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(go.parent, ignore_errors=True)


def _readme_worker(port: int, n_trials: int, folder: Path) -> None:
    """The README's worker.py, with a cheap objective as its ``my_search``."""
    (folder / "my_search.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from helpers import macro_objective, macro_space\n"
        "objective = macro_objective(macro_space())\n")
    code = _readme_block("# worker.py")
    code = _replace(code, 'host="PROXY_HOST"', 'host="127.0.0.1"')
    code = _replace(code, "port=13000", f"port={port}")
    code = _replace(code, "n_trials=50", f"n_trials={n_trials}")
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_eight_processes_share_postgresql_through_the_grpc_proxy(
        grpc_proxy: int, postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    reports = _grpc_workers(grpc_proxy)
    asked = N_WORKERS * TRIALS_PER_WORKER

    # Every worker ran the trials it asked for, and no trial was run by two workers.
    assert [len(r["ran"]) for r in reports] == [TRIALS_PER_WORKER] * N_WORKERS
    ran = [n for r in reports for n in r["ran"]]
    assert sorted(ran) == list(range(asked))
    # Each worker's policy learnt, from trials that other workers ran too.
    for r in reports:
        assert r["updates"] > 0, r
        assert set(r["learned"]) - set(r["ran"]), r

    _readme_worker(grpc_proxy, 2, tmp_path)  # joins the study the workers made
    asked += 2

    # What the database behind the proxy holds (read directly, not through the proxy):
    # one study, exactly the trials asked for, numbered once each, all finished.
    assert [s.study_name for s in optuna.get_all_study_summaries(postgres_url)] == [STUDY]
    trials = optuna.load_study(study_name=STUDY, storage=postgres_url).trials
    assert sorted(t.number for t in trials) == list(range(asked))
    assert len({t._trial_id for t in trials}) == asked
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) == asked, states  # none lost, none RUNNING
    assert all(t.params and t.value is not None for t in trials)
    # RenaSampler's after_trial wrote every trial's decision order through the proxy.
    assert all(t.system_attrs.get(ORDER_KEY) for t in trials)
