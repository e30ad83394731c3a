"""What several test modules share: paths, the offline data, a synthetic objective on
NAS-Bench-Macro's space, a multi-objective study of the digits CNN's children, loopback
ports, console scripts, optunahub, and skipping honestly."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import os
from pathlib import Path
import socket
import sys
import types
from typing import Any
from typing import NoReturn
import warnings

import optuna
import pytest

from optuna_rena import ArchitectureSpace
from optuna_rena import AvgPool2d
from optuna_rena import BasicBlock
from optuna_rena import Constraint
from optuna_rena import Conv2d
from optuna_rena import Dropout
from optuna_rena import Flatten
from optuna_rena import GlobalAvgPool
from optuna_rena import GRU
from optuna_rena import InputSpec
from optuna_rena import InvertedResidual
from optuna_rena import Linear
from optuna_rena import LSTM
from optuna_rena import MaxPool2d
from optuna_rena import NetworkSpec
from optuna_rena import SeparableConv2d
from optuna_rena import ToSequence
from optuna_rena import zoo


REPO = Path(__file__).resolve().parents[1]

TIGHT = (Constraint("params", max=600_000), Constraint("macs", max=25_000_000))
"""NAS-Bench-Macro's tight budget: 39 of 6561 networks are feasible."""

LOOSE = (Constraint("params", max=1_500_000), Constraint("macs", max=60_000_000))
"""A budget that long studies do not exhaust: under TIGHT, once the feasible children are
used up, RenaSampler plans a child again (trial 19's child at 153-155 on seed 0, one
thread) although new, infeasible ones exist."""


def shared_data_dir() -> Path:
    """The offline datasets: $OPTUNA_RENA_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get("OPTUNA_RENA_DATA", REPO.parent / "shared" / "data"))


def unavailable(why: str) -> NoReturn:
    """Skip a test whose requirement is missing here, saying why; in CI, which installs
    every requirement, fail instead: a missing requirement there is a CI bug."""
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def require_optunahub() -> types.ModuleType:
    """optunahub (the ``[hub]`` extra), or the test is unavailable."""
    try:
        import optunahub
    except ImportError:
        unavailable("optunahub is not installed: pip install -e '.[hub]'")
    # Run from the checkout without optunahub installed, `import optunahub` finds the
    # registry folder optunahub/, a namespace package with nothing in it.
    if not hasattr(optunahub, "load_local_module"):
        unavailable(f"optunahub is not installed (import optunahub found {REPO / 'optunahub'}, "
                    "the registry folder): pip install -e '.[hub]'")
    return optunahub


def console_script(name: str) -> str:
    """The path of an installed console script: beside the running Python (a venv's
    ``bin``), whether or not that folder is on PATH."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        unavailable(f"the {name} script is not installed beside {sys.executable}: "
                    "pip install -e '.[all]'")
    return str(path)


def macro_space(constraints: Any = TIGHT) -> ArchitectureSpace:
    """NAS-Bench-Macro's space without dashboard notes (not under test where it is used)."""
    return zoo.nas_bench_macro_space(constraints, notes=False)


def synthetic_accuracy(params: dict[str, Any]) -> float:
    """A deterministic stand-in for accuracy: bigger blocks score higher."""
    code = zoo.nas_bench_macro_code(params)
    return 50.0 + sum((i + 1) * int(d) for i, d in enumerate(code))


def macro_objective(space: ArchitectureSpace) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        return synthetic_accuracy(trial.params)
    return objective


DIGITS_FLOPS = Constraint("flops", max=250_000)
"""A budget that about half of the digits CNN's children meet."""


DIGITS_HEAVY = {"L0.remove": False, "L0.filters": 0.5, "L0.kernel": 2.0, "L1.remove": False,
                "L1.filters": 2.0, "L1.kernel": 1.5, "L2.remove": False, "L2.filters": 2.0,
                "L2.kernel": 2.0, "I0.position": 0, "I0.type.map": "conv2d",
                "I0.conv2d.filters": 0.5, "I0.conv2d.kernel": 3}
"""A child of the digits CNN's space far over :data:`DIGITS_FLOPS` (416 k parameters):
RenaSampler, which tries feasible children first, might draw none such."""


