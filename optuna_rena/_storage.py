"""One opener for the storages that the CLI, the benchmark and workers use."""

from __future__ import annotations

from typing import Any
import warnings

import optuna


def open_storage(url: str | optuna.storages.BaseStorage | None, *,
                 heartbeat_interval: int | None = None,
                 grace_period: int | None = None) -> Any:
    """An Optuna storage from a URL, or ``url`` itself when it is a storage or ``None``
    (in memory).

    * ``journal:PATH``: a journal file; fast, safe for several processes on one machine,
      and what ``optuna-dashboard PATH`` opens.
    * ``sqlite:///PATH``: SQLite that waits up to 300 s for its lock, since parallel runs
      and workers share one file.
    * any other URL: Optuna's RDB storage (PostgreSQL, MySQL).

    Args:
        url: The URL, a storage, or ``None``.
        heartbeat_interval: For RDB storages, seconds between a running trial's
            heartbeats; a trial whose heartbeat stops for ``grace_period`` seconds is
            failed by the next worker and retried once with the same parameters
            (``RetryHeartbeatStaleTrialCallback``).
        grace_period: See ``heartbeat_interval``; Optuna's default when ``None``.

    Raises:
        ValueError: ``journal:`` without a path, or heartbeats asked of a storage that has
            none.
    """
    if not isinstance(url, str):
        return url
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend
        from optuna.storages.journal import JournalStorage

        path = url[len("journal:"):]
        if not path:
            raise ValueError("journal: needs a file path, as in journal:./studies.log.")
        if heartbeat_interval is not None:
            raise ValueError("heartbeats need an RDB storage (sqlite:///, postgresql://); "
                             f"{url!r} is a journal file.")
        return JournalStorage(JournalFileBackend(path))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 300}}
    with warnings.catch_warnings():
        # Heartbeats are experimental in Optuna 5.0, and the recovery the caller asked for.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if heartbeat_interval is not None:
            kwargs.update(heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                          heartbeat_stale_trial_callback=(
                              optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)))
        return optuna.storages.RDBStorage(url, **kwargs)
