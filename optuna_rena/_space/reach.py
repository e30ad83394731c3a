"""How far a space's children reach on the metrics counted before training, and the
warning for a budget that none of them meets."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from optuna_rena._constraints import Constraint
from optuna_rena._metrics import ANALYTIC_METRICS
from optuna_rena._resources import ResourceModel
from optuna_rena._space.edits import EditRules
from optuna_rena._space.edits import path_choices
from optuna_rena._space.edits import run_decisions


_UNSET = object()


class UnreachableBudgetWarning(UserWarning):
    """A constraint on a counted metric (params, FLOPs, bytes, compute intensity) that no
    child of the space meets, as far as a search of its decisions can tell: the search
    goes on, for the least infeasible children. Said once per study, before any trial is
    spent on it; filter this category to silence it."""


def extreme(rules: EditRules, resource_model: ResourceModel, metric: str,
            smallest: bool = True, rounds: int = 50) -> float:
    """The smallest (or largest) ``metric`` of a child of ``rules``, by coordinate descent
    over the decisions from the first choice of each.

    Raises:
        ValueError: ``metric`` is not counted by the resource model.
    """
    if metric not in ANALYTIC_METRICS:
        raise ValueError(f"extreme() takes one of {list(ANALYTIC_METRICS)}, got "
                         f"{metric!r}.")
    sign = 1.0 if smallest else -1.0

    def value(params: Mapping[str, Any]) -> tuple[float, dict[str, Any]]:
        taken: dict[str, Any] = {}

        def choose(name: str, choices: tuple[Any, ...]) -> Any:
            # A decision that ``params`` lacks, or whose value the path no longer offers,
            # takes its first choice.
            taken[name] = params[name] if params.get(name, _UNSET) in choices else (
                choices[0])
            return taken[name]

        child = run_decisions(rules.decisions(), choose)[0]
        return sign * float(resource_model.count(child).as_dict()[metric]), taken

    best, params = value({})
    for _ in range(rounds):
        improved = False
        for name, choices in path_choices(rules.decisions(), params).items():
            for choice in choices:
                if choice == params[name]:
                    continue
                v, p = value({**params, name: choice})
                if v < best:
                    best, params, improved = v, p, True
            if improved:
                break  # the path may have changed: walk it again
        if not improved:
            break
    return sign * best


def unreachable(rules: EditRules, resource_model: ResourceModel,
                constraints: Iterable[Constraint]) -> list[str]:
    """A sentence for each of ``constraints`` (on analytic metrics) that no child found
    by :func:`extreme` meets, ending with what to do about it."""
    out = []
    for c in constraints:
        reached = extreme(rules, resource_model, c.metric, smallest=c.is_upper)
        if c.violation(reached) > 0:
            # Whole, with its advice: the CLI and the sampler say it as it is.
            out.append(f"no child of this space meets {c}: the "
                       f"{'smallest' if c.is_upper else 'largest'} {c.metric} that a "
                       f"search of its decisions reaches is {reached:.4g}; loosen it or "
                       "widen the space; the search goes on, for the least infeasible "
                       "children")
    return out
