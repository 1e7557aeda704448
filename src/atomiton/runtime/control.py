"""Run control from outside a run: ``CancelToken`` (cancel) and ``RunControl`` (also pause,
resume and a live concurrency limit).

A token only records a request and tells its attached listeners (the executions using it, or
child tokens); what a run does about it lives in ``execution.py``. Every method is safe to call
from any thread. One token may control several runs at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .trace import Trace


class ControlListener(Protocol):
    """What a token tells the runs (or child tokens) attached to it."""

    def control_cancelled(self, reason: str) -> None:
        """The token was cancelled."""

    def control_paused(self, paused: bool) -> None:
        """The token was paused (True) or resumed (False)."""

    def control_concurrency(self, limit: int) -> None:
        """The token's concurrency limit changed."""


class CancelToken:
    """A request to cancel, shared with one or more runs: ``token.cancel()`` from any thread.

    Cancelling is final. Runs notice it at their next node boundary; running nodes that take a
    context see it through ``NodeContext.cancelled`` and its callbacks (a shell node kills its
    process group), and nodes not yet started are reported skipped.
    """

    __slots__ = ("_lock", "_reason", "_listeners", "_event")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._listeners: list[ControlListener] = []
        self._event = threading.Event()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called."""
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        """The reason given to ``cancel``, or None while not cancelled."""
        return self._reason

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel every run using this token (a second call does nothing).

        Args:
            reason: why; it becomes the message of the runs' ``CancelledError``.
        """
        with self._lock:
            if self._reason is not None:
                return
            self._reason = reason
            listeners = list(self._listeners)
        self._event.set()
        for listener in listeners:
            listener.control_cancelled(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` seconds passed; return whether cancelled."""
        return self._event.wait(timeout)

    def attach(self, listener: ControlListener) -> Callable[[], None]:
        """Tell ``listener`` about this token's state now and on every change.

        Returns:
            A function that detaches the listener.
        """
        with self._lock:
            self._listeners.append(listener)
            reason = self._reason
        self._replay(listener)
        if reason is not None:
            listener.control_cancelled(reason)

        def detach() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return detach

    def _replay(self, listener: ControlListener) -> None:
        """Hook for subclasses: bring a new listener up to date (pause, concurrency)."""


class RunControl(CancelToken):
    """A ``CancelToken`` that can also pause, resume and change concurrency while runs go on.

    While paused no node starts (running nodes finish their current call); ``resume`` lets them
    go on with the same results. Setting ``concurrency`` changes the thread-task limit of every
    attached run at once. ``last_trace`` holds the trace of the last finished run that recorded
    one (``run(..., trace=True)``).

    A control made with ``parent=`` follows its parent's cancel, pause and concurrency too.
    """

    __slots__ = ("_paused", "_concurrency", "last_trace", "_detach_parent")

    def __init__(self, *, parent: CancelToken | None = None) -> None:
        super().__init__()
        self._paused = False
        self._concurrency: int | None = None
        self.last_trace: Trace | None = None
        self._detach_parent: Callable[[], None] | None = None
        if parent is not None:
            self._detach_parent = parent.attach(self)

    @property
    def paused(self) -> bool:
        """Whether the runs are paused."""
        return self._paused

    @property
    def concurrency(self) -> int | None:
        """The concurrency limit set through this control (None: the runs' own)."""
        return self._concurrency

    @concurrency.setter
    def concurrency(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"concurrency must be at least 1, got {limit}")
        with self._lock:
            self._concurrency = limit
            listeners = list(self._listeners)
        for listener in listeners:
            listener.control_concurrency(limit)

    def pause(self) -> None:
        """Stop starting nodes until ``resume``; running nodes finish their call."""
        self._set_paused(True)

    def resume(self) -> None:
        """Let paused runs go on."""
        self._set_paused(False)

    def detach_parent(self) -> None:
        """Stop following the parent token (if any)."""
        if self._detach_parent is not None:
            self._detach_parent()
            self._detach_parent = None

    def _set_paused(self, paused: bool) -> None:
        with self._lock:
            if self._paused == paused:
                return
            self._paused = paused
            listeners = list(self._listeners)
        for listener in listeners:
            listener.control_paused(paused)

    def _replay(self, listener: ControlListener) -> None:
        if self._paused:
            listener.control_paused(True)
        if self._concurrency is not None:
            listener.control_concurrency(self._concurrency)

    # A RunControl can listen to a parent token.
    def control_cancelled(self, reason: str) -> None:
        """The parent was cancelled: cancel this control too."""
        self.cancel(reason)

    def control_paused(self, paused: bool) -> None:
        """The parent paused or resumed."""
        self._set_paused(paused)

    def control_concurrency(self, limit: int) -> None:
        """The parent's concurrency changed."""
        self.concurrency = limit
