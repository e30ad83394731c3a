"""Optuna distributions as RENA decisions: choices among finitely many options.

A categorical distribution is a choice among its values. With an
:class:`~optuna_rena.ArchitectureSpace`, a decision of the space carries the space's
context (the layer it is about); any other parameter is keyed by its name. An integer or
float range is a choice among its grid values when there are few, otherwise among
``n_bins`` bins of its range (in log space for log distributions), and a value is then
drawn uniformly within the chosen bin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
import functools
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial
import torch

from optuna_rena._sampler.policy import RenaPolicy
from optuna_rena._sampler.policy import State
from optuna_rena._sampler.policy import Step
from optuna_rena._sampler.ranges import from_scale
from optuna_rena._sampler.ranges import scale_bounds
from optuna_rena._sampler.ranges import to_scale
from optuna_rena._space import DecisionContext


if TYPE_CHECKING:
    from optuna_rena._space import ArchitectureSpace


_REMEMBERED = 4096  # decisions (and tuples of choices as distributions) kept for look-ups

ORDER_KEY = "rena:order"
"""Trial system attribute: the names of its decisions, in the order they were taken."""


@dataclass(frozen=True)
class Decision:
    """A distribution seen as a choice among finitely many options: its values, or bins
    of its range that a value is then drawn from uniformly."""

    context: DecisionContext
    distribution: BaseDistribution
    values: tuple[Any, ...] | None  # exact choices; None for bins
    edges: np.ndarray | None = None  # bin edges, in log space for log distributions

    @property
    def n(self) -> int:
        return len(self.context.choice_tokens)

    def value(self, index: int, rng: np.random.RandomState) -> Any:
        """The parameter value of choice ``index``."""
        if self.values is not None:
            return self.values[index]
        assert self.edges is not None
        return from_scale(self.distribution, rng.uniform(self.edges[index],
                                                         self.edges[index + 1]))

    def index_of(self, value: Any) -> int:
        """The choice that a parameter value falls in."""
        if self.values is not None:
            if isinstance(self.distribution, CategoricalDistribution):
                return self.distribution.to_internal_repr(value)  # type: ignore[return-value]
            return min(range(self.n), key=lambda i: abs(self.values[i] - value))  # type: ignore[index]
        assert self.edges is not None
        x = to_scale(self.distribution, value)
        return int(np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.n - 1))


class DecisionMaker:
    """Turns a parameter's distribution into a :class:`Decision`, and a finished trial
    back into the steps its decisions took.

    Args:
        space: The space whose decisions carry its context, or ``None``.
        n_bins: Bins for integer and float ranges that have more values than that.
    """

    def __init__(self, space: ArchitectureSpace | None, n_bins: int) -> None:
        self.space = space
        self.n_bins = n_bins
        self._made: dict[tuple[str, int], tuple[BaseDistribution, Decision]] = {}

    def decision(self, name: str, distribution: BaseDistribution | tuple[Any, ...],
                 params: Mapping[str, Any]) -> Decision:
        """The decision for a distribution, or for a tuple of categorical choices, given
        the ``params`` decided before it in the same trial."""
        if isinstance(distribution, tuple):
            distribution = _categorical(distribution)
        if self.space is not None:  # a space's context may depend on the earlier params
            return self._decision(name, distribution, params)
        # Without a space, a decision depends on its name and distribution alone, and
        # lockstep simulation asks for the same ones thousands of times, with the same
        # distribution objects: those are looked up by identity (comparing distributions
        # costs more than making the decision), and kept, so that no id is reused.
        made = self._made.get((name, id(distribution)))
        if made is None or made[0] is not distribution:
            if len(self._made) >= _REMEMBERED:
                self._made.clear()
            made = (distribution, self._decision(name, distribution, params))
            self._made[name, id(distribution)] = made
        return made[1]

    def _decision(self, name: str, distribution: BaseDistribution,
                  params: Mapping[str, Any]) -> Decision:
        if isinstance(distribution, CategoricalDistribution):
            choices = tuple(distribution.choices)
            context = self.space.context(name, choices, params) if self.space else None
            if context is None:
                context = _named_context(name, tuple(f"{name}={c!r}" for c in choices))
            return Decision(context, distribution, choices)
        assert isinstance(distribution, (IntDistribution, FloatDistribution))
        d = distribution
        if d.step is not None and (d.high - d.low) / d.step + 1 <= self.n_bins + 1e-9:
            count = int(round((d.high - d.low) / d.step)) + 1
            grid = tuple(d.low + i * d.step for i in range(count))
            values = tuple(int(v) for v in grid) if isinstance(d, IntDistribution) else tuple(
                float(min(v, d.high)) for v in grid)
            return Decision(_named_context(name, tuple(f"{name}={v!r}" for v in values)),
                            d, values)
        low, high = scale_bounds(d)
        if isinstance(d, IntDistribution) and not d.log:
            # Integer bins cover [low - step/2, high + step/2] so each value gets its share.
            low, high = low - d.step / 2, high + d.step / 2
        edges = np.linspace(low, high, self.n_bins + 1)
        tokens = tuple(f"{name}#{k}/{self.n_bins}" for k in range(self.n_bins))
        return Decision(_named_context(name, tokens), d, None, edges)

    def is_space_decision(self, name: str, decision: Decision) -> bool:
        """Whether ``name`` is one of the space's decisions (not another parameter)."""
        return (self.space is not None and decision.values is not None
                and self.space.context(name, decision.values, {}) is not None)

    def steps_of(self, trial: FrozenTrial) -> list[Step]:
        """Replay a finished trial's decisions, in the order they were taken (stored in
        its ``rena:order`` attribute; the order of its distributions otherwise, as for an
        enqueued trial or another sampler's). Single choices are no decision."""
        order = trial.system_attrs.get(ORDER_KEY) or list(trial.distributions)
        steps: list[Step] = []
        params: dict[str, Any] = {}
        for name in order:
            if name not in trial.params or name not in trial.distributions:
                continue
            decision = self.decision(name, trial.distributions[name], params)
            params[name] = trial.params[name]
            if decision.n > 1:
                steps.append(Step(decision.context, decision.index_of(trial.params[name])))
        return steps


