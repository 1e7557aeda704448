"""``Execution``: the state of one run, as generated code sees it.

It owns the node boundaries (``node_started``/``node_completed``/``node_skipped``/
``node_failed``): events, progress, trace and the checkpoints where cancellation, pause and the
flow deadline take effect. The policy path of ``call`` lives in ``policy.py``, task scheduling in
``scheduler.py``, and starting a run (``run``/``arun``) in ``runner.py``.

Generated code reads ``ex.slow`` before each boundary: while it is False nothing can be observed
(no hook, no trace, no deadline, nothing cancelled or paused), so a node costs one call and two
attribute loads. Anything that must be noticed later (``cancel``, ``pause``, a failing sibling)
sets ``slow`` to True first.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Literal, NoReturn, ParamSpec, TypeVar

from ..errors import CancelledError, NodeError, RunTimeoutError
from . import debug
from .confine import Roots
from .context import NodeContext, current_scope
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
from .limiter import CapacityLimiter
from .model import Blueprint, Task
from .progress import ProgressTracker
from .resources import RunResources
from .run_ids import new_run_id
from .trace import TraceBuilder

if TYPE_CHECKING:
    from .hooks import HookSet

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

StopKind = Literal["cancel", "timeout", "failure"]

# ThreadPoolExecutor's default, for the same reason: blocking I/O, not CPU, is what threads wait on.
DEFAULT_CONCURRENCY: int = min(32, (os.cpu_count() or 1) + 4)


_NOT_STARTED, _RUNNING, _DONE = 0, 1, 2


def next_run_id() -> str:
    """A unique, time-sortable run id (see ``run_ids``)."""
    return new_run_id()


# The runs of this process that have started and not yet ended (``runner.run`` keeps it), so a
# termination signal can cancel them all. set.add/discard/copy are atomic under the GIL.
ACTIVE: set[Execution] = set()


def active_runs() -> list[Execution]:
    """The runs of this process that are going on now."""
    return list(ACTIVE.copy())


class Execution:
    """One run of a compiled blueprint: what generated code calls between and around nodes.

    Thread-safe: thread tasks call it from worker threads while the scheduler uses it too.
    """

    __slots__ = (
        "blueprint",
        "nodes",
        "slow",
        "run_id",
        "timeout",
        "_concurrency",
        "_limiter",
        "_hooks",
        "_to_started",
        "_to_completed",
        "_observed",
        "_lock",
        "_stop",
        "_stop_kind",
        "_wake",
        "_paused",
        "_resume",
        "_deadline",
        "_progress",
        "_trace",
        "_status",
        "_t_start",
        "_attempts",
        "_contexts",
        "_errors",
        "process_pool",
        "abandoned",
        "allowed_paths",
        "_resources",
    )

    def __init__(
        self,
        blueprint: Blueprint,
        *,
        hooks: HookSet | None = None,
        concurrency: int | None = None,
        timeout: float | None = None,
        trace: bool = False,
        run_id: str | None = None,
        allowed_paths: Roots = None,
        resources: RunResources | None = None,
    ) -> None:
        """Prepare a run; nothing starts until the body calls ``run_tasks``.

        Args:
            blueprint: the compiled blueprint.
            hooks: the run's hooks (None: no events are built at all).
            concurrency: the thread-task limit (default: the blueprint's, else the runtime's).
            timeout: flow timeout in seconds, counted from now (default: the blueprint's).
            trace: record a trace (``TraceBuilder``).
            run_id: the id events carry (default: a fresh one).
            allowed_paths: the folders file nodes may touch (``confine``); None: anywhere.
            resources: the run's shared objects (default: an empty registry, made on first use).
        """
        self.blueprint = blueprint
        self.nodes = blueprint.nodes
        self.allowed_paths = allowed_paths
        self._resources = resources
        self.run_id = new_run_id() if run_id is None else run_id
        self._concurrency = concurrency or blueprint.concurrency or DEFAULT_CONCURRENCY
        self._limiter: CapacityLimiter | None = None
        self._hooks = hooks
        self._lock = threading.RLock()
        self._stop: str | None = None
        self._stop_kind: StopKind = "cancel"
        # Created on first use: two Events cost more than the rest of a small run.
        self._wake: threading.Event | None = None
        self._paused = False
        self._resume: threading.Event | None = None
        # Weak: a node called inline never releases its context, and a loop of file nodes must
        # not keep one per iteration; a running node holds its own, so it is cancelled still.
        self._contexts: weakref.WeakSet[NodeContext] = weakref.WeakSet()
        self._errors: dict[int, BaseException] = {}
        self.process_pool: ProcessPoolExecutor | None = None
        # Helper threads of timed-out calls whose context was cancelled: joined briefly at the end.
        self.abandoned: list[threading.Thread] = []
        self.timeout = timeout if timeout is not None else blueprint.timeout
        self._deadline = None if self.timeout is None else time.perf_counter() + self.timeout
        self._trace = TraceBuilder(len(self.nodes)) if trace else None
        self._observed = hooks is not None or trace
        # Events no hook wants are never built (``HookSet.wants``); the per-node ones are asked
        # once here, the rare ones where they happen.
        self._to_started = () if hooks is None else hooks.route(NodeStarted)
        self._to_completed = () if hooks is None else hooks.route(NodeCompleted)
        if self._observed:
            size = len(self.nodes)
            self._progress: ProgressTracker | None = (
                ProgressTracker(blueprint.weights) if self.wants(ExecutionProgress) else None
            )
            self._status = bytearray(size)
            self._t_start = [0.0] * size
            self._attempts = [0] * size
        else:
            self._progress = None
        self.slow = self._observed or self._deadline is not None

    # -- control ---------------------------------------------------------------------------------

    @property
    def limiter(self) -> CapacityLimiter:
        """The limit on thread tasks running at once; set ``total_tokens`` to change it live."""
        limiter = self._limiter
        if limiter is None:
            with self._lock:
                if self._limiter is None:
                    self._limiter = CapacityLimiter(self._concurrency)
                limiter = self._limiter
        return limiter

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

    def _signals(self) -> tuple[threading.Event, threading.Event]:
        """(set when the run stops, set while not paused), created on first use."""
        wake, resume = self._wake, self._resume
        if wake is None or resume is None:
            with self._lock:
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

    def pause(self) -> None:
        """Hold back node starts until ``resume``; running nodes finish their current call."""
        _, resume = self._signals()
        with self._lock:
            self._paused = True
            resume.clear()
            self.slow = True

    def resume(self) -> None:
        """Let node starts go on after ``pause``."""
        _, resume = self._signals()
        with self._lock:
            self._paused = False
            resume.set()

    def stop(self, kind: StopKind, message: str) -> bool:
        """Stop the run for ``kind`` (the first reason wins); return whether this call stopped it."""
        with self._lock:
            if self._stop is not None:
                return False
            self._stop = message
            self._stop_kind = kind
            self.slow = True
            contexts, self._contexts = list(self._contexts), weakref.WeakSet()
        wake, resume = self._signals()
        wake.set()
        resume.set()  # a paused run must wake up to notice
        for context in contexts:
            context.cancel()
        return True

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

    # ``ControlListener``: a CancelToken or RunControl attached to this run.
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
        with self._lock:
            self._concurrency = limit
            limiter = self._limiter
        if limiter is not None:
            limiter.total_tokens = limit

    # -- node boundaries -------------------------------------------------------------------------

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

    def node_started(self, i: int) -> None:
        """Node ``i`` is about to run.

        Raises:
            CancelledError: the run was cancelled, or a sibling task failed.
            RunTimeoutError: the flow deadline passed.
        """
        if (
            self._stop is not None
            or self._paused
            or self._deadline is not None
            or current_scope() is not None
        ):
            self.checkpoint()
        if self._observed:
            # ``begin_attempt(i, 1)`` written out: this runs once per node of an observed run.
            self._status[i] = _RUNNING
            self._attempts[i] = 1
            self._t_start[i] = time.perf_counter()
            if self._trace is not None:
                self._trace.started(i)
                self._trace.attempt(i)
            if self._to_started:
                info = self.nodes[i]
                # ``HookSet.emit`` written out, as for every node; acquire/release rather than
                # ``with``, which costs twice as much on an RLock.
                lock = self._lock
                lock.acquire()
                try:
                    event = node_started_event(self.run_id, time.time(), info.id, info.type, i, 1)
                    for hook in self._to_started:
                        try:
                            hook.on_event(event=event)
                        except Exception as exc:  # a hook must never fail the run
                            self._hooks.report(hook, event, exc)  # type: ignore[union-attr]
                finally:
                    lock.release()

    def begin_attempt(self, i: int, attempt: int) -> None:
        """Record and announce attempt ``attempt`` of node ``i`` (after ``checkpoint``)."""
        if not self._observed:
            return
        # Node i's slots are written only by the thread running it, and the trace has its own
        # lock: the run's lock is needed only to deliver one event at a time.
        if attempt == 1:
            self._status[i] = _RUNNING
            self._t_start[i] = time.perf_counter()
            if self._trace is not None:
                self._trace.started(i)
        self._attempts[i] = attempt
        if self._trace is not None:
            self._trace.attempt(i)
        if self._to_started:
            info = self.nodes[i]
            with self._lock:
                self._hooks.emit(  # type: ignore[union-attr]
                    node_started_event(self.run_id, time.time(), info.id, info.type, i, attempt)
                )

    def node_completed(self, i: int) -> None:
        """Node ``i`` finished: event, progress and trace.

        Raises:
            CancelledError: the run was stopped while the node ran; its context was cancelled,
                so what it returned cannot be trusted (a killed process "returns" too).
            RunTimeoutError: the flow deadline passed meanwhile.
        """
        if self._observed:
            self._status[i] = _DONE
            if self._trace is not None:
                self._trace.ended(i, "completed")
            if self._to_completed:
                info = self.nodes[i]
                duration = time.perf_counter() - self._t_start[i]
                attempts = self._attempts[i] or 1
                lock = self._lock
                lock.acquire()
                try:
                    completed = node_completed_event(
                        self.run_id, time.time(), info.id, info.type, i, duration, attempts
                    )
                    for hook in self._to_completed:
                        try:
                            hook.on_event(event=completed)
                        except Exception as exc:  # a hook must never fail the run
                            self._hooks.report(hook, completed, exc)  # type: ignore[union-attr]
                    if self._progress is not None:
                        percent = self._progress.finish_node(i)
                        if percent is not None:
                            self._emit_progress(percent)
                finally:
                    lock.release()
            elif self._progress is not None:
                with self._lock:
                    self._emit_progress(self._progress.finish_node(i))
        if self._stop is not None:
            raise self.stop_error()
        if self._deadline is not None and time.perf_counter() >= self._deadline:
            # A node that ran past the deadline in this thread (nobody could interrupt it):
            # its result came too late, and the run must not report success.
            self.expire()
            raise self.stop_error()

    def node_skipped(self, i: int, reason: str = "") -> None:
        """Node ``i`` does not run (disabled, or its run stopped before it started)."""
        if not self._observed:
            return
        with self._lock:
            self._status[i] = _DONE
            if self._trace is not None:
                self._trace.ended(i, "skipped")
            if self.wants(NodeSkipped):
                info = self.nodes[i]
                self._hooks.emit(  # type: ignore[union-attr]
                    NodeSkipped(
                        run_id=self.run_id,
                        timestamp=time.time(),
                        node_id=info.id,
                        node_type=info.type,
                        index=i,
                        reason=reason or ("disabled" if not info.enabled else ""),
                    )
                )
            self._advance(i)

    def node_failed(self, i: int, exc: BaseException) -> NoReturn:
        """Node ``i`` raised ``exc``: report it and raise ``NodeError`` naming the node.

        A ``NodeError`` (from a node nested inside this one) and the run's own cancellation or
        timeout pass through unchanged, so the innermost node keeps the blame.

        Raises:
            NodeError: always, unless ``exc`` passes through as said above.
        """
        self.report_failure(i, exc)
        if self._stop is not None and isinstance(exc, CancelledError):
            # A node cancelled because the run stopped: the run's reason, not the node's echo.
            raise self.stop_error() from exc
        if isinstance(exc, NodeError) or self.is_run_stop(exc):
            raise exc
        raise self.node_error_for(i, exc) from exc

    def node_error_for(self, i: int, exc: BaseException) -> NodeError:
        """The ``NodeError`` that blames node ``i`` for ``exc``, at the failing statement."""
        return debug.locate(self.blame(i, describe(exc)), exc, i)

    def blame(self, i: int, message: str) -> NodeError:
        """A ``NodeError`` naming node ``i`` and its place in the blueprint."""
        info = self.nodes[i]
        return NodeError(
            message,
            node_id=info.id,
            node_type=info.type,
            source=self.blueprint.where(info),
            line=info.line,
            column=info.column,
        )

    def report_failure(
        self, i: int, exc: BaseException, *, timed_out: bool = False, handled: bool = False
    ) -> None:
        """Record node ``i``'s final failure and emit ``NodeFailed``."""
        if handled:
            with self._lock:
                self._errors[i] = exc
        if not self._observed:
            return
        with self._lock:
            self._status[i] = _DONE
            if self._trace is not None:
                self._trace.ended(i, "failed")
            if self.wants(NodeFailed):
                info = self.nodes[i]
                self._hooks.emit(  # type: ignore[union-attr]
                    NodeFailed(
                        run_id=self.run_id,
                        timestamp=time.time(),
                        node_id=info.id,
                        node_type=info.type,
                        index=i,
                        error=describe(exc),
                        error_type=type(exc).__name__,
                        duration=time.perf_counter() - self._t_start[i],
                        attempts=max(1, self._attempts[i]),
                        timed_out=timed_out,
                        handled=handled,
                    )
                )
            if handled:
                self._advance(i)

    def report_retry(
        self, i: int, attempt: int, delay: float, exc: BaseException, *, timed_out: bool
    ) -> None:
        """Emit ``NodeRetrying``: attempt ``attempt`` failed and another follows after ``delay``."""
        if not self.wants(NodeRetrying):
            return
        info = self.nodes[i]
        with self._lock:
            self._hooks.emit(  # type: ignore[union-attr]
                NodeRetrying(
                    run_id=self.run_id,
                    timestamp=time.time(),
                    node_id=info.id,
                    node_type=info.type,
                    index=i,
                    attempt=attempt,
                    delay=delay,
                    error=describe(exc),
                    timed_out=timed_out,
                )
            )

    def node_error(self, i: int) -> BaseException | None:
        """The error of node ``i`` when its ``on_error`` let the run go on, else None."""
        return self._errors.get(i)

    def call(self, i: int, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call node ``i``'s function under its policy (retries, timeout, on_error, process).

        Emits the node's events itself. With ``on_error`` continue or branch a failure returns
        None (typed as ``T`` for the caller's convenience; the error is in ``node_error(i)``).

        Raises:
            NodeError: the node failed for good and its ``on_error`` is ``fail``.
            CancelledError: the run was cancelled.
            RunTimeoutError: the flow deadline passed.
        """
        from .policy import call_with_policy

        return call_with_policy(self, i, fn, args, kwargs)

    def context(self, i: int) -> NodeContext:
        """A ``NodeContext`` for node ``i``: cancelled with the run, reporting progress and logs."""
        info = self.nodes[i]
        if self._hooks is not None:
            context = NodeContext(
                info.id,
                on_progress=(
                    (lambda done, total, message: self._node_progress(i, done, total, message))
                    if self._progress is not None or self.wants(NodeProgress)
                    else None
                ),
                on_log=(
                    (lambda message, level: self.log(message, level=level, node_id=info.id))
                    if self.wants(Log)
                    else None
                ),
                limiter=self.limiter,
                on_cancel=self._context_cancelled,
                leftover=self._leave,
            )
        else:
            context = NodeContext(
                info.id,
                limiter=self.limiter,
                on_cancel=self._context_cancelled,
                leftover=self._leave,
            )
        context.allowed_paths = self.allowed_paths
        context.resources = self.resources
        with self._lock:
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
        return context

    def _leave(self, thread: threading.Thread) -> None:
        self.abandoned.append(thread)

    def _context_cancelled(self) -> None:
        # Sub-work of a cancelled context must notice at its next node boundary (``checkpoint``).
        self.slow = True

    def release_context(self, context: NodeContext) -> None:
        """Forget a context whose node finished (so a long loop does not keep them all)."""
        with self._lock:
            self._contexts.discard(context)

    def run_tasks(self, tasks: Sequence[Task[S]], state: S) -> None:
        """Run ``tasks`` as their dependencies finish; return when every started task finished.

        ``inline`` tasks run in this thread, ``thread`` tasks on worker threads under
        ``limiter``. The first failure stops the rest (running tasks stop at their next node
        boundary) and nothing new starts.

        Raises:
            NodeError: one task failed.
            ExceptionGroup: several tasks failed.
            CancelledError: the run was cancelled.
            RunTimeoutError: the flow deadline passed.
        """
        # One task has nothing to schedule: call it straight away (a deadline still needs the
        # scheduler to watch a thread task, and a trace wants task indexes).
        if (
            len(tasks) == 1
            and self._trace is None
            and (self._deadline is None or tasks[0].mode == "inline")
        ):
            if tasks[0].mode == "inline":
                tasks[0].fn(self, state)
                return
            # A thread task holds a token even here: its sub-work (parallel branches, loop
            # iterations) borrows the rest, so the limit counts this thread too.
            limiter = self.limiter
            limiter.acquire()
            try:
                tasks[0].fn(self, state)
            finally:
                limiter.release()
            return
        from .scheduler import TaskRun

        TaskRun(self, tasks, state).run()

    # -- events ----------------------------------------------------------------------------------

    @property
    def hooks(self) -> HookSet | None:
        """The run's hooks, or None."""
        return self._hooks

    @property
    def trace_builder(self) -> TraceBuilder | None:
        """The trace being recorded, or None."""
        return self._trace

    def wants(self, event_type: type[Event]) -> bool:
        """Whether a hook of the run wants ``event_type`` (else it is not worth building)."""
        return self._hooks is not None and self._hooks.wants(event_type)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to the hooks (one at a time per run)."""
        if self._hooks is not None:
            with self._lock:
                self._hooks.emit(event)

    def log(self, message: str, *, level: str = "info", node_id: str | None = None) -> None:
        """Emit a ``Log`` event (nothing is built unless a hook wants logs)."""
        if self.wants(Log):
            self.emit(
                Log(
                    run_id=self.run_id,
                    timestamp=time.time(),
                    message=message,
                    level=level,
                    node_id=node_id,
                )
            )

    def _node_progress(self, i: int, done: float, total: float | None, message: str) -> None:
        fraction = done / total if total else done
        info = self.nodes[i]
        with self._lock:
            if not self.wants(NodeProgress):
                if self._progress is not None:
                    self._emit_progress(self._progress.node_fraction(i, fraction))
                return
            self._hooks.emit(  # type: ignore[union-attr]
                NodeProgress(
                    run_id=self.run_id,
                    timestamp=time.time(),
                    node_id=info.id,
                    node_type=info.type,
                    index=i,
                    fraction=min(max(fraction, 0.0), 1.0),
                    message=message,
                )
            )
            if self._progress is not None:
                self._emit_progress(self._progress.node_fraction(i, fraction))

    def _advance(self, i: int) -> None:
        if self._progress is not None:
            self._emit_progress(self._progress.finish_node(i))

    def _emit_progress(self, percent: float | None) -> None:
        # Only called with a tracker, which exists only when a hook wants progress.
        if percent is not None:
            self._hooks.emit(  # type: ignore[union-attr]
                ExecutionProgress(
                    run_id=self.run_id,
                    timestamp=time.time(),
                    blueprint_id=self.blueprint.id,
                    percent=percent,
                )
            )

    def finish_progress(self) -> None:
        """The run succeeded: progress reaches exactly 100.0."""
        if self._progress is not None:
            with self._lock:
                self._emit_progress(self._progress.finish())

    def report_unstarted(self, reason: str) -> list[int]:
        """Report every node that never started as skipped; return their indexes."""
        if not self._observed:
            return []
        with self._lock:
            unstarted = [
                i
                for i, status in enumerate(self._status)
                if status == _NOT_STARTED and self.nodes[i].enabled
            ]
        for i in unstarted:
            self.node_skipped(i, reason)
        return unstarted

    # -- resources -------------------------------------------------------------------------------

    @property
    def resources(self) -> RunResources:
        """The objects the run's nodes share (``RunResources``), closed by ``close``."""
        resources = self._resources
        if resources is None:
            with self._lock:
                if self._resources is None:
                    self._resources = RunResources()
                resources = self._resources
        return resources

    @property
    def holds_resources(self) -> bool:
        """Whether ``close`` has something to release (the runner's fast path asks)."""
        return self.process_pool is not None or bool(self.abandoned) or self._resources is not None

    def close(self) -> None:
        """Release what the run created: its process pool, shared resources and helper threads."""
        pool, self.process_pool = self.process_pool, None
        if pool is not None:
            if self._stop is not None:
                # Cancelled: kill the workers rather than wait for calls nobody will read.
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        if self._resources is not None:
            # Before the joins: closing a connection pool lets abandoned calls end sooner.
            self._resources.close()
        abandoned, self.abandoned = self.abandoned, []
        # Their contexts were cancelled; give them a moment to notice, never more.
        deadline = time.perf_counter() + 1.0
        for thread in abandoned:
            thread.join(max(0.0, deadline - time.perf_counter()))


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
