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

from optuna_rena import zoo
from optuna_rena._constraints import Constraint
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
        return RenaSampler(**kwargs) if short == "rena" else RenaSampler.paper(**kwargs)
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot import sampler {name!r}: {e}") from None
        return cls(seed=seed)
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
    """One study: per trial, the value, feasibility and cumulated sampler time."""

    sampler: str
    seed: int
    values: list[float | None]
    feasible: list[bool]
    sampler_seconds: float
    wall_seconds: float

    def best_feasible_curve(self) -> list[float | None]:
        best: float | None = None
        out = []
        for v, f in zip(self.values, self.feasible):
            if f and v is not None and (best is None or v > best):
                best = v
            out.append(best)
        return out

    def trials_to_first_feasible(self) -> float:
        """1-based count of trials up to the first feasible one; inf when none."""
        for i, f in enumerate(self.feasible):
            if f:
                return float(i + 1)
        return math.inf


def run_nas_bench_macro(
    table: dict[str, dict[str, Any]],
    sampler_name: str,
    seed: int,
    n_trials: int,
    constraints: Sequence[Constraint],
    storage: str | None = None,
    study_name: str | None = None,
) -> RunResult:
    """One maximising study of NAS-Bench-Macro mean accuracy under ``constraints``."""
    space = zoo.nas_bench_macro_space(constraints)
    timed = TimedSampler(make_sampler(sampler_name, seed))

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        return float(table[zoo.nas_bench_macro_code(trial.params)]["mean_acc"])

    study = optuna.create_study(direction="maximize", sampler=timed, storage=storage,
                                study_name=study_name)
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    wall = time.perf_counter() - start
    trials = study.get_trials(deepcopy=False)
    return RunResult(
        sampler_name, seed,
        [t.value if t.state == TrialState.COMPLETE else None for t in trials],
        [t.state == TrialState.COMPLETE and is_feasible(trial_violations(t)) for t in trials],
        timed.seconds, wall,
    )


def summarise(results: Sequence[RunResult], checkpoints: Sequence[int]) -> dict[str, Any]:
    """Median and inter-quartile range of each figure over the seeds of one sampler."""
    def stats(xs: Sequence[float]) -> dict[str, float]:
        a = np.array(xs, dtype=float)
        return {"median": float(np.median(a)), "q1": float(np.percentile(a, 25)),
                "q3": float(np.percentile(a, 75))}

    out: dict[str, Any] = {
        "runs": len(results),
        "trials_to_first_feasible": stats([r.trials_to_first_feasible() for r in results]),
        "feasible_fraction": stats([float(np.mean(r.feasible)) for r in results]),
        "sampler_ms_per_trial": stats([1000 * r.sampler_seconds / len(r.values)
                                       for r in results]),
    }
    for k in checkpoints:
        bests = [c[k - 1] if c[k - 1] is not None else -math.inf
                 for c in (r.best_feasible_curve() for r in results)]
        out[f"best_feasible_at_{k}"] = stats(bests)
    return out
