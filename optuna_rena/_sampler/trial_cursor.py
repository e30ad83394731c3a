"""Reading a study's trials at every trial without looking at every one of them again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optuna.trial import FrozenTrial


class TrialCursor:
    """The trials worth another look since the last read: those added since, and those
    that were not finished then (another worker's may finish in any order), in number
    order; and the failed trials that a later trial retries.

    A storage lists a study's trials numbered 0 to n - 1 in order. When a list is not
    so, the cursor starts again and returns every trial; its readers skip the trials
    they have read, so they see the same trials either way. Looking at every trial at
    every trial made a long study's bookkeeping quadratic.
    """

    def __init__(self) -> None:
        self._read = 0
        self._unfinished: set[int] = set()
        self.retried: set[Any] = set()
        """Numbers of the failed trials that ``RetryHeartbeatStaleTrialCallback`` retried."""

    def update(self, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        """The trials to look at: the new ones, and those unfinished at the last read."""
        n = len(trials)
        in_order = n >= self._read and (n == 0 or (
            trials[0].number == 0 and trials[-1].number == n - 1
            and (self._read == 0 or trials[self._read - 1].number == self._read - 1)))
        if not in_order:
            self._read, self._unfinished = 0, set()
        fresh = trials[self._read:]
        for t in fresh:
            # A retry names the trial it retries when it is created.
            failed = t.system_attrs.get("failed_trial")
            if failed is not None:
                self.retried.add(failed)
        look = [trials[i] for i in sorted(self._unfinished)] + list(fresh)
        self._unfinished = {t.number for t in look if not t.state.is_finished()}
        self._read = n
        return look
