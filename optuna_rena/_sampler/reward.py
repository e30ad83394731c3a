"""RENA's multi-objective reward with soft penalties, for finished Optuna trials.

``R = P * prod_j p ** max(0, v_j)``: ``P`` the trial's performance, ``v_j`` its normalised
constraint violations (``U / C - 1`` above an upper bound, ``C / U - 1`` below a lower
one) and ``p`` in (0, 1], 0.9 in the paper.

The performance ``P`` of a trial:

* maximise, value >= 0 (accuracy): ``P = value``, the paper's case;
* minimise, value > 0 (error, loss): ``P = 1 / value``, so the penalty scales the error up;
* otherwise (a value of the wrong sign anywhere in the study): the study switches to
  ranks, ``P`` = the fraction of finished trials that the trial equals or beats, in
  (0, 1];
* several objectives: ``P`` rewards the front, by Pareto depth. The successful trials
  are sorted into fronts as NSGA-II sorts them, by constrained domination (a feasible
  trial before every infeasible one, so an infeasible trial that beats the budget on
  latency does not push feasible ones back): the front is depth 0, and ``P = 1 - depth /
  fronts``, in (0, 1]. The penalty then scales infeasible trials down as before. The
  paper defines no ``P`` for several objectives, so ``RenaSampler.paper()`` uses this
  one too.
* a pruned trial stands in with the final value at its rank among the completed trials
  at the step it was stopped (:mod:`.pruned`), the value the world model learns too; with
  no stand-in (nothing reported, nothing completed yet, several objectives), it teaches
  nothing;
* failed trials, and values that are NaN or infinite, get ``R = 0``: the child could not
  even be evaluated. A failed trial that ``RetryHeartbeatStaleTrialCallback`` retried (a killed
  worker, not the architecture's fault) teaches nothing, nor does one the user
  interrupted (``rena:interrupted``, which ``optuna-rena search`` sets on Ctrl-C, and on
  a killed run's trial that ``--fail-running-trials`` fails).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_rena._constraints import is_feasible
from optuna_rena._constraints import trial_violations
from optuna_rena._metrics import INTERRUPTED_ATTR
from optuna_rena._sampler.pareto import pareto_depths


def penalty(violations: Mapping[str, float], p: float) -> float:
    """``prod_j p ** max(0, v_j)``: 1 when feasible, towards 0 with the violation."""
    exponent = sum(max(0.0, v) for v in violations.values())
    if p == 1.0:
        return 1.0
    return 0.0 if math.isinf(exponent) else p**exponent


@dataclass(frozen=True)
class Outcome:
    """What a finished trial returned, as the reward needs it. ``values`` is ``None`` for a
    trial that failed or returned a non-finite value."""

    values: tuple[float, ...] | None
    violations: Mapping[str, float]


def performances(outcomes: Sequence[Outcome], directions: Sequence[StudyDirection]) -> np.ndarray:
    """``P`` for each outcome, as the module docstring defines it (0 for failures)."""
    ok = [o.values is not None for o in outcomes]
    out = np.zeros(len(outcomes))
    if not any(ok):
        return out
    values = np.array([o.values for o, good in zip(outcomes, ok) if good], dtype=float)
    signs = np.array([1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in directions])
    index = np.flatnonzero(ok)
    if len(directions) > 1:
        feasible = np.array([is_feasible(o.violations) for o, good in zip(outcomes, ok)
                             if good])
        depth = np.empty(len(values))
        fronts = 0
        for group in (feasible, ~feasible):
            d = pareto_depths(values[group] * signs)
            depth[group] = d + fronts
            fronts += int(d.max()) + 1 if len(d) else 0
        out[index] = 1.0 - depth / fronts
        return out
    if len(directions) == 1:
        v = values[:, 0]
        if signs[0] > 0 and (v >= 0).all():
            out[index] = v
            return out
        if signs[0] < 0 and (v > 0).all():
            out[index] = 1.0 / v
            return out
    # Ranks: the fraction of successful trials each one equals or beats.
    signed = values[:, 0] * signs[0]
    out[index] = (signed[:, None] >= signed[None, :]).sum(axis=1) / len(signed)
    return out


def rewards(outcomes: Sequence[Outcome], directions: Sequence[StudyDirection],
            p: float) -> np.ndarray:
    """RENA's reward ``R = P * prod_j p ** max(0, v_j)`` for each outcome."""
    perf = performances(outcomes, directions)
    return np.array([perf[i] * penalty(o.violations, p) for i, o in enumerate(outcomes)])


def outcome_of(trial: FrozenTrial, retried: set[Any], n_objectives: int,
               stand_in: float | None = None) -> Outcome | None:
    """What a finished trial teaches, by the rules above; ``None`` for nothing.

    Args:
        trial: A finished trial.
        retried: Numbers of the failed trials that ``RetryHeartbeatStaleTrialCallback`` retried.
        n_objectives: The study's number of objectives.
        stand_in: For a pruned trial, its stand-in value (:mod:`.pruned`), in the
            objective's own direction; ``None`` or NaN: it teaches nothing.
    """
    if trial.system_attrs.get(INTERRUPTED_ATTR):
        return None
    violations = trial_violations(trial)
    if trial.state == TrialState.FAIL:
        return None if trial.number in retried else Outcome(None, violations)
    if trial.state == TrialState.PRUNED:
        if stand_in is None or math.isnan(stand_in) or n_objectives > 1:
            return None
        values: tuple[float, ...] = (stand_in,)
    else:
        values = tuple(trial.values)
    if not all(math.isfinite(v) for v in values):
        return Outcome(None, violations)
    return Outcome(values, violations)
