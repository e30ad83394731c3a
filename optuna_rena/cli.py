"""The ``optuna-rena`` command line.

One class per subcommand, its arguments beside its action, as Optuna's own CLI pairs
``add_arguments`` with ``take_action``; :func:`build_parser` and :func:`main` put them
together.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import importlib.util
import logging
import math
import os
from pathlib import Path
import shlex
import sys
from typing import Any
import warnings

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import torch
from tqdm import tqdm

from optuna_rena import zoo
from optuna_rena._benchmark import run_benchmark
from optuna_rena._benchmark.results import hide_password
from optuna_rena._budget import study_budget
from optuna_rena._constraints import Constraint
from optuna_rena._dashboard import dashboard_storage
from optuna_rena._dashboard import feasible_best_trials
from optuna_rena._failures import BrokenObjectiveError
from optuna_rena._failures import Failures
from optuna_rena._failures import FAILURES_IN_A_ROW
from optuna_rena._failures import filtered_trial_reports
from optuna_rena._failures import one_line_failures
from optuna_rena._front import check_budgets
from optuna_rena._front import objective_names
from optuna_rena._latency import measure_latency
from optuna_rena._metrics import INTERRUPTED_ATTR
from optuna_rena._metrics import mark_interrupted
from optuna_rena._metrics import METRICS
from optuna_rena._pruners import make_pruner
from optuna_rena._pruners import PRUNER_NAMES
from optuna_rena._pruners import pruner_text
from optuna_rena._report import best_feasible_report
from optuna_rena._report import layer_table
from optuna_rena._report import running_trials_text
from optuna_rena._report import trial_line
from optuna_rena._resources import ResourceModel
from optuna_rena._sampler import RenaSampler
from optuna_rena._space import UnreachableBudgetWarning
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import SpecError
from optuna_rena._storage import open_storage
from optuna_rena._storage import storage_error_text
from optuna_rena._tasks import is_user_objective
from optuna_rena._tasks import make_task
from optuna_rena._tasks import TASK_NAMES


_BASELINES: dict[str, Callable[[], NetworkSpec]] = {
    "cifar10-resnet": zoo.cifar10_resnet,
    "kws-crnn": zoo.kws_crnn,
    "ds-cnn": zoo.ds_cnn,
    "digits-cnn": zoo.digits_cnn,
}

# --min-intensity was the flag's first name; it stays as an alias.
_FLAG_ALIASES = {"--min-compute-intensity": ["--min-intensity"]}

_STORAGE_HELP = "Optuna storage URL, or journal:PATH for a journal file"

# Where a search keeps its study, and so where a report looks for it.
_SEARCH_STORAGE = "sqlite:///optuna-rena.db"

# What _default_data_dir() looks for, in --help: the value itself differs by machine.
_DATA_DIR_DEFAULT = "default: $OPTUNA_RENA_DATA, or ../shared/data when it exists"


def load_baseline(name: str) -> NetworkSpec:
    """A zoo network by name (``nas-bench-macro:CODE`` for NAS-Bench-Macro) or a spec
    JSON file.

    Raises:
        ValueError: Unknown name, unreadable file or invalid spec.
    """
    if name in _BASELINES:
        return _BASELINES[name]()
    if name.startswith("nas-bench-macro:"):
        return zoo.nas_bench_macro(name.split(":", 1)[1])
    path = Path(name)
    if path.suffix == ".json":
        try:
            text = path.read_text()
        except OSError as e:
            raise ValueError(f"cannot read the spec file {name!r}: {e.strerror}.") from None
        return NetworkSpec.from_json(text)
    raise ValueError(
        f"unknown baseline {name!r}; expected one of {sorted(_BASELINES)}, "
        "nas-bench-macro:CODE (8 digits of 0, 1, 2) or a spec .json file."
    )


class _Command:
    """A subcommand of ``optuna-rena``: its arguments and its action, side by side."""

    help: str
    """The line in ``optuna-rena --help``."""

    description: str | None = None
    """The paragraph atop the subcommand's own ``--help``; ``None``: none."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the subcommand's arguments to its parser."""

    def take_action(self, args: argparse.Namespace) -> int:
        """Run the subcommand on the parsed arguments and return its exit code. A
        ``ValueError`` or :class:`SpecError` is the user's mistake: :func:`main` says it
        in one line."""
        raise NotImplementedError


class _Resources(_Command):
    help = "count a network's parameters, FLOPs, bytes and compute intensity"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "baseline", nargs="?", default="cifar10-resnet",
            help=f"one of {sorted(_BASELINES)}, nas-bench-macro:CODE, or a spec .json file "
                 "(default: cifar10-resnet)",
        )
        parser.add_argument("--dtype", default="float32",
                            help="element type for the bytes moved (default: float32)")
        parser.add_argument("--latency", action="store_true",
                            help="also measure the forward latency on this machine")
        parser.add_argument("--batch-size", type=_positive_int, default=1,
                            help="batch size for --latency (default: 1)")
        parser.add_argument("--json", action="store_true", help="also print the spec as JSON")

    def take_action(self, args: argparse.Namespace) -> int:
        spec = load_baseline(args.baseline)
        resources = ResourceModel(args.dtype).count(spec)
        print(f"{spec.name or args.baseline}: input {spec.input.kind} {spec.input.shape}\n")
        print(layer_table(spec, resources))
        print(f"\nparams {resources.params:,}  FLOPs {resources.flops:,} (= 2 x "
              f"{resources.macs:,} MACs)  bytes {resources.bytes:,}  compute intensity "
              f"{resources.compute_intensity:.2f} FLOPs/byte ({args.dtype})")
        if args.latency:
            ms = measure_latency(spec, batch_size=args.batch_size)
            print(f"latency: {ms:.3f} ms per forward pass at batch size {args.batch_size} "
                  "(median of 20)")
        if args.json:
            print("\n" + spec.to_json(indent=2))
        return 0


def _add_pruner_option(parser: argparse.ArgumentParser, default: str) -> None:
    """``--pruner``, the same choices for search and benchmark (:mod:`optuna_rena._pruners`)."""
    parser.add_argument("--pruner", choices=PRUNER_NAMES, default=default,
                        help="Optuna pruner for the per-epoch reports: "
                             + "; ".join(pruner_text(n) for n in PRUNER_NAMES)
                             + f" (default: {default})")


class _Search(_Command):
    help = "run a resource-constrained architecture search with RenaSampler"
    description = ("Search a task's architecture space with RenaSampler, training each "
                   "child for real; the study is stored so optuna-dashboard can show it "
                   "and a second run with the same --study-name continues it.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--task", default="digits",
                            help=f"one of {list(TASK_NAMES)} or module:function (default: "
                                 "digits, embedded, no download); a *-front task has "
                                 "several objectives (accuracy against latency, params or "
                                 "MACs) and its study their directions")
        parser.add_argument("--data-dir", default=_default_data_dir(),
                            help="folder with nas_bench_macro/, cifar10/, speech_commands/ "
                                 f"({_DATA_DIR_DEFAULT}); without it CIFAR-10 and Speech "
                                 "Commands are downloaded")
        parser.add_argument("--trials", type=_positive_int, default=30,
                            help="trials to run (default: 30)")
        parser.add_argument("--timeout", type=_positive_float, default=None,
                            help="stop after this many seconds (default: no limit)")
        parser.add_argument("--epochs", type=_positive_int, default=3,
                            help="training epochs per child (default: 3)")
        parser.add_argument("--device", default=None,
                            help="cpu or cuda (default: cuda if present)")
        parser.add_argument("--threads", type=_positive_int, default=1,
                            help="torch threads on the CPU (default: 1; the tasks' networks "
                                 "are too small to gain from more, and where other processes "
                                 "keep the cores busy, threads that wait on each other made "
                                 "an epoch 10 to 15 times slower)")
        parser.add_argument("--seed", type=_seed, default=None,
                            help="RenaSampler's seed (default: a random one); the tasks seed each child's training "
                                 "from its trial, so a seeded search repeats")
        _add_storage_option(parser, _SEARCH_STORAGE)
        parser.add_argument("--study-name", default=None,
                            help="study name (default: rena-TASK); an existing study "
                                 "continues")
        _add_pruner_option(parser, "median")
        parser.add_argument("--heartbeat", type=_non_negative_int, default=60,
                            metavar="SECONDS",
                            help="with an RDB storage, seconds between a running trial's "
                                 "heartbeats: a trial whose run was killed is failed by the "
                                 "next run after twice this and retried once (default: 60; "
                                 "0: off)")
        parser.add_argument("--fail-running-trials", action="store_true",
                            help="before the run, mark FAIL the study's RUNNING trials, which "
                                 "a killed run leaves where no heartbeats are kept (a journal "
                                 "file); they teach RenaSampler nothing. A live worker's trial "
                                 "is RUNNING too: only when no other process runs the study")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        _add_budget_option(parser)
        _add_constraint_flags(parser)

    def take_action(self, args: argparse.Namespace) -> int:
        # Set before the task is made, which computes Speech Commands' features. Measured
        # on a 2-core machine with other work on it (load 7-10): a speech-commands epoch
        # took 11-13 s on one thread and 150-190 s on two, whose every small operation
        # waits for the other.
        threads = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            return self._search(args)
        finally:
            # main() may run inside a process that goes on: a test, a notebook.
            torch.set_num_threads(threads)

    def _search(self, args: argparse.Namespace) -> int:
        constraints = _constraints_from(args)
        if is_user_objective(args.task):
            task = make_task(args.task, constraints=constraints)
        else:
            task = make_task(args.task, data_dir=args.data_dir, constraints=constraints,
                             epochs=args.epochs, device=args.device)
        study_name = args.study_name or f"rena-{args.task}"
        # Crash recovery wherever the storage keeps heartbeats (RDB): a killed run's trial
        # is failed by the next run and retried once with the same network.
        heartbeat = args.heartbeat if args.heartbeat and not args.storage.startswith(
            "journal:") else None
        budgets = _budgets_from(args)
        # Nothing is said before the study is accepted: Optuna's "Using an existing study"
        # would precede the error of a run refused for another task.
        with _HeldLines() as opening:
            try:
                # A task of several objectives (nb201-front:pixel3) has their directions.
                study = optuna.create_study(
                    storage=open_storage(args.storage, heartbeat_interval=heartbeat),
                    study_name=study_name, directions=list(task.directions),
                    sampler=RenaSampler(seed=args.seed), pruner=make_pruner(args.pruner),
                    load_if_exists=True)
            except Exception as e:  # noqa: BLE001 - a bad URL or an unreachable database
                raise ValueError(f"cannot open the storage {args.storage!r}: "
                                 f"{storage_error_text(e)}") from None
            if task.space is not None:
                task.space.check_study(study)  # before a trial that Optuna would fail
            # Refuses a study of another task, budget, space or directions: Optuna loads an
            # existing study with its own directions, whatever create_study was asked.
            task.record(study)
            if budgets is not None:
                check_budgets(study, budgets)  # a wrong name is said before any trial
        opening.release()
        # Every trial running now was started by another process: this run has none yet.
        _check_running_trials(study, study_name, args.storage, heartbeat is not None,
                              fail=args.fail_running_trials)
        finished = len(study.trials)
        if finished:
            print(f"continuing the study {study_name!r}: {finished} trials so far")
        unreachable = task.space.unreachable() if task.space is not None else []
        for problem in unreachable:
            # The space's sentence carries its own advice.
            print(f"optuna-rena search: warning: {problem}", file=sys.stderr)
        # Imported here: plotly takes a while to import, and only a search draws.
        from optuna_rena.visualization import DashboardFigures

        figures = DashboardFigures(every=10, constraints=task.constraints, budgets=budgets)
        failures = Failures(task.objective, task.metric_name, task.constraints,
                            limit=min(FAILURES_IN_A_ROW, args.trials))
        callbacks = [_log_trial(task.metric_name, task.constraints), failures, figures]
        try:
            with _quiet_interruption(), one_line_failures(), _quiet_trial_lines(), (
                    warnings.catch_warnings()):
                # Said above, once, without the sampler's source line.
                warnings.filterwarnings("ignore", category=UnreachableBudgetWarning)
                # Any exception of the objective fails its trial only, as a child that
                # does not train does; Failures stops an objective that always raises.
                study.optimize(_interruptible(failures.objective), n_trials=args.trials,
                               timeout=args.timeout, show_progress_bar=not args.no_progress,
                               catch=(Exception,), callbacks=callbacks)
            try:
                figures.refresh(study)  # the last trials' too
            except Exception as e:  # noqa: BLE001 - a figure is not worth a finished search
                print(f"optuna-rena search: warning: the resource figures were not saved: "
                      f"{e}", file=sys.stderr)
        except KeyboardInterrupt:
            done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            print(f"\noptuna-rena search: interrupted; {done} complete trials are kept in "
                  f"{args.storage}, and the same command continues the study.",
                  file=sys.stderr)
            return 130
        if failures.stopped_by is not None:
            print(f"optuna-rena search: error: {failures.stopped_text()}; the search "
                  "stopped. Fix the objective, and the same command continues the study.",
                  file=sys.stderr)
            return 1
        # Of several objectives: the front, and the best network within each budget.
        print(best_feasible_report(study, task.constraints, budgets))
        print(f"\nwatch it: {_dashboard_command(args.storage)}")
        return 0


class _HeldLines(logging.Filter):
    """Optuna's INFO lines ("A new study created", "Using an existing study") held back
    while the context lasts, and said by :meth:`release`; when the context ends in an
    error they are dropped, so a refused run says its error alone. Warnings pass at once.

    The filter sits on the handlers of Optuna's root logger, which every Optuna module's
    logger reaches (a logger's own filter would see its own records only).
    """

    def __init__(self) -> None:
        super().__init__()
        self._handlers = list(logging.getLogger("optuna").handlers)
        self._held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if not any(r is record for r in self._held):  # once, whatever the handlers
            self._held.append(record)
        return False

    def __enter__(self) -> _HeldLines:
        for handler in self._handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for handler in self._handlers:
            handler.removeFilter(self)

    def release(self) -> None:
        """Say the held lines, as they would have been said."""
        held, self._held = self._held, []
        for record in held:
            for handler in self._handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)


def _check_running_trials(study: optuna.Study, study_name: str, storage: str,
                          heartbeats: bool, *, fail: bool) -> None:
    """Name the study's RUNNING trials in one line and, with ``fail``, mark them FAIL.

    Without heartbeats (Optuna 5.1 keeps none on a journal file) a killed run's trial stays
    RUNNING forever, and nothing can tell it from a live worker's, since several workers
    may share a study on purpose: only the user may fail them. With heartbeats, Optuna
    fails a stale trial itself and the run retries it, so there is nothing to say.
    """
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return
    count = f"{len(running)} RUNNING {'trial' if len(running) == 1 else 'trials'}"
    if fail:
        failed = [t for t in running if _fail_running_trial(study, t)]
        if failed:
            print(f"--fail-running-trials: marked FAIL {len(failed)} of the {count} that "
                  f"another run left in the study {study_name!r}: "
                  f"{running_trials_text(failed)}")
        return
    if heartbeats:
        return
    why = ("a journal file keeps no heartbeats" if storage.startswith("journal:")
           else "--heartbeat 0 keeps no heartbeats")
    print(f"optuna-rena search: warning: the study {study_name!r} has {count} that this "
          f"run did not start: {running_trials_text(running)}; {why}, so a killed run's "
          "trial stays RUNNING, and another worker's live trial looks the same: if no other "
          "process runs this study, --fail-running-trials marks them FAIL before the run.",
          file=sys.stderr)


def _fail_running_trial(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Mark a running ``trial`` of another run FAIL; ``False`` if it finished meanwhile."""
    try:
        # A killed run says nothing about the trial's network: RenaSampler learns nothing
        # from it, as from a trial stopped by Ctrl-C.
        study._storage.set_trial_system_attr(trial._trial_id, INTERRUPTED_ATTR, True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    # Optuna's public way to finish a trial of a study; one that finished in between is
    # left as it is.
    return study.tell(trial.number, state=TrialState.FAIL,
                      skip_if_finished=True).state == TrialState.FAIL


def _log_trial(metric_name: str, constraints: Sequence[Constraint]
               ) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A callback that prints one line per finished trial: feasible or not, the objective
    and the resources under budget (a trial failed by an exception is :class:`Failures`'
    line; Optuna warns of another failed trial itself)."""
    def log(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state != TrialState.FAIL:
            # Of several objectives, each by the name the study gives it.
            names = objective_names(study) if study._is_multi_objective() else metric_name
            # Above the progress bar, when there is one.
            tqdm.write(trial_line(trial, names, constraints), file=sys.stdout)
    return log


@contextlib.contextmanager
def _quiet_trial_lines() -> Iterator[None]:
    """Optuna's INFO line per trial (every parameter, a dict as the value, no word on the
    budget) gives way to :func:`_log_trial`'s."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _interruptible(
        objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    """The objective, marking a trial that Ctrl-C stops: it is failed like any other, but
    says nothing about its network, so RenaSampler learns nothing from it."""
    def run(trial: optuna.Trial) -> float:
        try:
            return objective(trial)
        except KeyboardInterrupt:
            mark_interrupted(trial)
            raise
    return run


class _Benchmark(_Command):
    help = "compare samplers on a task, side by side, over seeds"
    description = ("Run each sampler with each seed as its own study in one storage; "
                   "write a Markdown table, a JSON file of every number and plots.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--task", default="nas-bench-macro",
                            help=f"one of {list(TASK_NAMES)} or module:function "
                                 "(default: nas-bench-macro). A *-front task has several "
                                 "objectives: its results are the hypervolume gap to the "
                                 "true front at 50, 100 and the last trial and the regret "
                                 "under four budgets (digits-front knows no true front: the "
                                 "gap is to the best front any sampler found in the run)")
        parser.add_argument("--samplers", nargs="+", default=["rena", "random", "tpe"],
                            help="rena, rena-paper, random, tpe, gp, nsga2, "
                                 "rena:key=value,... or module:Class (default: rena random "
                                 "tpe)")
        parser.add_argument("--trials", type=_positive_int, default=100,
                            help="trials per run (default: 100)")
        parser.add_argument("--seeds", type=_positive_int, default=3,
                            help="runs per sampler (default: 3)")
        parser.add_argument("--fewer-seeds", type=_sampler_count, nargs="*", default=[],
                            metavar="SAMPLER=N",
                            help="run SAMPLER with only its first N seeds (a slow one such "
                                 "as gp) (default: every sampler runs every seed)")
        parser.add_argument("--data-dir", default=_default_data_dir(),
                            help="folder with nas_bench_macro/, cifar10/, speech_commands/ "
                                 f"({_DATA_DIR_DEFAULT})")
        parser.add_argument("--epochs", type=_positive_int, default=3,
                            help="training epochs per child for real-training tasks "
                                 "(default: 3)")
        parser.add_argument("--device", default=None,
                            help="cpu or cuda (default: cuda if present)")
        _add_storage_option(parser, "sqlite:///optuna-rena-benchmark.db")
        parser.add_argument("--study-prefix", default="",
                            help="prefix of the study names (default: none)")
        parser.add_argument("--direction", choices=["maximize", "minimize"],
                            default="maximize",
                            help="for a module:function objective of one value (default: "
                                 "maximize)")
        parser.add_argument("--out", default="benchmark-results",
                            help="output folder (default: benchmark-results)")
        parser.add_argument("--jobs", type=_positive_int, default=1,
                            help="runs in parallel processes (default: 1)")
        # None by default: results of tasks whose trials report stay unpruned unless asked.
        _add_pruner_option(parser, "none")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        _add_constraint_flags(parser)

    def take_action(self, args: argparse.Namespace) -> int:
        # Each child's note, as a search writes it: a benchmark's trials are looked at in the
        # dashboard as much as a search's.
        task_options: dict[str, object] = {
            "data_dir": args.data_dir, "epochs": args.epochs,
            "constraints": _constraints_from(args)}
        if args.device:
            task_options["device"] = args.device
        if is_user_objective(args.task):
            task_options = {"constraints": task_options["constraints"]}
        try:
            with _quiet_interruption():  # Ctrl-C: main()'s one line, no trial's traceback
                report = run_benchmark(
                    args.task, args.samplers, args.seeds, args.trials, storage=args.storage,
                    sampler_seeds=dict(args.fewer_seeds),
                    study_prefix=args.study_prefix, out_dir=args.out,
                    task_options=task_options, direction=args.direction, jobs=args.jobs,
                    progress=not args.no_progress, command=_command_line(args.argv),
                    pruner=args.pruner)
        except BrokenObjectiveError as e:
            # As a search's: exit code 1, the failed trials kept; a run again needs other
            # study names, since these studies exist now.
            print(f"optuna-rena benchmark: error: {e} Fix the objective, and run it again "
                  "with another --storage or --study-prefix.", file=sys.stderr)
            return 1
        # results.md's own text, so what is printed and what is kept cannot differ.
        print("\n" + report["markdown"], end="")
        print("\nwrote " + ", ".join(report["files"]))
        if args.storage:
            print(f"browse the studies: {_dashboard_command(args.storage)}")
        return 0


def _command_line(argv: Sequence[str]) -> str:
    """``argv`` as one shell line after ``optuna-rena``, without a storage password."""
    return hide_password(shlex.join(["optuna-rena", *argv]))


class _Dashboard(_Command):
    help = "optuna-dashboard, whose Best Trial is the best feasible one"
    description = ("Serve optuna-dashboard on a storage as `optuna-dashboard "
                   "STORAGE` does, except that each study's Best Trial card shows the best "
                   "trial that meets its constraints, as Optuna's study.best_trial is, or, "
                   "when no trial is feasible, the storage's best trial, drawn infeasible "
                   "(the plain optuna-dashboard's card ignores constraints); of a "
                   "multi-objective study, the Best Trials card lists the feasible Pareto "
                   "front, as study.best_trials does.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("storage", help=_STORAGE_HELP)
        parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
        parser.add_argument("--port", type=_positive_int, default=8080, help="default: 8080")

    def take_action(self, args: argparse.Namespace) -> int:
        try:
            import optuna_dashboard
        except ImportError:
            raise ValueError("the dashboard needs optuna-dashboard: pip install "
                             "'optuna-rena[dashboard]'.") from None
        storage, _ = _read_storage(args.storage)
        print(f"optuna-dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
        with feasible_best_trials():  # a multi-objective study's Best Trials: its feasible front
            optuna_dashboard.run_server(dashboard_storage(storage), host=args.host,
                                        port=args.port)
        return 0


class _Report(_Command):
    help = "write a study's resource figures as HTML and PNG, for offline reading"
    description = ("Write the resource figures of a study of any sampler (the objective "
                   "against each constrained metric with the budget, the Pareto front "
                   "against each resource, the best feasible so far) as report.html, "
                   "which embeds plotly.js and opens with no network, and as PNGs. Of a "
                   "multi-objective study (the first objective is the quality, the others "
                   "budget axes): the feasible front against each budget axis and the best "
                   "network within each budget, also printed with its layers.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_storage_option(parser, _SEARCH_STORAGE)
        parser.add_argument("--study-name", default=None,
                            help="the study (default: the storage's only study)")
        parser.add_argument("--out", default="optuna-rena-report",
                            help="output folder (default: optuna-rena-report)")
        _add_budget_option(parser)

    def take_action(self, args: argparse.Namespace) -> int:
        missing = [m for m in ("plotly", "matplotlib") if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"the report needs {' and '.join(missing)}: pip install "
                             "'optuna-rena[dashboard,benchmark]'.")
        from optuna_rena._offline_report import write_report

        storage, names = _read_storage(args.storage)
        name = args.study_name
        if name is None and len(names) != 1:
            raise ValueError(f"{args.storage} holds {len(names)} studies; name one with "
                             f"--study-name: {', '.join(names) or 'none'}.")
        name = name if name is not None else names[0]
        if name not in names:
            raise ValueError(f"no study {name!r} in {args.storage}; it holds "
                             f"{', '.join(names) or 'none'}.")
        study = optuna.load_study(study_name=name, storage=storage)
        budgets = _budgets_from(args)
        if budgets is not None:
            check_budgets(study, budgets)
        paths = write_report(study, args.out, budgets=budgets)
        print(f"{name}: wrote " + ", ".join(str(p) for p in paths))
        if study._is_multi_objective():
            print(best_feasible_report(study, study_budget(study), budgets))
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if running:
            # A killed run's trial stays RUNNING where no heartbeats are kept (a journal).
            print(f"optuna-rena report: warning: the study {name!r} has {len(running)} "
                  f"RUNNING {'trial' if len(running) == 1 else 'trials'}, not drawn: "
                  f"{running_trials_text(running)}; a live worker's, or a killed run's: if "
                  "no process runs this study, optuna-rena search --fail-running-trials "
                  "marks them FAIL.", file=sys.stderr)
        print(f"open {paths[0]} in a browser; it needs no network.")
        return 0


# In the order of ``optuna-rena --help``.
_COMMANDS: dict[str, type[_Command]] = {
    "resources": _Resources,
    "search": _Search,
    "benchmark": _Benchmark,
    "dashboard": _Dashboard,
    "report": _Report,
}


def _add_storage_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--storage", default=default,
                        help=f"{_STORAGE_HELP} (default: {default})")


def _add_budget_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget", dest="budgets", type=_budget_list, action="append", default=None,
        metavar="OBJECTIVE=B1,B2,...",
        help="of a multi-objective study, whose first objective is the quality and the "
             "others budget axes: the budgets on one axis, by the objective's name or "
             "index (latency_ms=2,4,8); the best network within each is reported. Repeat "
             "for other axes (default: the 25, 50 and 75 %% quantiles of the front on "
             "each axis)")


def _budget_list(text: str) -> tuple[str, tuple[float, ...]]:
    name, sep, values = text.rpartition("=")
    limits = []
    for value in values.split(","):
        try:
            limits.append(float(value))
        except ValueError:
            limits.append(math.nan)
    if not sep or not name or not all(math.isfinite(v) for v in limits):
        raise argparse.ArgumentTypeError(
            f"expected OBJECTIVE=B1,B2,... (latency_ms=2,4,8), got {text!r}")
    return name, tuple(limits)


def _budgets_from(args: argparse.Namespace) -> dict[str, tuple[float, ...]] | None:
    """The --budget flags by objective, or ``None`` when none was given (the front's
    quantiles)."""
    if args.budgets is None:
        return None
    out: dict[str, tuple[float, ...]] = {}
    for name, limits in args.budgets:
        if name in out:
            raise ValueError(f"--budget {name} is given twice; give its budgets once, as "
                             f"one list: --budget {name}=B1,B2,...")
        out[name] = limits
    return out


def _read_storage(url: str) -> tuple[Any, list[str]]:
    """A storage that a command only reads (it must exist; it need not be writable), and
    its study names."""
    try:
        storage = open_storage(url, read_only=True)
        return storage, optuna.get_all_study_names(storage)
    except Exception as e:  # noqa: BLE001 - a bad URL or an unreachable database
        raise ValueError(f"cannot open the storage {url!r}: {storage_error_text(e)}") from None


def _dashboard_command(storage: str) -> str:
    """The command that shows ``storage``'s studies: ``optuna-rena dashboard``, not the
    plain optuna-dashboard, whose Best Trial card ignores constraints and may show an
    infeasible trial as the best."""
    return f"optuna-rena dashboard {shlex.quote(storage)}"


def _flag(metric_name: str, bound: str) -> str:
    return f"--{bound}-{metric_name.replace('_', '-')}"


def _add_constraint_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "constraints", "resource budgets; without any, the task's defaults apply")
    for m in METRICS:
        flag = _flag(m.name, m.usual_bound)
        bound = "at most" if m.usual_bound == "max" else "at least"
        group.add_argument(flag, *_FLAG_ALIASES.get(flag, []), type=_positive_float,
                           metavar="X", help=f"{bound} X: {m.meaning}")


def _constraints_from(args: argparse.Namespace) -> list[Constraint] | None:
    """The constraint flags, or ``None`` when none was given (the task's defaults)."""
    given = []
    for m in METRICS:
        value = getattr(args, _flag(m.name, m.usual_bound)[2:].replace("-", "_"))
        if value is not None:
            given.append(Constraint(m.name, **{m.usual_bound: value}))
    return given or None


class _DropInterruption(logging.Filter):
    """Optuna reports a failed trial in two WARNING records (``_log_failed_trial`` in
    optuna/study/_optimize.py), the first with the exception as ``exc_info``; for a trial
    that Ctrl-C stopped, the command says it in one line instead.

    The records are told apart by what they carry, not by Optuna's wording, which is no
    interface: the one whose ``exc_info`` is a KeyboardInterrupt begins the report of a
    stopped trial, and everything the logger says after it ends that report, as Optuna
    re-raises a KeyboardInterrupt (``catch`` takes only Exceptions) and logs nothing else
    on the way out. A failed child's records carry another exception and pass.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is not None and isinstance(record.exc_info[1], KeyboardInterrupt):
            self.stopped = True
        return not self.stopped


def _quiet_interruption() -> contextlib.AbstractContextManager[None]:
    return filtered_trial_reports(_DropInterruption())


def _argument_type(convert: Callable[[str], Any], accept: Callable[[Any], bool],
                   expected: str) -> Callable[[str], Any]:
    """An argparse type: the text converted, and refused with what was expected unless
    it converts and is accepted."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_float = _argument_type(float, lambda v: 0 < v < math.inf, "a positive number")
_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "an integer >= 0")
# Checked here, not by RenaSampler: its error would surface as the storage's.
_seed = _argument_type(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")


def _sampler_count(text: str) -> tuple[str, int]:
    name, sep, count = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected SAMPLER=N, got {text!r}")
    return name, _positive_int(count)


def _default_data_dir() -> str | None:
    env = os.environ.get("OPTUNA_RENA_DATA")
    if env:
        return env
    local = Path("..") / "shared" / "data"
    return str(local) if local.is_dir() else None


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; a parsed command's ``take_action`` runs it."""
    parser = argparse.ArgumentParser(
        prog="optuna-rena",
        description="Resource-constrained neural architecture search (RENA) for Optuna.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command_type in _COMMANDS.items():
        command = command_type()
        command_parser = sub.add_parser(name, help=command.help,
                                        description=command.description)
        command.add_arguments(command_parser)
        command_parser.set_defaults(take_action=command.take_action)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The benchmark writes the command that ran it into its results.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.take_action(args))
    except (SpecError, ValueError) as e:
        # A user mistake ends in one line naming it, not in a traceback.
        print(f"optuna-rena {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\noptuna-rena {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
