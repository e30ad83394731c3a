"""The samplers a benchmark compares, by name, and a wrapper that times them."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import json
import time
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import is_feasible
from optuna_rena._imports import import_named
from optuna_rena._metrics import stored_child_spec
from optuna_rena._sampler import RenaSampler
from optuna_rena._sampler.candidates import SpaceEpisodes
from optuna_rena._space import ArchitectureSpace
from optuna_rena._space import SpaceAwareSampler


class TimedSampler(BaseSampler):
    """Wraps a sampler and adds up the time spent in it, for overhead figures: wall time
    (``seconds``) and the calling thread's CPU time (``cpu_seconds``), which a busy or
    shared machine disturbs far less."""

    def __init__(self, sampler: BaseSampler) -> None:
        self.sampler = sampler
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def _timed(self, method: Callable[..., Any], *args: Any) -> Any:
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            return method(*args)
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.thread_time() - start_cpu

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

    def attach_space(self, space: ArchitectureSpace) -> None:
        """Forward the space's hook (:class:`~optuna_rena.SpaceAwareSampler`)."""
        if isinstance(self.sampler, SpaceAwareSampler):
            self.sampler.attach_space(space)


class FeasibleRandomSampler(BaseSampler):
    """The honest baseline for a space with an analytic budget: random sampling among the
    analytically feasible children, each new.

    At a trial's first decision of the space it draws random children until one meets
    the constraints on counted metrics (parameters, FLOPs, MACs, bytes, compute
    intensity) and no trial has had it (up to ``max_draws``; then the last new draw),
    and answers the trial's decisions from it. Without a space, it is Optuna's
    ``RandomSampler``.
    """

    def __init__(self, seed: int | None = None, max_draws: int = 5_000) -> None:
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._space: ArchitectureSpace | None = None
        self._source: SpaceEpisodes | None = None
        self._plans: dict[int, dict[str, Any]] = {}
        self._max_draws = max_draws

    def attach_space(self, space: ArchitectureSpace) -> None:
        if space is not self._space:
            self._space, self._source = space, SpaceEpisodes(space)  # it caches children

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        space = self._space
        if space is None or space.context(param_name, (None,), trial.params) is None:
            return self._random.sample_independent(study, trial, param_name,
                                                   param_distribution)
        plan = self._plans.get(trial._trial_id)
        if plan is None:
            plan = self._plans[trial._trial_id] = self._draw(study, space)
        return plan[param_name]

    def _draw(self, study: optuna.Study, space: ArchitectureSpace) -> dict[str, Any]:
        seen = {stored_child_spec(t) for t in study.get_trials(deepcopy=False)}
        source = self._source
        assert source is not None
        new = None
        for _ in range(self._max_draws):
            candidate = source.replay({}, self._rng)
            if candidate.key in seen:
                continue
            new = candidate
            if is_feasible(candidate.violations):
                break
        return (new or source.replay({}, self._rng)).params

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._plans.pop(trial._trial_id, None)


SAMPLERS: dict[str, Callable[[int], BaseSampler]] = {
    "rena": lambda seed: RenaSampler(seed=seed),
    "rena-paper": lambda seed: RenaSampler.paper(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
    "feasible-random": lambda seed: FeasibleRandomSampler(seed=seed),
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


def fixed_seed(name: str) -> Any:
    """The seed that a sampler spec fixes among its options (``rena:seed=3`` gives 3),
    which overrides the run's own; ``None`` when it fixes none. ``name`` is a valid spec
    (:func:`make_sampler` took it)."""
    short, _, options = name.partition(":")
    if name in SAMPLERS or short not in ("rena", "rena-paper"):
        return None  # the run's seed reaches it: module:Class takes no options
    return _keywords(options).get("seed")


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
        cls = import_named(name, "sampler")
        try:
            return cls(seed=seed)
        except TypeError as e:
            raise ValueError(f"sampler {name!r} must take a seed keyword: {e}") from None
    raise ValueError(f"unknown sampler {name!r}; expected one of {sorted(SAMPLERS)} or "
                     "module:Class.")
