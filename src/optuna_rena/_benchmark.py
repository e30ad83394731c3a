"""The benchmark: samplers side by side on the same task, seeds and trial budget."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
import importlib
import json
import math
from pathlib import Path
import time
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import trial_violations
from optuna_rena._reward import is_feasible
from optuna_rena._sampler import RenaSampler


class TimedSampler(BaseSampler):
    """Wraps a sampler and adds up the wall time spent in it, for overhead figures."""

    def __init__(self, sampler: BaseSampler) -> None:
        self.sampler = sampler
        self.seconds = 0.0

    def _timed(self, method: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args)
        finally:
            self.seconds += time.perf_counter() - start

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._timed(self.sampler.infer_relative_search_space, study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._timed(self.sampler.sample_relative, study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._timed(self.sampler.sample_independent, study, trial, param_name,
                           param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._timed(self.sampler.before_trial, study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._timed(self.sampler.after_trial, study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()

    # RenaSampler learns the space's layers through this hook.
    def _attach_space(self, space: Any) -> None:
        attach = getattr(self.sampler, "_attach_space", None)
        if attach is not None:
            attach(space)


SAMPLERS: dict[str, Callable[[int], BaseSampler]] = {
    "rena": lambda seed: RenaSampler(seed=seed),
    "rena-paper": lambda seed: RenaSampler.paper(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
}


def _keywords(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"sampler option {item!r} is not key=value.")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def make_sampler(name: str, seed: int) -> BaseSampler:
    """A sampler by short name, optionally with keyword arguments
    (``rena:elite_size=0,penalty_base=0.5``), or ``module:Class`` taking ``seed``."""
    if name in SAMPLERS:
        return SAMPLERS[name](seed)
    short, _, options = name.partition(":")
    if short in ("rena", "rena-paper"):
        kwargs = {"seed": seed, **_keywords(options)}
        try:
            return RenaSampler(**kwargs) if short == "rena" else RenaSampler.paper(**kwargs)
        except TypeError as e:
            raise ValueError(f"sampler {name!r}: {e}") from None
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot import sampler {name!r}: {e}") from None
        try:
            return cls(seed=seed)
        except TypeError as e:
            raise ValueError(f"sampler {name!r} must take a seed keyword: {e}") from None
    raise ValueError(f"unknown sampler {name!r}; expected one of {sorted(SAMPLERS)} or "
                     "module:Class.")


def load_nas_bench_macro(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The NAS-Bench-Macro table from ``data_dir/nas_bench_macro``."""
    path = Path(data_dir) / "nas_bench_macro" / "nas-bench-macro_cifar10.json"
    try:
        table = json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"cannot read NAS-Bench-Macro at {path}: {e.strerror}.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}.") from None
    if not isinstance(table, dict) or len(table) != 6561:
        raise ValueError(f"{path} should map the 6561 codes to their results.")
    return table


@dataclass
class RunResult:
    """One study: per trial its value (``None`` unless complete), feasibility and state,
    and the time spent in the sampler and in all."""

    sampler: str
    seed: int
    study_name: str
    values: list[float | None]
    feasible: list[bool]
    states: list[str]
    sampler_seconds: float
    wall_seconds: float
    maximize: bool = True

    def best_feasible_curve(self) -> list[float | None]:
        """After each trial, the best objective among the feasible complete trials."""
        best: float | None = None
        out = []
        for v, f in zip(self.values, self.feasible):
            if f and v is not None and (best is None or (v > best if self.maximize else v < best)):
                best = v
            out.append(best)
        return out

    def trials_to_first_feasible(self) -> float:
        """1-based count of trials up to the first feasible complete one; inf when none."""
        for i, (v, f) in enumerate(zip(self.values, self.feasible)):
            if f and v is not None:
                return float(i + 1)
        return math.inf


def _feasible(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and is_feasible(trial_violations(trial))


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
) -> RunResult:
    """One study of ``task_name`` with one sampler and seed."""
    from optuna_rena._tasks import make_task

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = make_task(task_name, **(task_options or {}))
    timed = TimedSampler(make_sampler(sampler_name, seed))

    # The legacy constraints list that optuna-dashboard reads is not written here for
    # Optuna's samplers: they would read each constraint twice (GP would fit twice as many
    # constraint models), and the comparison must be of Optuna as users run it.
    objective = task.objective
    name = study_name or f"{task_name}:{sampler_name}:seed{seed}"
    study = optuna.create_study(direction=direction, sampler=timed, storage=open_storage(storage),
                                study_name=name)
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, callbacks=list(callbacks),
                   catch=(RuntimeError, ValueError))
    wall = time.perf_counter() - start
    trials = study.get_trials(deepcopy=False)
    return RunResult(
        sampler_name, seed, name,
        [t.value if t.state == TrialState.COMPLETE else None for t in trials],
        [_feasible(t) for t in trials], [t.state.name for t in trials],
        timed.seconds, wall, direction == "maximize",
    )


