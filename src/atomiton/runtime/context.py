"""``NodeContext``: what a running node may ask of its execution.

Nodes that declare ``needs_context`` receive one: cancellation (a flag, callbacks, interruptible
waits), progress and log reporting, and sub-work (``subtask``, ``map``, ``start_thread``) such as
loop iterations and parallel branches. A context made with ``NodeContext.detached()`` works
without an execution, so a node can be called directly.

Sub-work is scoped: inside ``with context.subtask() as child:`` the nodes this thread starts
belong to ``child`` (``current_scope``), so cancelling it - a branch that timed out or lost a race,
a loop that timed out - cancels their contexts (a program they started is killed) and stops them
at their next node boundary. Sub-work threads count against the run's ``CapacityLimiter``: the
node's own thread works on its own token and every further thread borrows one.

Sub-work may also leave the process: ``offload`` asks the run for an ``Offload`` (lent by the
execution's resources under ``OFFLOAD``; on a Dask worker, ``executors/dask_items.py``), which
runs loop items and parallel branches as tasks of the cluster. Locally there is none and
nothing here imports a cluster library.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Final, Protocol, TypeVar, cast

from ..errors import CancelledError
from .confine import Roots
from .limiter import CapacityLimiter
from .resources import RunResources

T = TypeVar("T")
R = TypeVar("R")


class _ScopeLocal(threading.local):
    """The sub-work scope of each thread (``subtask``): where the nodes it starts belong."""

    # A class default: reading a missing thread-local attribute raises inside, which cost every
    # observed node boundary about half a microsecond.
    scope: NodeContext | None = None


_local = _ScopeLocal()

# The key under which an execution's resources lend its ``Offload`` (a Dask worker's).
OFFLOAD: Final = "atomiton-offload"

# One sub-work call's outcome: its value, or what it raised (then the value is None).
Outcome = tuple[Any, BaseException | None]


class Offloaded(Protocol):
    """Sub-work functions (bodies) sent elsewhere, for the length of one ``offload`` block."""

    def batches(self, count: int, concurrency: int) -> int:
        """Into how many batches ``count`` items run at most ``concurrency`` at once are cut."""

    def call(self, body: int, items: Sequence[Any], keep_going: bool) -> list[Outcome]:
        """Run body ``body`` on each of ``items``, one after another, elsewhere; wait for them.

        Returns one outcome per item run: after a failure the rest of ``items`` are not run
        unless ``keep_going``. Cancelling this thread's ``subtask`` scope stops the call.

        Raises:
            CancelledError: the scope was cancelled while the call ran.
        """


class Offload(Protocol):
    """Where an execution sends sub-work instead of its own threads (a cluster)."""

    def session(
        self, bodies: Sequence[Callable[[Any], Any]], context: NodeContext
    ) -> AbstractContextManager[Offloaded | None]:
        """A block in which ``bodies`` run elsewhere; None when they cannot (then run here)."""


def current_scope() -> NodeContext | None:
    """The ``subtask`` context this thread is working in, or None outside sub-work."""
    return _local.scope


class NodeContext:
    """Cancellation, progress, logging and sub-work for one running node."""

    __slots__ = (
        "node_id",
        "allowed_paths",
        "limiter",
        "resources",
        "_cancelled",
        "_callbacks",
        "_lock",
        "_on_progress",
        "_on_log",
        "__weakref__",
        "_on_cancel",
        "_leftover",
    )

    def __init__(
        self,
        node_id: str,
        *,
        cancelled: threading.Event | None = None,
        on_progress: Callable[[float, float | None, str], None] | None = None,
        on_log: Callable[[str, str], None] | None = None,
        allowed_paths: Roots = None,
        limiter: CapacityLimiter | None = None,
        on_cancel: Callable[[], None] | None = None,
        leftover: Callable[[threading.Thread], None] | None = None,
    ) -> None:
        """Make a context (an execution makes them; nodes get theirs as ``context=``).

        Args:
            node_id: the node's id, for messages.
            cancelled: the event that says "cancelled" (default: a new one).
            on_progress: receives ``progress`` reports.
            on_log: receives ``log`` messages.
            allowed_paths: the run's file-system confinement (None: not confined).
            limiter: the run's thread limit, which sub-work threads borrow from (None: no limit).
            on_cancel: called first whenever this context is cancelled (the execution then
                checks every node boundary, so sub-work of a cancelled scope stops at its next).
            leftover: receives a sub-work thread still running when its node had to end, so
                the run can wait for it a moment at its end.
        """
        self.node_id = node_id
        self.allowed_paths = allowed_paths
        self.limiter = limiter
        # The run's shared objects (an HTTP pool...); None: detached, each call makes its own.
        self.resources: RunResources | None = None
        self._cancelled = cancelled if cancelled is not None else threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._on_progress = on_progress
        self._on_log = on_log
        self._on_cancel = on_cancel
        self._leftover = leftover

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
        if self._on_cancel is not None:
            self._on_cancel()
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

    # -- sub-work --------------------------------------------------------------------------------

    @contextmanager
    def subtask(self) -> Iterator[NodeContext]:
        """A child context for one piece of sub-work, current in this thread while inside.

        The child is cancelled with this context, or alone (``child.cancel()``): either way the
        nodes this thread starts inside the block have their contexts cancelled and stop at their
        next node boundary with ``CancelledError``.
        """
        child = NodeContext(
            self.node_id,
            on_progress=self._on_progress,
            on_log=self._on_log,
            limiter=self.limiter,
            on_cancel=self._on_cancel,
            leftover=self._leftover,
            allowed_paths=self.allowed_paths,
        )
        child.resources = self.resources
        unregister = self.on_cancel(child.cancel)
        previous = current_scope()
        _local.scope = child
        try:
            yield child
        finally:
            _local.scope = previous
            unregister()

    def start_thread(self, target: Callable[[], None], name: str) -> threading.Thread | None:
        """Start ``target`` on a new thread if the run's limiter lends a token (else None).

        The token goes back when ``target`` returns. Without a limiter (a detached context) the
        thread always starts.
        """
        limiter = self.limiter
        if limiter is not None and not limiter.acquire_nowait():
            return None

        def run() -> None:
            try:
                target()
            finally:
                if limiter is not None:
                    limiter.release(notify=True)

        thread = threading.Thread(target=run, name=name, daemon=True)
        try:
            thread.start()
        except BaseException:
            if limiter is not None:
                limiter.release()
            raise
        return thread

    def leave(self, thread: threading.Thread) -> None:
        """Hand a sub-work thread that is still running (already cancelled) to the run.

        The run waits for it briefly before it returns; without an execution it is left alone
        (it is a daemon thread).
        """
        if self._leftover is not None:
            self._leftover(thread)

    def offload(
        self, bodies: Sequence[Callable[[Any], Any]]
    ) -> AbstractContextManager[Offloaded | None]:
        """A block in which ``bodies`` (a loop's body, a parallel node's branches) run as tasks
        of a cluster; None inside when the run has no cluster (the usual case) or they cannot
        go there, and the node runs them itself."""
        resources = self.resources
        offload = resources.lent(OFFLOAD) if resources is not None else None
        if offload is None:
            return nullcontext(None)
        return cast(Offload, offload).session(bodies, self)

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        concurrency: int = 1,
    ) -> list[R]:
        """Apply ``fn`` to every item, at most ``concurrency`` at once; results keep item order.

        Each item runs as a ``subtask``. The calling thread works through the items itself and
        starts up to ``concurrency - 1`` helper threads while the run's limiter lends tokens, so
        the run's concurrency limit bounds them; with concurrency 1 everything runs in the
        calling thread, so nesting cannot deadlock. The first exception stops new items, cancels
        the running ones, and is raised once every helper thread has ended.
        """
        values = list(items)
        count = len(values)
        if concurrency <= 1 or count <= 1:
            results: list[R] = []
            for value in values:
                self.check()
                with self.subtask():
                    results.append(fn(value))
            return results
        slots: list[object] = [None] * count
        errors: list[BaseException] = []
        running: dict[int, NodeContext] = {}
        lock = threading.Lock()
        cursor = [0]

        def take() -> int | None:
            with lock:
                if errors or cursor[0] >= count:
                    return None
                k = cursor[0]
                cursor[0] += 1
                return k

        def one(k: int) -> bool:
            try:
                with self.subtask() as child:
                    with lock:
                        running[k] = child
                    slots[k] = fn(values[k])
                return True
            except BaseException as exc:  # raised by the calling thread once all have ended
                with lock:
                    errors.append(exc)  # the first one caused the rest (cancellations)
                    others = [c for i, c in running.items() if i != k]
                for other in others:
                    other.cancel()
                return False
            finally:
                with lock:
                    running.pop(k, None)

        def work() -> None:
            while (k := take()) is not None and one(k):
                pass

        helpers: list[threading.Thread] = []
        wanted = min(concurrency, count) - 1
        while (k := take()) is not None:
            # Add helpers while there is work for them and the limiter lends tokens.
            while len(helpers) < wanted and cursor[0] < count:
                name = f"atomiton-map-{self.node_id}-{len(helpers)}"
                thread = self.start_thread(work, name)
                if thread is None:
                    break
                helpers.append(thread)
            if not one(k):
                break
        for thread in helpers:
            thread.join()
        if errors:
            raise errors[0]
        return cast(list[R], slots)


def _rebuilt(node_id: str, allowed_paths: Roots) -> NodeContext:
    return NodeContext(node_id, allowed_paths=allowed_paths)
