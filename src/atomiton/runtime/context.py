"""``NodeContext``: what a running node may ask of its execution.

Nodes that declare ``needs_context`` receive one: cancellation (a flag, callbacks, interruptible
waits), progress and log reporting, and ``map`` for sub-work such as loop iterations. A context
made with ``NodeContext.detached()`` works without an execution, so a node can be called directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..errors import CancelledError
from .confine import Roots
from .resources import RunResources

T = TypeVar("T")
R = TypeVar("R")


class NodeContext:
    """Cancellation, progress, logging and sub-work for one running node."""

    __slots__ = (
        "node_id",
        "allowed_paths",
        "resources",
        "_cancelled",
        "_callbacks",
        "_lock",
        "_on_progress",
        "_on_log",
        "__weakref__",
    )

    def __init__(
        self,
        node_id: str,
        *,
        cancelled: threading.Event | None = None,
        on_progress: Callable[[float, float | None, str], None] | None = None,
        on_log: Callable[[str, str], None] | None = None,
        allowed_paths: Roots = None,
    ) -> None:
        self.node_id = node_id
        # The run's file-system confinement (``confine.check_path``); None: not confined.
        self.allowed_paths = allowed_paths
        # The run's shared objects (an HTTP pool...); None: detached, each call makes its own.
        self.resources: RunResources | None = None
        self._cancelled = cancelled if cancelled is not None else threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._on_progress = on_progress
        self._on_log = on_log

    @classmethod
    def detached(cls, node_id: str = "node") -> NodeContext:
        """A context with no execution behind it: never cancelled unless ``cancel()`` is called."""
        return cls(node_id)

    def __reduce__(self) -> tuple[Callable[..., NodeContext], tuple[object, ...]]:
        # A node in a worker process gets a detached context: the parent stops the worker on
        # cancel, while the run's confinement must travel along.
        return (_rebuilt, (self.node_id, self.allowed_paths))

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise ``CancelledError`` if the run was cancelled."""
        if self._cancelled.is_set():
            raise CancelledError(f"node {self.node_id!r} was cancelled")

    def cancel(self) -> None:
        """Mark cancelled and run every registered callback once."""
        self._cancelled.set()
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when the run is cancelled (at once if it already is).

        Returns a function that unregisters the callback.
        """
        with self._lock:
            if not self._cancelled.is_set():
                self._callbacks.append(callback)

                def unregister() -> None:
                    with self._lock:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return unregister
        callback()
        return lambda: None

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True early if the run is cancelled meanwhile."""
        return self._cancelled.wait(seconds)

    def progress(self, done: float, total: float | None = None, message: str = "") -> None:
        """Report how far this node has got (``done`` of ``total``, or a fraction 0..1)."""
        if self._on_progress is not None:
            self._on_progress(done, total, message)

    def log(self, message: str, *, level: str = "info") -> None:
        if self._on_log is not None:
            self._on_log(message, level)

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        concurrency: int = 1,
    ) -> list[R]:
        """Apply ``fn`` to every item, at most ``concurrency`` at once; results keep item order.

        With concurrency 1 the items run in the calling thread, so nesting cannot deadlock. The
        first exception cancels the items not yet started and is raised.
        """
        values = list(items)
        if concurrency <= 1 or len(values) <= 1:
            results: list[R] = []
            for value in values:
                self.check()
                results.append(fn(value))
            return results
        # Fresh threads per call, never the flow's shared pool: a body that itself maps cannot
        # wait on threads that are all busy waiting for it.
        with ThreadPoolExecutor(max_workers=min(concurrency, len(values))) as pool:
            futures = [pool.submit(fn, value) for value in values]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


def _rebuilt(node_id: str, allowed_paths: Roots) -> NodeContext:
    return NodeContext(node_id, allowed_paths=allowed_paths)
