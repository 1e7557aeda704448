"""``RunReport``: what a run tells its hooks, its progress tracker and its trace.

It owns the per-node bookkeeping of an observed run (status, start time, attempts), building the
events some hook wants (``HookSet.wants``; the rest are never built) and delivering them one at
a time per run. A run that is not observed (no hook, no trace) has no ``RunReport`` at all.
When to report is ``Execution``'s decision (``execution.py``); whether the run may go on is
``RunState``'s (``runstate.py``): the two per-node boundaries of an observed run are this
class's ``node_started``/``node_completed``, which ask the run's ``checks`` flag first.

Cost: the two events of every node are built and delivered here with the calls written out.
Timestamps come from the monotonic clock read for durations anyway, offset to wall time once per
run. Runs whose nodes all run inline in one thread (``Blueprint``: no ``thread``/``process``
node, no node timeout: ``Blueprint.one_thread``) deliver without the lock, which only orders
deliveries between threads; it is re-entrant because a hook may call back into its run. When no
hook wants an event the boundaries feed (``BOUNDARY_EVENTS``) and there is no trace, the run
keeps its unobserved boundaries (``watches_nodes``), so a hook of run events costs no node.
"""

from __future__ import annotations

import threading
import time
from time import perf_counter
from typing import TYPE_CHECKING

from .events import (
    Event,
    ExecutionProgress,
    Log,
    NodeCompleted,
    NodeFailed,
    NodeProgress,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    node_completed_event,
    node_started_event,
)
from .progress import ProgressTracker
from .runstate import describe
from .trace import TraceBuilder

if TYPE_CHECKING:
    from .execution import Execution
    from .hooks import HookSet

NOT_STARTED, RUNNING, DONE = 0, 1, 2

# The events whose facts the per-node boundaries (``node_started``/``node_completed``) gather.
BOUNDARY_EVENTS: tuple[type[Event], ...] = (
    NodeStarted,
    NodeCompleted,
    NodeFailed,
    NodeSkipped,
    ExecutionProgress,
)