def front_study(sampler: optuna.samplers.BaseSampler, n_trials: int = 24, *,
                objectives: tuple[str, ...] = ("params",),
                storage: str | optuna.storages.BaseStorage | None = None,
                study_name: str | None = None, names: bool = True,
                enqueued: Sequence[dict[str, Any]] = ()) -> optuna.Study:
    """A multi-objective study of real children of the digits CNN's space under
    :data:`DIGITS_FLOPS`, without training: a score that grows with the child's
    parameters (the quality, maximised) against the child's ``objectives`` (minimised);
    the ``enqueued`` trials first."""
    space = ArchitectureSpace(zoo.digits_cnn(), [DIGITS_FLOPS], max_inserts=1, notes=False)

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        child = space.suggest(trial)
        params = trial.user_attrs["params"]
        score = round(100 * (1 - 1 / (1 + (params / 3000) ** 0.5)) - len(child.layers), 2)
        return (score, *(float(trial.user_attrs[m]) for m in objectives))

    study = optuna.create_study(directions=["maximize", *["minimize"] * len(objectives)],
                                sampler=sampler, storage=storage, study_name=study_name)
    if names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(["accuracy", *objectives])
    for params in enqueued:
        study.enqueue_trial(params)
    study.optimize(objective, n_trials=n_trials)
    return study


class FiguresFailStorage(optuna.storages.InMemoryStorage):
    """A storage that refuses optuna-dashboard's figures (too large for a database column,
    say) and keeps everything else."""

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        if key.startswith("dashboard:plot_data:"):
            raise RuntimeError("the figure is too large for this storage")
        super().set_study_system_attr(study_id, key, value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def every_layer_type_image() -> NetworkSpec:
    return NetworkSpec(InputSpec.image(3, 20, 18), [
        Conv2d(8, (3, 5), (1, 2)),
        SeparableConv2d(12, 3, 2),
        InvertedResidual(12, 4, 3),  # residual: same channels, stride 1
        InvertedResidual(16, 1, (5, 3), 1),  # expansion 1: no expand convolution
        BasicBlock(16),
        BasicBlock(24, 3, 2),  # projection shortcut
        MaxPool2d(2, 1),
        AvgPool2d((1, 2)),
        Dropout(0.1),
        GlobalAvgPool(),
        Linear(32),
        Linear(10, activation="none"),
    ], "every_image_layer")


def every_layer_type_audio() -> NetworkSpec:
    return NetworkSpec(InputSpec.audio(20, 30), [
        Conv2d(6, (5, 3), (2, 1), padding="valid", batch_norm=False, activation="relu6"),
        ToSequence(),
        GRU(8, bidirectional=True, return_sequences=True),
        LSTM(5, return_sequences=True),
        LSTM(7, bidirectional=True),
        Linear(12, activation="none"),
    ], "every_audio_layer")


def flatten_sequence() -> NetworkSpec:
    return NetworkSpec(InputSpec.audio(8, 6), [
        ToSequence(), GRU(4, return_sequences=True), Flatten(), Linear(3)])


ALL_SPECS = [every_layer_type_image, every_layer_type_audio, flatten_sequence,
             zoo.cifar10_resnet, zoo.kws_crnn, zoo.ds_cnn,
             lambda: zoo.nas_bench_macro("01201020")]


def check_rena_trials(trials: list[optuna.trial.FrozenTrial]) -> None:
    """RenaSampler's own guarantees on a study's trials, however workers or threads
    interleaved: each trial's stored decision order (``rena:order``) names each of its
    parameters once, and no two trials have the same child network (each plan is new
    while new ones exist, and a plan served to one trial is served to no other)."""
    for t in trials:
        order = t.system_attrs["rena:order"]
        assert len(order) == len(set(order)) and set(order) == set(t.params), (
            t.number, order, t.params)
    children = [t.system_attrs["rena:child_spec"] for t in trials]
    assert len(set(children)) == len(children), "a child network planned twice"


def check_learnt_once(learned: list[int], finished: set[int], batch_size: int) -> None:
    """RenaSampler's learner takes each finished trial once, in full batches."""
    assert len(learned) == len(set(learned)), "a trial learnt twice"
    assert set(learned) <= finished, set(learned) - finished
    assert len(learned) % batch_size == 0, (len(learned), batch_size)
