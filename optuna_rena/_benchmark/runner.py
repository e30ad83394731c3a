"""Running a benchmark: every sampler with every seed on one task, each run its own study
in one storage, and the results written as JSON, Markdown and plots.

A task of several objectives (``nb201-front:pixel3``) makes studies of its directions;
its results are the hypervolume gap and the budget regrets (:mod:`.fronts`), against the
task's true front, or, when it knows none, against the best front found by any run.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
import json
from pathlib import Path
import signal
import tempfile
import time
from typing import Any
import warnings

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._benchmark.fronts import front_markdown
from optuna_rena._benchmark.fronts import front_record
from optuna_rena._benchmark.fronts import front_tables
from optuna_rena._benchmark.fronts import gap_curve
from optuna_rena._benchmark.fronts import median_gap_curves
from optuna_rena._benchmark.fronts import pooled_front
from optuna_rena._benchmark.fronts import summarise_front
from optuna_rena._benchmark.plots import write_gap_plots
from optuna_rena._benchmark.plots import write_plots
from optuna_rena._benchmark.results import checkpoints_for
from optuna_rena._benchmark.results import feasible_and_complete
from optuna_rena._benchmark.results import hide_password
from optuna_rena._benchmark.results import json_safe
from optuna_rena._benchmark.results import markdown_table
from optuna_rena._benchmark.results import NULL_MEANS
from optuna_rena._benchmark.results import results_markdown
from optuna_rena._benchmark.results import RunResult
from optuna_rena._benchmark.results import summarise
from optuna_rena._benchmark.samplers import fixed_seed
from optuna_rena._benchmark.samplers import make_sampler
from optuna_rena._benchmark.samplers import TimedSampler
from optuna_rena._failures import BrokenObjectiveError
from optuna_rena._failures import Failures
from optuna_rena._failures import FAILURES_IN_A_ROW
from optuna_rena._failures import one_line_failures
from optuna_rena._pruners import make_pruner
from optuna_rena._pruners import pruner_text
from optuna_rena._storage import open_storage
from optuna_rena._storage import storage_error_text
from optuna_rena._tasks import make_task
from optuna_rena._tasks import Task
from optuna_rena.visualization import save_to_dashboard


def run_one(
    task_name: str,
    sampler_name: str,
    seed: int,
    n_trials: int,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    task_options: dict[str, Any] | None = None,
    direction: str = "maximize",
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    pruner: str = "none",
) -> RunResult:
    """One study of ``task_name`` with one sampler and seed; ``direction`` is that of a
    user's objective of one value (a task of several objectives has its own); ``pruner``,
    one of :data:`~optuna_rena._pruners.PRUNER_NAMES`, judges the trials' reports.

    An exception of the objective fails its trial only, said in one line, as in a search
    (:class:`~optuna_rena._failures.Failures`).

    Raises:
        BrokenObjectiveError: The objective failed
            :data:`~optuna_rena._failures.FAILURES_IN_A_ROW` trials in a row (or all of
            fewer ``n_trials``) with the same exception; the study keeps them.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = make_task(task_name, **(task_options or {}))
    if not task.is_multi_objective:
        # A user's objective of one value may be minimised; the task is then recorded so.
        task = dataclasses.replace(task, directions=(direction,))
    timed = TimedSampler(make_sampler(sampler_name, seed))

    # The objective writes each constraint where Optuna and optuna-dashboard both read it,
    # once (optuna_rena.set_constraint), so every sampler's study shows right in the
    # dashboard and Optuna's samplers run as users run them.
    objective = task.objective
    name = study_name or f"{task_name}:{sampler_name}:seed{seed}"
    directions = task.directions
    # A pruner of its own per study: Hyperband's brackets are a study's state.
    study = optuna.create_study(directions=list(directions), sampler=timed,
                                pruner=make_pruner(pruner), storage=open_storage(storage),
                                study_name=name)
    task.record(study)  # the task, budget, space and objective's name, as search's
    # Any exception of the objective fails its trial only, as in a search (a user's
    # module:function may raise anything); one that fails every trial stops the run.
    failures = Failures(objective, task.metric_name, task.constraints,
                        limit=min(FAILURES_IN_A_ROW, n_trials), prefix=f"{name}: ")
    start = time.perf_counter()
    with one_line_failures():
        study.optimize(failures.objective, n_trials=n_trials,
                       callbacks=[*callbacks, failures], catch=(Exception,))
    wall = time.perf_counter() - start
    if failures.stopped_by is not None:
        raise BrokenObjectiveError(f"{failures.stopped_text()}, in the study {name!r}; the "
                                   "benchmark stopped.")
    try:
        save_to_dashboard(study, task.constraints)  # once, after the run: no cost on its clock
    except Exception as e:  # noqa: BLE001 - a figure is not worth a finished run
        warnings.warn(f"the resource figures of {name!r} were not saved: {e}", stacklevel=2)
    trials = study.get_trials(deepcopy=False)
    several = len(directions) > 1
    return RunResult(
        sampler_name, seed, name,
        [(t.values if several else t.value) if t.state == TrialState.COMPLETE else None
         for t in trials],
        [feasible_and_complete(t) for t in trials], [t.state.name for t in trials],
        timed.seconds, wall, directions[0] == "maximize",
        list(directions) if several else None,
    )




