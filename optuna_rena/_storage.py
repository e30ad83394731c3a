"""One opener for the storages that the CLI, the benchmark and workers use."""

from __future__ import annotations

import json
import os
from pathlib import Path
import shlex
from typing import Any
import warnings

import optuna


def open_storage(url: str | optuna.storages.BaseStorage | None, *,
                 heartbeat_interval: int | None = None,
                 grace_period: int | None = None, read_only: bool = False) -> Any:
    """An Optuna storage from a URL, or ``url`` itself when it is a storage or ``None``
    (in memory).

    * ``journal:PATH``: a journal file; fast, safe for several processes on one machine,
      and what ``optuna-rena dashboard journal:PATH`` (or ``optuna-dashboard PATH``)
      opens.
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
        read_only: For commands that only read (``report``, ``dashboard``): a SQLite file
            need not be writable, and a missing SQLite or journal file is refused, where
            a search would create it.

    Raises:
        ValueError: ``journal:`` without a path, a journal file whose last line is
            incomplete or which has a line that is not JSON before its last (named, with
            how to mend it in a copy), a SQLite file that this user cannot write, or
            heartbeats asked of a storage that has none; with ``read_only``, a SQLite or
            journal file that does not exist.
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
        if read_only:
            _check_exists(path)
        _check_journal_tail(path)
        try:
            return JournalStorage(JournalFileBackend(path))
        except json.JSONDecodeError:
            # Optuna's reader stops at a line that is not JSON and has lines after it, with
            # the JSON error's position in that line alone; name the line in the file.
            raise ValueError(_unreadable_line_text(path)) from None
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 300}}
        _check_sqlite_file(url, read_only=read_only)
    with warnings.catch_warnings():
        # Heartbeats are experimental in Optuna 5.0, and the recovery the caller asked for.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if heartbeat_interval is not None:
            kwargs.update(heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                          heartbeat_stale_trial_callback=(
                              optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)))
        return optuna.storages.RDBStorage(url, **kwargs)


def storage_error_text(error: BaseException) -> str:
    """What the database said about ``error``: Optuna wraps every failed commit in
    "invalid data in the commit, e.g. exceeding max length", whatever the cause."""
    while error.__cause__ is not None:
        error = error.__cause__
    # SQLAlchemy's errors hold the driver's own, without the SQL statement and a link.
    return str(getattr(error, "orig", None) or error)


def _check_exists(path: str | Path) -> None:
    """Refuse a storage file that is not there: opening it would create an empty one, and
    a reader would find no study in it, with no word on why."""
    if not os.path.isfile(path):
        raise ValueError(f"no such file {path}; give the --storage of a search.")


def _check_sqlite_file(url: str, *, read_only: bool = False) -> None:
    """Refuse a SQLite file that this user cannot write, naming it; with ``read_only``,
    one that does not exist instead.

    Optuna would report the first failed write as "exceeding max length". SQLite writes
    its journal beside the file, so the folder must be writable too.
    """
    try:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
    except Exception:  # noqa: BLE001 - a bad URL is for RDBStorage to name
        return
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if read_only:
        _check_exists(path)
        return
    folder = path.parent
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"the SQLite file {path} is read-only for this user; make it "
                         "writable or give another --storage.")
    if not folder.is_dir():
        raise ValueError(f"the folder {folder} of the SQLite file {path} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"the folder {folder} of the SQLite file {path} is read-only for "
                         "this user, and SQLite writes its journal there; make it writable "
                         "or give another --storage.")


def _check_journal_tail(path: str) -> None:
    """Refuse a journal file whose last line is incomplete, leaving the file as it is.

    Optuna's ``JournalFileBackend`` appends each batch of records as JSON lines under a
    lock, and a reader skips a last line that lacks its newline or is not JSON: a write in
    progress. A line that a full disk or a killed writer cut short stays so: the next
    write is appended onto it, the joined line cannot be read, and after one more write
    no process can read the file at all.
    """
    if not os.path.isfile(path):
        return  # Optuna creates it
    tail = _incomplete_last_line(path)
    if tail is None:
        return
    from optuna.storages.journal import JournalFileSymlinkLock

    # It may be a write in progress: the writer holds the journal's lock until its line is
    # whole. (A killed writer's lock is taken over after Optuna's grace period.)
    lock = JournalFileSymlinkLock(path)
    try:
        lock.acquire()
    except OSError:
        pass  # a folder we cannot write in: what was read must do
    else:
        try:
            tail = _incomplete_last_line(path)
        finally:
            lock.release()
    if tail is None:
        return
    start, size = tail
    raise ValueError(
        f"the journal file {path} has an incomplete last line at byte {start} (its last "
        f"{size - start} bytes: a write cut short by a full disk or a killed process). "
        "Optuna skips it, but its next write would join onto it and leave a file that no "
        "process can read. Back the file up, then remove that line, e.g. with "
        f"`truncate -s {start} {path}`; no process has read it.")


def _incomplete_last_line(path: str) -> tuple[int, int] | None:
    """The offset of the file's last line and the file's size, when that line lacks its
    newline or is not JSON; ``None`` when the file is empty or ends with a whole record."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        # Back from the byte before the last: a newline there ends the last line.
        start, end = 0, size - 1
        while end > 0:
            begin = max(0, end - 65536)
            f.seek(begin)
            newline = f.read(end - begin).rfind(b"\n")
            if newline >= 0:
                start = begin + newline + 1
                break
            end = begin
        f.seek(start)
        line = f.read()
    if line.endswith(b"\n") and _is_json(line):
        return None
    return start, size