class RunReport:
    """Events, progress and trace of one observed run. Thread-safe."""

    __slots__ = (
        "run",
        "blueprint",
        "nodes",
        "run_id",
        "hooks",
        "trace",
        "progress",
        "lock",
        "status",
        "t_start",
        "attempts",
        "to_started",
        "to_completed",
        "values",
        "watches_nodes",
        "_wall",
    )

    def __init__(self, run: Execution, hooks: HookSet | None, trace: bool) -> None:
        """Args:
        run: the run reported on (its blueprint, id, and the checks of its node boundaries).
        hooks: the run's hooks (None: only a trace is recorded).
        trace: record a trace (``TraceBuilder``).
        """
        self.run = run
        blueprint = self.blueprint = run.blueprint
        self.nodes = blueprint.nodes
        self.run_id = run.run_id
        self.hooks = hooks
        size = len(self.nodes)
        self.trace = TraceBuilder(size) if trace else None
        # Events no hook wants are never built; the per-node ones are asked once here.
        self.to_started = () if hooks is None else hooks.route(NodeStarted)
        self.to_completed = () if hooks is None else hooks.route(NodeCompleted)
        # A node's value rides on its NodeCompleted only when some hook asked for values.
        self.values = hooks is not None and hooks.wants_values
        self.progress = (
            ProgressTracker(blueprint.weights) if self.wants(ExecutionProgress) else None
        )
        # Whether the node boundaries have anything to do: a trace, or an event they feed (a
        # start, an end, a failure's duration, a skip of what never started, progress). If not,
        # the run keeps the unobserved boundaries and a hook of run events costs no node a thing.
        self.watches_nodes = trace or any(map(self.wants, BOUNDARY_EVENTS))
        # Re-entrant: a hook may log through the run while it is being called.
        self.lock: threading.RLock | None = None if blueprint.one_thread else threading.RLock()
        self.status = bytearray(size)
        self.t_start = [0.0] * size
        self.attempts = [0] * size
        self._wall = time.time() - time.perf_counter()

    def wants(self, event_type: type[Event]) -> bool:
        """Whether a hook of the run wants ``event_type`` (else it is not worth building)."""
        return self.hooks is not None and self.hooks.wants(event_type)

    def now(self) -> float:
        """Wall-clock time (``time.time``'s clock) from the monotonic clock."""
        return self._wall + time.perf_counter()

    # -- the two events of every node ------------------------------------------------------------

    def node_started(self, i: int) -> None:
        """``Execution.node_started`` of an observed run: checkpoint, then report the start."""
        run = self.run
        if run.checks:
            run.checkpoint()
        t = perf_counter()
        # Node i's slots are written only by the thread running it, and the trace has its own
        # lock: the run's lock is needed only to deliver one event at a time.
        self.status[i] = RUNNING
        self.t_start[i] = t
        if self.trace is not None:
            self.trace.started(i)
            self.trace.attempt(i)
        hooks = self.to_started
        if hooks:
            info = self.nodes[i]
            event = node_started_event(self.run_id, self._wall + t, info.id, info.type, i, 1)
            lock = self.lock
            if lock is not None:
                lock.acquire()  # acquire/release rather than ``with``: half the cost on an RLock
            try:
                for hook in hooks:
                    try:
                        hook.on_event(event=event)
                    except Exception as exc:  # a hook must never fail the run
                        self.hooks.report(hook, event, exc)  # type: ignore[union-attr]
            finally:
                if lock is not None:
                    lock.release()

    def node_completed(self, i: int, value: object = None, supplied: str | None = None) -> None:
        """``Execution.node_completed`` of an observed run: report, then ``after_node``.

        ``supplied``: how the value was supplied instead of running the node (``supply.py``).
        """
        self.status[i] = DONE
        if self.trace is not None:
            self.trace.ended(i, "completed")
        hooks = self.to_completed
        progress = self.progress
        if hooks or progress is not None:
            lock = self.lock
            if lock is not None:
                lock.acquire()
            try:
                if hooks:
                    info = self.nodes[i]
                    t = perf_counter()
                    event = node_completed_event(
                        self.run_id,
                        self._wall + t,
                        info.id,
                        info.type,
                        i,
                        t - self.t_start[i],
                        self.attempts[i] or 1,
                        value if self.values else None,
                        supplied,
                    )
                    for hook in hooks:
                        try:
                            hook.on_event(event=event)
                        except Exception as exc:  # a hook must never fail the run
                            self.hooks.report(hook, event, exc)  # type: ignore[union-attr]
                if progress is not None:
                    percent = progress.finish_node(i)
                    if percent is not None:
                        self._emit_progress(percent)
            finally:
                if lock is not None:
                    lock.release()
        run = self.run
        if run.checks:
            run.after_node()

    # -- the rarer node events -------------------------------------------------------------------

    def attempt(self, i: int, attempt: int) -> None:
        """Record and announce attempt ``attempt`` of node ``i`` (the policy path)."""
        if attempt == 1:
            self.status[i] = RUNNING
            self.t_start[i] = time.perf_counter()
            if self.trace is not None:
                self.trace.started(i)
        self.attempts[i] = attempt
        if self.trace is not None:
            self.trace.attempt(i)
        if self.to_started:
            info = self.nodes[i]
            self.emit(node_started_event(self.run_id, self.now(), info.id, info.type, i, attempt))

    def skipped(self, i: int, reason: str) -> None:
        """Node ``i`` does not run (disabled, or its run stopped before it started)."""
        with self._locked():
            self.status[i] = DONE
            if self.trace is not None:
                self.trace.ended(i, "skipped")
            if self.wants(NodeSkipped):
                info = self.nodes[i]
                self.emit(
                    NodeSkipped(
                        run_id=self.run_id,
                        timestamp=self.now(),
                        node_id=info.id,
                        node_type=info.type,
                        index=i,
                        reason=reason or ("disabled" if not info.enabled else ""),
                    )
                )
            self._advance(i)

    def failed(self, i: int, exc: BaseException, *, timed_out: bool, handled: bool) -> None:
        """Node ``i`` failed for good: ``NodeFailed``; ``handled``: the run goes on past it."""
        with self._locked():
            self.status[i] = DONE
            if self.trace is not None:
                self.trace.ended(i, "failed")
            if self.wants(NodeFailed):
                info = self.nodes[i]
                self.emit(
                    NodeFailed(
                        run_id=self.run_id,
                        timestamp=self.now(),
                        node_id=info.id,
                        node_type=info.type,
                        index=i,
                        error=describe(exc),
                        error_type=type(exc).__name__,
                        duration=time.perf_counter() - self.t_start[i],
                        attempts=max(1, self.attempts[i]),
                        timed_out=timed_out,
                        handled=handled,
                    )
                )
            if handled:
                self._advance(i)

    def retrying(
        self, i: int, attempt: int, delay: float, exc: BaseException, *, timed_out: bool
    ) -> None:
        """``NodeRetrying``: attempt ``attempt`` failed and another follows after ``delay``."""
        if not self.wants(NodeRetrying):
            return
        info = self.nodes[i]
        self.emit(
            NodeRetrying(
                run_id=self.run_id,
                timestamp=self.now(),
                node_id=info.id,
                node_type=info.type,
                index=i,
                attempt=attempt,
                delay=delay,
                error=describe(exc),
                timed_out=timed_out,
            )
        )

    def node_progress(self, i: int, done: float, total: float | None, message: str) -> None:
        """Node ``i`` reported progress through its context."""
        fraction = done / total if total else done
        info = self.nodes[i]
        with self._locked():
            if self.wants(NodeProgress):
                self.emit(
                    NodeProgress(
                        run_id=self.run_id,
                        timestamp=self.now(),
                        node_id=info.id,
                        node_type=info.type,
                        index=i,
                        fraction=min(max(fraction, 0.0), 1.0),
                        message=message,
                    )
                )
            if self.progress is not None:
                self._emit_progress(self.progress.node_fraction(i, fraction))

    def unstarted(self, reason: str) -> list[int]:
        """Report every node that never started as skipped; return their indexes."""
        with self._locked():
            unstarted = [
                i
                for i, status in enumerate(self.status)
                if status == NOT_STARTED and self.nodes[i].enabled
            ]
        for i in unstarted:
            self.skipped(i, reason)
        return unstarted

    # -- run events ------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to the hooks that want it (one at a time per run)."""
        if self.hooks is not None:
            with self._locked():
                self.hooks.emit(event)

    def log(self, message: str, *, level: str = "info", node_id: str | None = None) -> None:
        """Emit a ``Log`` event (nothing is built unless a hook wants logs)."""
        if self.wants(Log):
            self.emit(
                Log(
                    run_id=self.run_id,
                    timestamp=self.now(),
                    message=message,
                    level=level,
                    node_id=node_id,
                )
            )

    def finish_progress(self) -> None:
        """The run succeeded: progress reaches exactly 100.0."""
        if self.progress is not None:
            with self._locked():
                self._emit_progress(self.progress.finish())

    def _advance(self, i: int) -> None:
        if self.progress is not None:
            self._emit_progress(self.progress.finish_node(i))

    def _emit_progress(self, percent: float | None) -> None:
        # Only called with a tracker, which exists only when a hook wants progress.
        if percent is not None:
            self.hooks.emit(  # type: ignore[union-attr]
                ExecutionProgress(
                    run_id=self.run_id,
                    timestamp=self.now(),
                    blueprint_id=self.blueprint.id,
                    percent=percent,
                )
            )

    def _locked(self) -> threading.RLock | _NoLock:
        return self.lock if self.lock is not None else _NO_LOCK


class _NoLock:
    """The lock of a run that reports from one thread only: entering it does nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_LOCK = _NoLock()
