"""What a pruned trial teaches: the value it stands in with.

A pruner stops a trial because its curve ran below other trials' at the same step, so a
pruned trial is evidence that its configuration is poor; read as missing, the region that
keeps being pruned never looks bad and the search returns to it. Its last intermediate
value is no answer either: a value after two epochs is not comparable with final values,
and it would stretch the model's scale with values that no configuration ends at.

The stand-in is the final value at the trial's rank. The completed trials that had
reported at the step where it was stopped (their last report at or before that step) are
ranked by that report; the pruned trial's rank among them, a fraction ``q`` (ties count
half), picks the ``q``-quantile of their final values. A trial that fell behind every one
of them stands in with the worst of their final values; one that ran between them, with
a value between theirs. Completed trials are the survivors, so a pruned trial usually
ranks low among them, and it never stands in above the best of them. This holds under any
pruner that compares trials at equal steps: the median pruner compares at each step,
Hyperband at its rungs, and both report every step to the same study.

With no completed trial that reported by that step (completed trials that never report),
the stand-in is the worst completed value: the pruner judged it behind trials that went
on. With no completed trial at all, it teaches nothing yet. A pruned trial that reported
nothing (pruned before its first report) teaches nothing.

Stand-ins are recomputed from every trial read, so a worker that starts late sees the
same values as one that read the trials one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
import math

import numpy as np
from optuna.trial import FrozenTrial


def last_report(trial: FrozenTrial) -> tuple[int, float] | None:
    """The step and value of a trial's last intermediate report, ``None`` without a
    finite one."""
    finite = {s: v for s, v in trial.intermediate_values.items() if math.isfinite(v)}
    if not finite:
        return None
    step = max(finite)
    return step, finite[step]


class PrunedStandIns:
    """Completed trials' curves, and the stand-in value of a pruned trial against them.

    Values are taken with larger better: negate them for a minimised objective.
    """

    def __init__(self) -> None:
        self._steps: list[np.ndarray] = []
        self._reports: list[np.ndarray] = []
        self._finals: list[float] = []
        self._by_step: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._finals)

    def add_complete(self, curve: Mapping[int, float], final: float) -> None:
        """A completed trial: its intermediate values by step, and its final value."""
        steps = sorted(s for s, v in curve.items() if math.isfinite(v))
        self._steps.append(np.array(steps, dtype=np.int64))
        self._reports.append(np.array([curve[s] for s in steps], dtype=float))
        self._finals.append(final)
        self._by_step.clear()

    def stand_in(self, step: int, value: float) -> float:
        """The value a trial pruned after reporting ``value`` at ``step`` stands in with;
        NaN while no trial has completed."""
        if not self._finals:
            return float("nan")
        reports, finals = self._at(step)
        if not len(finals):
            return float(min(self._finals))
        q = (float((reports < value).sum()) + 0.5 * float((reports == value).sum())) / len(
            reports)
        return float(np.quantile(finals, q))

    def _at(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The completed trials' last reports at or before ``step``, and their finals."""
        cached = self._by_step.get(step)
        if cached is None:
            reports, finals = [], []
            for steps, values, final in zip(self._steps, self._reports, self._finals):
                i = int(np.searchsorted(steps, step, side="right")) - 1
                if i >= 0:
                    reports.append(values[i])
                    finals.append(final)
            cached = (np.array(reports, dtype=float), np.array(finals, dtype=float))
            self._by_step[step] = cached
        return cached