def _unreadable_line_text(path: str) -> str:
    """What to say of a journal file that Optuna cannot read: where its first line that is
    not JSON is, and how to mend the file in a copy, leaving the file itself as it is."""
    found = _first_unreadable_line(path)
    if found is None:  # mended meanwhile, or another process's damage
        return (f"Optuna cannot read the journal file {path}: it has a line that is not "
                "JSON; open it again, or back it up and remove that line.")
    number, start, end, joined, later = found
    where = (f"the journal file {path} has a line that is not JSON at byte {start} "
             f"(line {number}, {end - start} bytes), with {later} "
             f"{'line' if later == 1 else 'lines'} after it")
    copy = f"{path}.mended"
    # The command writes a copy: the file itself stays as it is until the user moves the
    # copy in place, having opened it.
    keep_from = joined if joined is not None else end
    command = (f"head -c {start} {shlex.quote(path)} > {shlex.quote(copy)} && "
               f"tail -c +{keep_from + 1} {shlex.quote(path)} >> {shlex.quote(copy)}")
    then = (f"open the copy (e.g. optuna-rena report --storage journal:{copy}), then move "
            "it in place.")
    if joined is not None:
        # A killed writer's cut record, the next writer's whole record appended onto it:
        # the cut part is lost anyway, and the whole one may create a trial that the
        # records after it name by its position, so only the cut part goes.
        return (f"{where}: its first {joined - start} bytes are a record cut short (a full "
                "disk or a killed process) and the rest is a whole record written after it. "
                "Optuna cannot read past that line, so no process can open the file. Remove "
                f"the cut part (bytes {start} to {joined - 1}) in a copy, which is safer than "
                f"editing the file: `{command}`; {then}")
    return (f"{where}: a record cut short or damaged. Optuna cannot read past that line, so "
            "no process can open the file. Remove or repair that line in a copy, which is "
            f"safer than editing the file (`{command}` removes it); {then}")


def _first_unreadable_line(path: str) -> tuple[int, int, int, int | None, int] | None:
    """The journal's first whole line (one with its newline) that is not JSON: its number
    from 1, its start and end offsets, where a whole record joined onto it begins (or
    ``None``), and how many lines follow it; ``None`` when every whole line is JSON."""
    with open(path, "rb") as f:
        found = None
        offset = later = 0
        for number, line in enumerate(f, start=1):
            if found is not None:
                later += 1
            elif line.endswith(b"\n") and not _is_json(line):
                found = (number, offset, offset + len(line),
                         _joined_record(line, offset))
            offset += len(line)
    return None if found is None else (*found, later)


def _joined_record(line: bytes, offset: int) -> int | None:
    """The file offset at which a whole JSON object ends ``line`` after a cut one, or
    ``None``. Optuna writes each record as one object starting with ``{"op_code":``."""
    at = line.find(b'{"op_code":', 1)
    while at > 0:
        if _is_json(line[at:]):
            return offset + at
        at = line.find(b'{"op_code":', at + 1)
    return None


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:  # not JSON, or not UTF-8
        return False
