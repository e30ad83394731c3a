"""One thread for the sampler's small linear algebra and tensors, process-wide.

The world model's matrices (a few hundred rows) and the policy's tensors (a 32-row LSTM
step) are too small for a thread pool: waking one costs more than the work, and
OpenBLAS's spinning threads slow torch's, which the policy uses between two fits. As
Optuna's ``optuna/_gp/thread_limiting.py`` does for GPSampler, a sampler's call limits
both while it runs and restores them after.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import threading
from typing import Any

from threadpoolctl import ThreadpoolController
import torch


class _BlasLimit:
    """Counts the calls inside :func:`one_blas_thread`, across threads: the first to
    enter sets the limit and the last to leave restores it, whatever the interleaving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: ThreadpoolController | None = None
        self._limit: Any = None
        self._users = 0

    def enter(self) -> None:
        with self._lock:
            if self._controller is None:  # made late, so that it finds the BLAS scipy loaded
                self._controller = ThreadpoolController()
            if self._users == 0:
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limit.restore_original_limits()
                self._limit = None


_BLAS = _BlasLimit()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread while any sampler computes. Setting it costs tens of microseconds,
    so a sampler holds it for a whole call, and the fits and predictions inside only
    count themselves in."""
    _BLAS.enter()
    try:
        yield
    finally:
        _BLAS.leave()


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """The policy's tensors on one torch thread. The caller holds the sampler's lock, so
    the setting it restores is its own."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