def open_storage(url: str | optuna.storages.BaseStorage | None) -> Any:
    """An Optuna storage from a URL. ``journal:PATH`` is a journal file (fast, safe for
    several processes, and what optuna-dashboard opens as ``optuna-dashboard PATH``);
    SQLite waits for its lock, since parallel runs share one file; other URLs go to
    Optuna's RDB storage."""
    if isinstance(url, str) and url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend
        from optuna.storages.journal import JournalStorage

        path = url[len("journal:"):]
        if not path:
            raise ValueError("journal: needs a file path, as in journal:./studies.log.")
        return JournalStorage(JournalFileBackend(path))
    if isinstance(url, str) and url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 300}})
    return url


def _stats(xs: Sequence[float]) -> dict[str, float]:
    """Median and quartiles; with infinite values (no feasible trial), the nearest ranks,
    since interpolating between infinities is undefined."""
    a = np.array(xs, dtype=float)
    method = "linear" if np.isfinite(a).all() else "nearest"
    q1, median, q3 = np.percentile(a, [25, 50, 75], method=method)
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def summarise(results: Sequence[RunResult], checkpoints: Sequence[int],
              optimum: float | None = None) -> dict[str, Any]:
    """Median and inter-quartile range of each figure over the seeds of one sampler.
    Runs with no feasible trial count as -inf (maximise) or +inf (minimise)."""
    worst = -math.inf if (not results or results[0].maximize) else math.inf
    out: dict[str, Any] = {
        "runs": len(results),
        "trials_to_first_feasible": _stats([r.trials_to_first_feasible() for r in results]),
        "feasible_fraction": _stats([float(np.mean(r.feasible)) for r in results]),
        "sampler_ms_per_trial": _stats([1000 * r.sampler_seconds / max(1, len(r.values))
                                        for r in results]),
        "wall_seconds": _stats([r.wall_seconds for r in results]),
    }
    for k in checkpoints:
        bests = []
        for r in results:
            curve = r.best_feasible_curve()
            value = curve[min(k, len(curve)) - 1] if curve else None
            bests.append(worst if value is None else value)
        out[f"best_feasible_at_{k}"] = _stats(bests)
        if optimum is not None:
            out[f"regret_at_{k}"] = _stats([abs(optimum - b) for b in bests])
            out[f"optimum_found_at_{k}"] = sum(abs(optimum - b) < 1e-9 for b in bests)
    return out