def run_benchmark(
    task: str,
    samplers: Sequence[str],
    seeds: int,
    n_trials: int,
    *,
    storage: str | None = "sqlite:///optuna-rena-benchmark.db",
    study_prefix: str = "",
    out_dir: str | Path = "benchmark-results",
    task_options: dict[str, Any] | None = None,
    direction: str = "maximize",
    jobs: int = 1,
    progress: bool = True,
    sampler_seeds: dict[str, int] | None = None,
    command: str | None = None,
    pruner: str = "none",
) -> dict[str, Any]:
    """Run every sampler with every seed on ``task`` and write the results.

    Each run is its own study named ``{study_prefix}{task}:{sampler}:seed{seed}`` in one
    ``storage``, so optuna-dashboard can show them side by side. ``out_dir`` receives
    ``results.json`` (every raw number, in standard JSON: null where a figure has no value,
    as its ``null_means`` says), ``results.md`` (what was run, with ``command``, the command
    line that ran it when given, and the table) and ``curves.png`` / ``curves.html``
    (``curves.html`` embeds plotly.js, so it opens offline). The returned report holds
    ``markdown``, the text of results.md. Every study has a new ``pruner`` (one of
    :data:`~optuna_rena._pruners.PRUNER_NAMES`, ``none`` by default), which the results
    name.

    Raises:
        ValueError: Bad arguments, a repeated sampler, a sampler that fixes its seed
            (``rena:seed=3``) and would run more than once, an unknown pruner or one for
            a task of several objectives (Optuna prunes no such trial), an output that
            cannot be written in ``out_dir``, or a study of that name already exists in
            ``storage`` (nothing is run or written then).
        BrokenObjectiveError: A run's objective failed three trials in a row with one
            exception (see :func:`run_one`); no results are written.
    """
    for name, value in (("seeds", seeds), ("trials", n_trials), ("jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not samplers:
        raise ValueError("give at least one sampler.")
    # A sampler's runs are studies named after it: a repeat would clash after the first run.
    repeated = sorted({s for s in samplers if list(samplers).count(s) > 1})
    if repeated:
        raise ValueError(f"each sampler may be given once; repeated: {repeated}.")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}.")
    sampler_seeds = dict(sampler_seeds or {})
    for name, count in sampler_seeds.items():
        if name not in samplers:
            raise ValueError(f"seeds given for {name!r}, which is not among the samplers "
                             f"{list(samplers)}.")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= seeds:
            raise ValueError(f"{name!r} may run 1 to {seeds} seeds, got {count!r}.")
    for name in samplers:
        make_sampler(name, 0)  # fails early on a bad name
        _check_seed_option(name, sampler_seeds.get(name, seeds), name in sampler_seeds)
    make_pruner(pruner)  # fails early on a bad name
    task_options = dict(task_options or {})
    probe = make_task(task, **task_options)  # fails early on a bad task or data folder
    if probe.is_multi_objective and pruner != "none":
        raise ValueError(f"{task} has several objectives, whose trials Optuna cannot prune; "
                         "drop --pruner.")
    runs = [(s, seed) for s in samplers for seed in range(sampler_seeds.get(s, seeds))]
    names = [f"{study_prefix}{task}:{s}:seed{seed}" for s, seed in runs]
    if storage is not None:
        try:
            existing = set(optuna.get_all_study_names(open_storage(storage)))
        except Exception as e:  # noqa: BLE001 - any storage error is a user's bad URL here
            raise ValueError(f"cannot open the storage {storage!r}: "
                             f"{storage_error_text(e)}") from None
        clash = sorted(existing & set(names))
        if clash:
            raise ValueError(f"the storage already holds {len(clash)} of these studies (e.g. "
                             f"{clash[0]!r}); use another --storage or --study-prefix.")
    out = Path(out_dir)
    _check_outputs(out)
    results: list[RunResult] = []
    bar = _progress_bar(len(runs) * n_trials if jobs == 1 else len(runs),
                        "trial" if jobs == 1 else "run", progress)
    if jobs == 1:
        for (s, seed), name in zip(runs, names):
            bar.set_description(f"{s} seed {seed}")
            results.append(run_one(task, s, seed, n_trials, storage=storage, study_name=name,
                                   task_options=task_options, direction=direction,
                                   callbacks=[lambda study, trial: bar.update(1)],
                                   pruner=pruner))
    else:
        import multiprocessing

        # multiprocessing's pool, not concurrent.futures': on Ctrl-C it can stop its
        # workers at once (they ignore SIGINT, so they print no tracebacks of their own).
        pool = multiprocessing.Pool(jobs, initializer=_worker_init)
        try:
            pending = [pool.apply_async(run_one, (task, s, seed, n_trials), dict(
                storage=storage, study_name=name, task_options=task_options,
                direction=direction, pruner=pruner)) for (s, seed), name in zip(runs, names)]
            for p in pending:
                results.append(p.get())
                bar.update(1)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    bar.close()
    checkpoints = checkpoints_for(n_trials)
    if probe.is_multi_objective:
        return _write_front_results(
            probe, out, results, samplers, seeds, n_trials, checkpoints, sampler_seeds,
            storage=storage, command=command, pruner=pruner)
    summary = {s: summarise([r for r in results if r.sampler == s], checkpoints, probe.optimum)
               for s in samplers}
    table = markdown_table(summary, checkpoints, probe.optimum)
    report = {
        "task": task, "samplers": list(samplers), "seeds": seeds, "trials": n_trials,
        "sampler_seeds": sampler_seeds,
        "constraints": [str(c) for c in probe.constraints], "optimum": probe.optimum,
        "storage": hide_password(storage) if isinstance(storage, str) else None,
        "direction": direction, "pruner": pruner_text(pruner), "command": command,
        "null_means": NULL_MEANS,
        "summary": summary, "runs": [r.__dict__ for r in results],
    }
    (out / "results.json").write_text(json.dumps(json_safe(report), indent=1, default=str,
                                                  allow_nan=False))
    markdown = results_markdown(report, table)
    (out / "results.md").write_text(markdown)
    plots = write_plots(results, out, f"{task}: {', '.join(str(c) for c in probe.constraints)}",
                        probe.optimum)
    report["table"] = table
    report["markdown"] = markdown
    report["files"] = [str(out / "results.json"), str(out / "results.md"), *map(str, plots)]
    return report


def _write_front_results(task: Task, out: Path, results: list[RunResult],
                         samplers: Sequence[str], seeds: int, n_trials: int,
                         checkpoints: Sequence[int], sampler_seeds: dict[str, int], *,
                         storage: str | None, command: str | None,
                         pruner: str) -> dict[str, Any]:
    """A multi-objective benchmark's results.json, results.md and curves, against the
    task's front or, when it knows none, the best front found by any run."""
    front = task.front or pooled_front(results, task.directions)
    summary = {s: summarise_front([r for r in results if r.sampler == s], front, checkpoints)
               for s in samplers}
    tables = front_tables(summary, front, task.metric_names, checkpoints, n_trials)
    runs = [{**r.__dict__, "hv_gap": gap_curve(r, front)} for r in results]
    report = {
        "task": task.name, "samplers": list(samplers), "seeds": seeds, "trials": n_trials,
        "sampler_seeds": sampler_seeds, "directions": list(task.directions),
        "metric_names": list(task.metric_names),
        "constraints": [str(c) for c in task.constraints], "optimum": None,
        "front": front_record(front),
        "storage": hide_password(storage) if isinstance(storage, str) else None,
        "pruner": pruner_text(pruner), "command": command, "null_means": FRONT_NULL_MEANS,
        "summary": summary,
        "runs": runs,
    }
    (out / "results.json").write_text(json.dumps(json_safe(report), indent=1, default=str,
                                                  allow_nan=False))
    markdown = front_markdown(report, tables)
    (out / "results.md").write_text(markdown)
    title = f"{task.name}: hypervolume gap" + (
        f" ({', '.join(str(c) for c in task.constraints)})" if task.constraints else "")
    plots = write_gap_plots(median_gap_curves(results, front), out, title)
    report["table"] = tables
    report["markdown"] = markdown
    report["files"] = [str(out / "results.json"), str(out / "results.md"), *map(str, plots)]
    return report


FRONT_NULL_MEANS = (
    "In summary, a median or quartile of a budget regret is null where it falls on seeds "
    "with no feasible trial within the budget; \"none\" counts them. In runs, a value is "
    "null unless its trial completed; hv_gap is the run's hypervolume gap after each "
    "trial.")
"""What null means in a multi-objective results.json."""


def _check_seed_option(name: str, count: int, fewer: bool) -> None:
    """Refuse a sampler that fixes its seed (``rena:seed=3``) and would run ``count`` > 1
    times: its runs would be one study repeated, summarised as if over seeds.

    Raises:
        ValueError: It would.
    """
    seed = fixed_seed(name)
    if seed is None or count == 1:
        return
    once = f"--fewer-seeds {name}=1" if fewer else "--seeds 1"
    raise ValueError(f"sampler {name!r} fixes seed={seed!r}, so its {count} runs would be "
                     f"one run repeated, not {count} seeds; drop seed= (the runs then take "
                     f"seeds 0 to {count - 1}) or run it once with {once}.")


_OUTPUTS = ("results.json", "results.md", "curves.png", "curves.html")


def _check_outputs(out: Path) -> None:
    """Make ``out`` and check that every output can be written there.

    The outputs are written after the last run, hours later: a failure then would lose
    every run's summary, so it is looked for before the first.

    Raises:
        ValueError: ``out`` cannot be made or written, or an output's path is a folder.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {str(out)!r} is not a folder; give another "
                         "--out.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder {str(out)!r}: {e.strerror}; "
                         "give another --out.") from None
    path = out
    try:
        # A probe for the new files, not the outputs themselves: no empty results file is
        # left behind if the runs then fail.
        with tempfile.TemporaryFile(dir=out):
            pass
        for name in _OUTPUTS:
            path = out / name
            if path.is_dir():
                raise ValueError(f"cannot write the results: {str(path)!r} is a folder; "
                                 "move it away or give another --out.")
            if path.exists():
                # Appending nothing checks the permission and leaves the file as it was.
                with open(path, "ab"):
                    pass
    except OSError as e:
        raise ValueError(f"cannot write to {str(path)!r}: {e.strerror}; give another "
                         "--out.") from None


def _worker_init() -> None:
    # Parallel runs share the cores: one intra-op thread each avoids oversubscription.
    import torch

    torch.set_num_threads(1)
    # Ctrl-C reaches the whole process group; the parent alone answers it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _progress_bar(total: int, unit: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit=unit)
