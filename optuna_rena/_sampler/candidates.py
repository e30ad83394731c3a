"""What the policy decides over, and the configurations the planner can propose.

Two sources of episodes:

* :class:`SpaceEpisodes`: an :class:`~optuna_rena.ArchitectureSpace`; an episode is the
  space's decisions and its result is a child network, whose analytic constraints are
  known at once. A configuration's key is its child, so two parameter sets that build the
  same network count as one.
* :class:`ParamEpisodes`: Optuna's search space of a define-by-run objective; an episode
  decides each parameter in turn and its key is its parameters.

Each also proposes local moves around a configuration: RENA's own edits (one decision of
the space changed, the rest replayed so that the child stays valid), or one parameter
changed.
"""

from __future__ import annotations

from collections.abc import Generator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial

from optuna_rena._constraints import is_feasible
from optuna_rena._metrics import INTERRUPTED_ATTR
from optuna_rena._metrics import stored_child_spec
from optuna_rena._sampler.ranges import from_scale
from optuna_rena._sampler.ranges import scale_bounds
from optuna_rena._sampler.ranges import to_scale
from optuna_rena._space import path_choices
from optuna_rena._space import run_decisions
from optuna_rena._spec import NetworkSpec


if TYPE_CHECKING:
    from optuna_rena._space import ArchitectureSpace


PLAN_KEY = "rena:plan"
"""Trial system attribute: the configuration planned for the trial, written when the plan
is made, before the trial decides anything, so that other workers see it at once."""

_CACHE = 200_000  # configurations remembered per space
_MOVE = (0.02, 0.25)  # a numeric move's size, drawn uniformly, as a fraction of the range

Episode = Generator[tuple[str, Any], Any, Any]
"""Yields ``(name, choices or distribution)``, is sent the value, returns the result."""