def markdown_table(summary: dict[str, dict[str, Any]], checkpoints: Sequence[int],
                   optimum: float | None) -> str:
    """One row per sampler: medians with the inter-quartile range in brackets."""
    def cell(stats: dict[str, float], digits: int = 2) -> str:
        return (f"{stats['median']:.{digits}f} [{stats['q1']:.{digits}f}, "
                f"{stats['q3']:.{digits}f}]")

    head = ["sampler", "trials to first feasible"]
    head += [f"best feasible @{k}" for k in checkpoints]
    if optimum is not None:
        head += [f"optimum found @{k}" for k in checkpoints]
    head += ["feasible fraction", "sampler ms/trial", "wall s/run"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in summary.items():
        row = [name, cell(m["trials_to_first_feasible"], 1)]
        row += [cell(m[f"best_feasible_at_{k}"]) for k in checkpoints]
        if optimum is not None:
            row += [f"{m[f'optimum_found_at_{k}']}/{m['runs']}" for k in checkpoints]
        row += [cell(m["feasible_fraction"]), cell(m["sampler_ms_per_trial"], 1),
                cell(m["wall_seconds"], 1)]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def _curves(results: Sequence[RunResult]) -> dict[str, np.ndarray]:
    """Per sampler, the best-feasible-so-far curves, one row per seed (NaN before any)."""
    out: dict[str, list[list[float]]] = {}
    for r in results:
        curve = [np.nan if v is None else v for v in r.best_feasible_curve()]
        out.setdefault(r.sampler, []).append(curve)
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def write_plots(results: Sequence[RunResult], out_dir: Path, title: str) -> list[Path]:
    """Median best-feasible-so-far curves with inter-quartile bands, per sampler, as PNG
    (matplotlib) and HTML (plotly); a library that is missing is skipped."""
    written: list[Path] = []
    curves = _curves(results)

    def bands(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # A seed with no feasible trial yet has no value: bands start where half have one.
        filled = np.where(np.isnan(c), -np.inf, c)
        with np.errstate(invalid="ignore"):
            return tuple(np.percentile(filled, q, axis=0, method="nearest")  # type: ignore[return-value]
                         for q in (50, 25, 75))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5))
        for name, c in curves.items():
            med, q1, q3 = bands(c)
            x = np.arange(1, c.shape[1] + 1)
            ok = np.isfinite(med)
            line, = ax.plot(x[ok], med[ok], label=name)
            both = np.isfinite(q1) & np.isfinite(q3)
            ax.fill_between(x[both], q1[both], q3[both], alpha=0.2, color=line.get_color())
        ax.set_xlabel("trial")
        ax.set_ylabel("best feasible objective (median, IQR band)")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
        png = out_dir / "curves.png"
        fig.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(png)
    except ImportError:
        pass
    def clean(a: np.ndarray) -> list[float | None]:
        return [float(v) if np.isfinite(v) else None for v in a]

    try:
        import plotly.graph_objects as go

        fig = go.Figure()
        for name, c in curves.items():
            med, q1, q3 = bands(c)
            x = list(range(1, c.shape[1] + 1))
            fig.add_trace(go.Scatter(x=x + x[::-1], y=clean(q3) + clean(q1)[::-1],
                                     fill="toself", opacity=0.2, line={"width": 0},
                                     name=f"{name} IQR", showlegend=False))
            fig.add_trace(go.Scatter(x=x, y=clean(med), name=name, mode="lines"))
        fig.update_layout(title=title, xaxis_title="trial",
                          yaxis_title="best feasible objective (median, IQR band)")
        html = out_dir / "curves.html"
        # plotly.js from its CDN keeps the file small; the PNG is there for offline reading.
        fig.write_html(html, include_plotlyjs="cdn")
        written.append(html)
    except ImportError:
        pass
    return written


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
) -> dict[str, Any]:
    """Run every sampler with every seed on ``task`` and write the results.

    Each run is its own study named ``{study_prefix}{task}:{sampler}:seed{seed}`` in one
    ``storage``, so optuna-dashboard can show them side by side. ``out_dir`` receives
    ``results.json`` (every raw number), ``results.md`` (the table) and ``curves.png`` /
    ``curves.html``.

    Raises:
        ValueError: Bad arguments, or a study of that name already exists in ``storage``
            (nothing is run or written then).
    """
    from optuna_rena._tasks import make_task

    for name, value in (("seeds", seeds), ("trials", n_trials), ("jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not samplers:
        raise ValueError("give at least one sampler.")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}.")
    for name in samplers:
        make_sampler(name, 0)  # fails early on a bad name
    task_options = dict(task_options or {})
    probe = make_task(task, **task_options)  # fails early on a bad task or data folder
    runs = [(s, seed) for s in samplers for seed in range(seeds)]
    names = [f"{study_prefix}{task}:{s}:seed{seed}" for s, seed in runs]
    if storage is not None:
        try:
            existing = set(optuna.get_all_study_names(open_storage(storage)))
        except Exception as e:  # noqa: BLE001 - any storage error is a user's bad URL here
            raise ValueError(f"cannot open the storage {storage!r}: {e}") from None
        clash = sorted(existing & set(names))
        if clash:
            raise ValueError(f"the storage already holds {len(clash)} of these studies (e.g. "
                             f"{clash[0]!r}); use another --storage or --study-prefix.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    bar = _progress_bar(len(runs) * n_trials if jobs == 1 else len(runs),
                        "trial" if jobs == 1 else "run", progress)
    if jobs == 1:
        for (s, seed), name in zip(runs, names):
            bar.set_description(f"{s} seed {seed}")
            results.append(run_one(task, s, seed, n_trials, storage=storage, study_name=name,
                                   task_options=task_options, direction=direction,
                                   callbacks=[lambda study, trial: bar.update(1)]))
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, initializer=_one_thread) as pool:
            futures = [pool.submit(run_one, task, s, seed, n_trials, storage=storage,
                                   study_name=name, task_options=task_options,
                                   direction=direction)
                       for (s, seed), name in zip(runs, names)]
            for f in futures:
                results.append(f.result())
                bar.update(1)
    bar.close()
    checkpoints = sorted({max(1, n_trials // 2), n_trials})
    summary = {s: summarise([r for r in results if r.sampler == s], checkpoints, probe.optimum)
               for s in samplers}
    table = markdown_table(summary, checkpoints, probe.optimum)
    report = {
        "task": task, "samplers": list(samplers), "seeds": seeds, "trials": n_trials,
        "constraints": [str(c) for c in probe.constraints], "optimum": probe.optimum,
        "storage": storage if isinstance(storage, str) else None,
        "summary": summary, "runs": [r.__dict__ for r in results],
    }
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "results.md").write_text(table + "\n")
    plots = write_plots(results, out, f"{task}: {', '.join(str(c) for c in probe.constraints)}")
    report["table"] = table
    report["files"] = [str(out / "results.json"), str(out / "results.md"), *map(str, plots)]
    return report


def _one_thread() -> None:
    # Parallel runs share the cores: one intra-op thread each avoids oversubscription.
    import torch

    torch.set_num_threads(1)


def _progress_bar(total: int, unit: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit=unit)