@dataclass
class RunningEpisode:
    """A running trial as the policy decides it: the controller's state, the decisions so
    far (the order stored in ``rena:order``), and the plan of the space's decisions when
    one was drawn."""

    layers: torch.Tensor
    state: State
    order: list[str] = field(default_factory=list)
    plan: dict[str, Any] | None = None

    def catch_up(self, trial: FrozenTrial, decisions: DecisionMaker, policy: RenaPolicy,
                 rng: np.random.RandomState, advance: bool = True) -> None:
        """Take into the episode the parameters that the trial holds but the policy did
        not decide (enqueued, fixed or planned ones), in the order they were suggested:
        the stored order then replays every decision, and with ``advance`` the
        controller's state has seen them all, as it has when it learns from the trial."""
        for name, value in trial.params.items():
            if name in self.order or name not in trial.distributions:
                continue
            if advance:
                params = {k: trial.params[k] for k in self.order}
                decision = decisions.decision(name, trial.distributions[name], params)
                if decision.n > 1:
                    self.state, _ = policy.act(self.state, self.layers, [decision.context],
                                               rng, chosen=[decision.index_of(value)])
            self.order.append(name)


@functools.lru_cache(maxsize=_REMEMBERED)
def _categorical(choices: tuple[Any, ...]) -> CategoricalDistribution:
    return CategoricalDistribution(choices)


def _named_context(name: str, tokens: tuple[str, ...]) -> DecisionContext:
    """A parameter that is not an architecture decision: keyed by its name, about no layer."""
    return DecisionContext(None, f"param={name}", tokens, (None,) * len(tokens))