@dataclass
class Candidate:
    """A proposed configuration: its parameters, its key (no two evaluations share one),
    its child network with a space, its analytic constraint violations, and its counted
    metrics (params, FLOPs, ...; empty without a space)."""

    params: dict[str, Any]
    key: str
    child: NetworkSpec | None
    violations: dict[str, float]
    counted: Mapping[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """Whether it meets the constraints known without training."""
        return is_feasible(self.violations)


class SpaceEpisodes:
    """Episodes and moves in an architecture space."""

    def __init__(self, space: ArchitectureSpace) -> None:
        self.space = space
        # Building and counting a child costs far more than a look-up; local search and
        # neighbourhoods revisit the same configurations.
        self._made: dict[tuple[tuple[str, str], ...], Candidate] = {}
        self._paths: dict[tuple[tuple[str, str], ...], dict[str, tuple[Any, ...]]] = {}

    def episode(self) -> Episode:
        child, _ = yield from self.space.decisions()
        return child

    def candidate(self, params: dict[str, Any], result: Any) -> Candidate:
        made = self._made.get(_signature(params))
        if made is not None:
            return made
        child: NetworkSpec = result
        resources = self.space.resource_model.count(child)
        made = Candidate(params, child.to_json(), child,
                         self.space.analytic_violations(child, resources), resources.as_dict())
        if len(self._made) < _CACHE:
            self._made[_signature(params)] = made
        return made

    def trial_candidate(self, trial: FrozenTrial) -> Candidate | None:
        """The candidate a trial of this space evaluated, from its stored child; for a
        running trial that has no child yet, the one it published as its plan; ``None``
        for a trial without either (another sampler's trial that never reached the
        space)."""
        spec = stored_child_spec(trial)
        if spec is None:
            plan = trial.system_attrs.get(PLAN_KEY)
            if plan is None or trial.state.is_finished():
                return None
            return self.replay(plan, _COMPLETE)
        params = {k: v for k, v in trial.params.items()
                  if self.space.context(k, (v,), trial.params) is not None}
        return self.candidate(params, NetworkSpec.from_json(spec))

    def replay(self, params: Mapping[str, Any], rng: np.random.RandomState) -> Candidate:
        """The candidate that ``params`` give, a decision they lack or whose value no
        longer fits being chosen at random."""
        made = self._made.get(_signature(params))
        if made is not None:
            return made
        taken: dict[str, Any] = {}

        def choose(name: str, choices: tuple[Any, ...]) -> Any:
            value = params.get(name)
            taken[name] = value if value in choices else choices[rng.randint(len(choices))]
            return taken[name]

        child, _ = run_decisions(self.space.decisions(), choose)
        return self.candidate(taken, child)

    def neighbours(self, candidate: Candidate, rng: np.random.RandomState) -> list[Candidate]:
        """Every configuration one decision away (RENA's edits), replayed into a child."""
        out = []
        for name, choices in self._choices(candidate.params).items():
            for value in choices:
                if value != candidate.params[name]:
                    out.append(self.replay({**candidate.params, name: value}, rng))
        return out

    def _choices(self, params: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
        """The choices of each decision on the path that ``params`` take."""
        signature = _signature(params)
        if signature in self._paths:
            return self._paths[signature]
        out = path_choices(self.space.decisions(), params)
        if len(self._paths) < _CACHE:
            self._paths[signature] = out
        return out


class ParamEpisodes:
    """Episodes and moves over a define-by-run objective's search space."""

    space = None

    def __init__(self, search_space: Mapping[str, BaseDistribution]) -> None:
        self.search_space = dict(sorted(search_space.items()))

    def episode(self) -> Episode:
        params = {}
        for name, distribution in self.search_space.items():
            params[name] = yield name, distribution
        return params

    def candidate(self, params: dict[str, Any], result: Any = None) -> Candidate:
        """``params`` hold the search space's parameters in its (sorted) order, as every
        caller builds them, so the key needs no sorting."""
        return Candidate(params, _params_key([repr(item) for item in params.items()]), None,
                         {})

    def trial_candidate(self, trial: FrozenTrial) -> Candidate | None:
        """The candidate a trial evaluated (for a running trial, its parameters so far
        completed by the plan it published); ``None`` for a trial that lacks one of the
        search space's parameters (a trial of another search space)."""
        given = trial.params
        if not trial.state.is_finished() and PLAN_KEY in trial.system_attrs:
            given = {**trial.system_attrs[PLAN_KEY], **trial.params}
        params = {k: given[k] for k in self.search_space if k in given}
        if len(params) < len(self.search_space) or not params:
            return None
        return self.candidate(params)

    def neighbours(self, candidate: Candidate, rng: np.random.RandomState) -> list[Candidate]:
        """Each categorical parameter changed to each other choice; each number moved
        up and down by a random step of up to a quarter of its range."""
        params = candidate.params
        # A neighbour's key is the candidate's with one item's repr replaced: the same
        # string as ``candidate`` makes, without formatting every value again.
        items = [repr(item) for item in params.items()]
        position = {name: i for i, name in enumerate(params)}
        out = []
        for name, d in self.search_space.items():
            value = params[name]
            if isinstance(d, CategoricalDistribution):
                moved = [c for c in d.choices if c != value]
            else:
                moved = [_moved(d, value, sign * rng.uniform(*_MOVE)) for sign in (-1, 1)]
                moved = [v for v in moved if v != value]
            i = position[name]
            for v in moved:
                key = _params_key(items[:i] + [repr((name, v))] + items[i + 1:])
                out.append(Candidate({**params, name: v}, key, None, {}))
        return out


_COMPLETE = np.random.RandomState(0)
"""The random state a complete plan is replayed with: it draws nothing."""


def child_keys(trials: Sequence[FrozenTrial]) -> set[str]:
    """The keys of the children of a space's trials, finished or running: their child
    networks as JSON. Not those of trials that Ctrl-C stopped, which said nothing about
    their child. (Planning without the model reads these; the world model's history
    keeps its own keys of what it learnt from, which leave out retried failures too.)"""
    specs = (stored_child_spec(t) for t in trials if not t.system_attrs.get(INTERRUPTED_ATTR))
    return {spec for spec in specs if spec is not None}


def _params_key(item_reprs: Sequence[str]) -> str:
    """The key of a parameter configuration from its items' reprs, in the search space's
    order: ``repr(tuple(params.items()))``."""
    joined = ", ".join(item_reprs)
    return f"({joined},)" if len(item_reprs) == 1 else f"({joined})"


def _moved(d: BaseDistribution, value: Any, fraction: float) -> Any:
    """``value`` moved by ``fraction`` of the range (in log space for log ranges), on the
    distribution's grid and within its bounds."""
    low, high = scale_bounds(d)
    return from_scale(d, to_scale(d, value) + fraction * (high - low))


def _signature(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))
