"""``ProcessExecutor``: the process pool of one run, for the calls of ``execution: process`` nodes.

It owns the pool's life: made on the first call (forkserver where there is one, so that forking
a process that runs threads cannot deadlock), ended when a call in it times out (a worker cannot
be stopped from outside but by ending its process, which breaks the pool for every call in it),
killed when the run is cancelled, shut down when the run ends. It tells a call that failed
because another call's timeout ended its pool (send it again) from one whose worker died. What a
call is (a pickled payload for ``worker.call``) and how a node's timeout and retries work stay
in ``policy.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ... import worker
from ...errors import CancelledError


class WorkerDiedError(RuntimeError):
    """The worker process running (or due to run) a call ended before the call did."""


class ProcessExecutor:
    """One run's process pool behind the ``Executor`` interface; handles are futures."""

    __slots__ = ("_workers", "_lock", "_pool", "_pools", "_ended", "_submitted", "_closed")

    def __init__(self, workers: Callable[[], int]) -> None:
        """``workers()``: how many processes a new pool gets (read when one is made)."""
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        # The pool each call went to, and the pools ended on purpose because a call timed out.
        self._pools: weakref.WeakKeyDictionary[Future[Any], ProcessPoolExecutor] = (
            weakref.WeakKeyDictionary()
        )
        self._ended: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
        self._submitted: weakref.WeakSet[Future[Any]] = weakref.WeakSet()
        self._closed = False  # the run ended: no new pool

    # -- the Executor interface ------------------------------------------------------------------

    def submit(self, fn: Callable[[], Any], after: Sequence[Future[Any]] = ()) -> Future[Any]:
        """Send ``fn`` (picklable) to a worker once the futures in ``after`` are done.

        Raises:
            WorkerDiedError: the pool is broken (a worker died) and the call cannot be sent.
            CancelledError: the run has ended (cancelled or closed).
        """
        if after:
            wait_futures(after)
        while True:
            pool = self._current()
            try:
                future = pool.submit(fn)
            except (BrokenProcessPool, RuntimeError) as exc:
                if pool in self._ended:  # another call's timeout ended it: use the next pool
                    continue
                self._drop(pool)
                raise WorkerDiedError("the run's process pool is broken") from exc
            self._pools[future] = pool
            self._submitted.add(future)
            return future

    def cancel(self, reason: str = "cancelled") -> None:
        """Kill the workers: nobody will read what the calls in them return."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            _terminate(pool)
            pool.shutdown(wait=True, cancel_futures=True)

    def wait(self) -> None:
        """Wait for every call sent and not yet done."""
        wait_futures(list(self._submitted))

    # -- what a timed-out or failed call needs ---------------------------------------------------

    def end(self, future: Future[Any]) -> None:
        """``future``'s call timed out: end its pool's workers now; the next call gets a new pool.

        The other calls in that pool fail with ``BrokenProcessPool``; ``was_ended`` tells them
        to send themselves again.
        """
        pool = self._pools.get(future)
        if pool is None:
            return
        self._ended.add(pool)
        self._forget(pool)
        _terminate(pool)
        pool.shutdown(wait=True, cancel_futures=True)

    def was_ended(self, future: Future[Any]) -> bool:
        """Whether ``future``'s pool was ended on purpose (its call was not at fault)."""
        pool = self._pools.get(future)
        return pool is not None and pool in self._ended

    def drop(self, future: Future[Any]) -> None:
        """A worker of ``future``'s pool died: stop using that pool (a retry gets a new one)."""
        pool = self._pools.get(future)
        if pool is not None:
            self._drop(pool)

    def close(self) -> None:
        """The run ended: shut the pool down (after its calls, which nobody waits for now)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    @property
    def holds_pool(self) -> bool:
        """Whether a pool is open (``close`` has something to do)."""
        return self._pool is not None

    # -- the pool --------------------------------------------------------------------------------

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise CancelledError("the run has ended; its process pool is closed")
            if self._pool is None:
                method = (
                    "forkserver"
                    if "forkserver" in multiprocessing.get_all_start_methods()
                    else "spawn"
                )
                cwd = os.getcwd()
                self._pool = ProcessPoolExecutor(
                    max_workers=max(1, self._workers()),
                    mp_context=multiprocessing.get_context(method),
                    initializer=worker.start,
                    initargs=([p or cwd for p in sys.path], cwd),
                )
            return self._pool

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        self._forget(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
