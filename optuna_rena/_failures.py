"""What ``optuna-rena search`` and the benchmark do with the objective's exceptions, one
implementation for both: any exception fails its trial only, said in one line instead of
Optuna's report and traceback; a study stops when the objective fails
:data:`FAILURES_IN_A_ROW` trials in a row with the same exception.

A search trains children that may fail one by one (a child too large for the device, a
user objective's bad row), and a benchmark runs a user's ``module:function`` objective as
a search does: both should go on past such a trial, and both should stop an objective that
fails every trial, instead of failing each of ``--trials`` in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import logging
import sys
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
from tqdm import tqdm

from optuna_rena._constraints import Constraint
from optuna_rena._report import trial_line


FAILURES_IN_A_ROW = 3
"""Trials that the objective may fail in a row with one exception (type and message)
before a study stops: a broken objective (``os:getcwd`` raises a TypeError for every
trial) would otherwise fail every one of ``--trials`` in turn. Only the same exception
counts: a child that fails to train names its own network or size, and the next child
may train."""


class BrokenObjectiveError(RuntimeError):
    """The objective failed :data:`FAILURES_IN_A_ROW` trials in a row with one exception;
    the message says which and where."""


class Failures:
    """What a study does with the objective's exceptions: the trial is failed (Optuna's
    ``catch``, which the caller sets to ``(Exception,)``) and said in one line, with the
    exception; after ``limit`` trials in a row fail with the same exception, the study
    stops and ``stopped_by`` holds it.

    ``objective`` is the objective to optimise; the instance is the callback.

    Args:
        objective: The objective whose exceptions are counted.
        metric_name: The objective's name, for the trial's line.
        constraints: The budget, whose metrics the line shows.
        limit: Trials failed in a row with one exception before the study stops.
        prefix: Put before each line: the study's name where several studies share the
            output, as in a benchmark.
    """

    def __init__(self, objective: Callable[[optuna.Trial], Any], metric_name: str,
                 constraints: Sequence[Constraint], limit: int, prefix: str = "") -> None:
        self._objective = objective
        self._metric_name = metric_name
        self._constraints = constraints
        self._prefix = prefix
        self.limit = limit
        self.stopped_by: Exception | None = None
        self._raised: dict[int, Exception] = {}  # by trial number, until its callback
        self._streak: tuple[str, int] = ("", 0)

    def objective(self, trial: optuna.Trial) -> Any:
        try:
            return self._objective(trial)
        except Exception as e:
            self._raised[trial.number] = e  # the callback sees the trial, not the exception
            raise

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        error = self._raised.pop(trial.number, None)
        if trial.state != TrialState.FAIL or error is None:
            self._streak = ("", 0)  # a failure without an exception: Optuna says it
            return
        text = exception_text(error)
        tqdm.write(f"{self._prefix}{trial_line(trial, self._metric_name, self._constraints)}"
                   f" ({text})", file=sys.stdout)
        count = self._streak[1] + 1 if self._streak[0] == text else 1
        self._streak = (text, count)
        if count >= self.limit:
            self.stopped_by = error
            study.stop()

    def stopped_text(self) -> str:
        """What stopped the study, for the caller's error line: ``the objective raised
        TypeError: ... in 3 trials in a row, failing them``."""
        assert self.stopped_by is not None
        return (f"the objective raised {exception_text(self.stopped_by)} in {self.limit} "
                "trials in a row, failing them")


def exception_text(error: BaseException) -> str:
    """``TypeError: message``, on one line (the message's first)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


class _DropFailureReports(logging.Filter):
    """Drop Optuna's report of a trial that an exception failed, traceback and all: the
    caller says it in one line (:class:`Failures`).

    Optuna reports it in two WARNING records (``_log_failed_trial`` in
    optuna/study/_optimize.py), the first with the exception as ``exc_info``; they are told
    apart by what they carry, not by Optuna's wording, which is no interface: the record
    whose ``exc_info`` is an Exception, and the WARNING without one that follows it. A
    trial failed without an exception (a NaN objective) has no ``exc_info``, and Optuna's
    words on it pass.
    """

    def __init__(self) -> None:
        super().__init__()
        self._after_report = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self._after_report:
            self._after_report = False
            if record.exc_info is None and record.levelno == logging.WARNING:
                return False
        if record.exc_info is not None and isinstance(record.exc_info[1], Exception):
            self._after_report = True
            return False
        return True


def one_line_failures() -> contextlib.AbstractContextManager[None]:
    """Optuna's reports of trials that an exception failed are dropped while the context
    lasts: :class:`Failures` says each in one line."""
    return filtered_trial_reports(_DropFailureReports())


@contextlib.contextmanager
def filtered_trial_reports(drop: logging.Filter) -> Iterator[None]:
    """Optuna's reports of failed trials through ``drop`` while the context lasts."""
    logger = logging.getLogger("optuna.study._optimize")  # where Optuna logs failed trials
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
