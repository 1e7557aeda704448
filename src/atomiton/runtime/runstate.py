"""``RunState``: whether a run may go on - stop, cancel, pause, the flow deadline, the thread limit.

It owns the run's control state and the checkpoints where it takes effect (``checkpoint``), the
contexts of running nodes (cancelled when the run stops) and the ``CapacityLimiter`` every thread
of the run counts against. It is the ``ControlListener`` a ``CancelToken``/``RunControl``
drives. Reporting what happens is ``reporting.py``'s job; ``Execution`` (``execution.py``) is a
``RunState`` that also runs and reports nodes.

``slow`` is what generated code reads before each node boundary: anything that must be noticed
there (a stop, a pause, a cancelled sub-work scope) sets it to True first.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Literal

from ..errors import CancelledError, RunTimeoutError
from .context import NodeContext, current_scope
from .limiter import CapacityLimiter
from .run_ids import new_run_id

StopKind = Literal["cancel", "timeout", "failure"]

# ThreadPoolExecutor's default, for the same reason: blocking I/O, not CPU, is what threads wait on.
DEFAULT_CONCURRENCY: int = min(32, (os.cpu_count() or 1) + 4)


class RunState:
    """The control state of one run. Thread-safe."""

    __slots__ = (
        "slow",
        "checks",
        "run_id",
        "timeout",
        "_concurrency",
        "_limiter",
        "_state_lock",
        "_stop",
        "_stop_kind",
        "_wake",
        "_paused",
        "_resume",
        "_deadline",
        "_contexts",
    )

    def __init__(self, run_id: str | None, concurrency: int, timeout: float | None) -> None:
        """Args:
        run_id: the run's id (default: a fresh one).
        concurrency: the thread limit.
        timeout: the flow timeout in seconds, counted from now (None: none).
        """
        self.run_id = new_run_id() if run_id is None else run_id
        self._concurrency = concurrency
        self._limiter: CapacityLimiter | None = None
        self._state_lock = threading.Lock()
        self._stop: str | None = None
        self._stop_kind: StopKind = "cancel"
        # Created on first use: two Events cost more than the rest of a small run.
        self._wake: threading.Event | None = None
        self._paused = False
        self._resume: threading.Event | None = None
        self.timeout = timeout
        self._deadline = None if timeout is None else time.perf_counter() + timeout
        # Weak: a node called inline never releases its context, and a loop of file nodes must
        # not keep one per iteration; a running node holds its own, so it is cancelled still.
        self._contexts: weakref.WeakSet[NodeContext] = weakref.WeakSet()
        # Whether a node boundary must call ``checkpoint``/``after_node`` (else nothing could
        # stop it there): one flag to read instead of four.
        self.checks = self._deadline is not None
        self.slow = self.checks

    # -- the limit -------------------------------------------------------------------------------

    @property
    def limiter(self) -> CapacityLimiter:
        """The limit on the run's threads; set ``total_tokens`` to change it live."""
        limiter = self._limiter
        if limiter is None:
            with self._state_lock:
                if self._limiter is None:
                    self._limiter = CapacityLimiter(self._concurrency)
                limiter = self._limiter
        return limiter

    @property
    def concurrency(self) -> int:
        """The thread limit in force, without making the limiter (an observed run's start says it)."""
        limiter = self._limiter
        return self._concurrency if limiter is None else limiter.total_tokens

    @property
    def deadline(self) -> float | None:
        """When the flow times out (``time.perf_counter`` clock), or None."""
        return self._deadline

    # -- stopping --------------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """Whether the run was cancelled, timed out or is stopping after a failure."""
        return self._stop is not None

    @property
    def paused(self) -> bool:
        """Whether node starts are held back."""
        return self._paused

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the run: no node starts after this, and running nodes' contexts are cancelled."""
        self.stop("cancel", reason)

    def stop(self, kind: StopKind, message: str) -> bool:
        """Stop the run for ``kind`` (the first reason wins); return whether this call stopped it."""
        with self._state_lock:
            if self._stop is not None:
                return False
            self._stop = message
            self._stop_kind = kind
            self.checks = True
            self.slow = True
            contexts, self._contexts = list(self._contexts), weakref.WeakSet()
        wake, resume = self._signals()
        wake.set()
        resume.set()  # a paused run must wake up to notice
        for context in contexts:
            context.cancel()
        return True

    def stop_for_failure(self, exc: BaseException) -> None:
        """A task failed: stop the others (they see ``CancelledError`` at their next boundary)."""
        self.stop("failure", f"cancelled because another task failed: {message_of(exc)}")

    def stop_error(self) -> BaseException:
        """A fresh exception saying why the run stopped (each raiser gets its own instance)."""
        if self._stop_kind == "timeout":
            return RunTimeoutError(self._stop or "the run timed out")
        return CancelledError(self._stop or "cancelled")

    def expire(self) -> None:
        """The flow deadline passed: stop the run with ``RunTimeoutError``."""
        self.stop("timeout", f"the run took longer than its timeout of {self.timeout:g}s")

    def is_run_stop(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the run's own stop (cancellation or flow timeout), not a node's error."""
        if isinstance(exc, CancelledError):
            return True
        return (
            isinstance(exc, RunTimeoutError)
            and self._stop_kind == "timeout"
            and self._stop is not None
        )

    def _signals(self) -> tuple[threading.Event, threading.Event]:
        """(set when the run stops, set while not paused), created on first use."""
        wake, resume = self._wake, self._resume
        if wake is None or resume is None:
            with self._state_lock:
                if self._wake is None or self._resume is None:
                    self._wake = threading.Event()
                    self._resume = threading.Event()
                    if self._stop is not None:
                        self._wake.set()
                    if not self._paused or self._stop is not None:
                        self._resume.set()
                wake, resume = self._wake, self._resume
        return wake, resume

    def wait_stopped(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True early if the run stops meanwhile."""
        return self._signals()[0].wait(seconds)

    # -- pausing ---------------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold back node starts until ``resume``; running nodes finish their current call."""
        _, resume = self._signals()
        with self._state_lock:
            self._paused = True
            resume.clear()
            self.checks = True
            self.slow = True

    def resume(self) -> None:
        """Let node starts go on after ``pause``."""
        _, resume = self._signals()
        with self._state_lock:
            self._paused = False
            resume.set()

    # -- ``ControlListener``: a CancelToken or RunControl attached to this run -------------------

    def control_cancelled(self, reason: str) -> None:
        """The run's token was cancelled."""
        self.cancel(reason)

    def control_paused(self, paused: bool) -> None:
        """The run's control paused or resumed."""
        if paused:
            self.pause()
        else:
            self.resume()

    def control_concurrency(self, limit: int) -> None:
        """The run's control changed the concurrency limit."""
        with self._state_lock:
            self._concurrency = limit
            limiter = self._limiter
        if limiter is not None:
            limiter.total_tokens = limit

    # -- checkpoints -----------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Raise if the run stopped or this thread's sub-work scope was cancelled; wait while
        paused; enforce the flow deadline."""
        if self._stop is not None:
            raise self.stop_error()
        scope = current_scope()
        if scope is not None and scope.cancelled:
            raise CancelledError(f"node {scope.node_id!r} stopped this part of its work")
        if self._paused:
            while self._paused and self._stop is None:
                self._signals()[1].wait(0.25)
            if self._stop is not None:
                raise self.stop_error()
        if self._deadline is not None and time.perf_counter() >= self._deadline:
            self.expire()
            raise self.stop_error()

    def after_node(self) -> None:
        """Raise if the run stopped while a node ran, or the flow deadline passed meanwhile.

        A stopped run cancelled the node's context, so what it returned cannot be trusted (a
        killed process "returns" too); a node that ran past the deadline in its thread (nobody
        could interrupt it) came too late, and the run must not report success.
        """
        if self._stop is not None:
            raise self.stop_error()
        if self._deadline is not None and time.perf_counter() >= self._deadline:
            self.expire()
            raise self.stop_error()

    # -- node contexts ---------------------------------------------------------------------------

    def track_context(self, context: NodeContext) -> None:
        """Cancel ``context`` when the run stops (at once if it already has)."""
        with self._state_lock:
            stopped = self._stop is not None
            if not stopped:
                self._contexts.add(context)
        if stopped:
            context.cancel()
        else:
            # Inside sub-work (a branch, an iteration) the node also stops with that scope.
            scope = current_scope()
            if scope is not None:
                scope.on_cancel(context.cancel)

    def release_context(self, context: NodeContext) -> None:
        """Forget a context whose node finished (so a long loop does not keep them all)."""
        with self._state_lock:
            self._contexts.discard(context)

    def context_cancelled(self) -> None:
        """A node context of the run was cancelled: sub-work under it must notice at its next
        node boundary (``checkpoint``)."""
        self.checks = True  # from now on each boundary asks whether its own scope is cancelled
        self.slow = True


def describe(exc: BaseException) -> str:
    """``"KeyError: message"``: what a node error says about its cause."""
    message = message_of(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def message_of(exc: BaseException) -> str:
    """``str(exc)``, even when the exception's own ``__str__`` raises (reporting must not)."""
    try:
        return str(exc)
    except Exception as broken:  # a user's exception class with a broken __str__
        return f"<str() of this {type(exc).__name__} raised {type(broken).__name__}>"
