"""``Execution``: one run of a compiled blueprint, as generated code sees it.

It owns the node boundaries (``node_started``/``node_completed``/``node_skipped``/
``node_failed``), the policy call (``call``, whose retries and timeouts live in ``policy.py``),
node contexts, the run's tasks (``run_tasks``, handed to a ``ThreadExecutor``), the one place a
``NodeError`` is built (``blame``) and what the run holds until it ends (``close``). It is a
``RunState`` (``runstate.py``: stop, pause, deadline, thread limit) and reports through a
``RunReport`` (``reporting.py``: events, progress, trace) when something observes the run.
Starting a run (``run``/``arun``) is ``runner.py``'s.

Generated code reads ``ex.slow`` before each boundary: while it is False nothing can be observed
(no hook, no trace, no deadline, nothing cancelled or paused), so a node costs one call and two
attribute loads. Anything that must be noticed later (``cancel``, ``pause``, a failing sibling)
sets ``slow`` to True first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, Protocol, TypeVar

from ..errors import CancelledError, NodeError
from . import debug
from .confine import Roots
from .context import NodeContext
from .events import Event, Log, NodeProgress
from .executors import ProcessExecutor, ThreadExecutor
from .model import Blueprint, Task
from .reporting import RunReport
from .resources import RunResources
from .run_ids import new_run_id
from .runstate import DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY
from .runstate import RunState
from .runstate import StopKind as StopKind
from .runstate import describe as describe
from .runstate import message_of as message_of
from .supply import Supply
from .trace import TraceBuilder

if TYPE_CHECKING:
    from .hooks import HookSet


class RemoteTasks(Protocol):
    """An executor that runs a flow's tasks elsewhere (``executors/dask.py``'s session)."""

    def run_tasks(
        self,
        ex: Execution,
        tasks: Sequence[Task[Any]],
        state: object,
        results: Sequence[str] | None,
    ) -> None:
        """Run ``tasks`` and set the ``results`` slots on ``state`` (None: a module too old
        to say which, whose tasks' writes are every slot they make)."""


P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


def next_run_id() -> str:
    """A unique, time-sortable run id (see ``run_ids``)."""
    return new_run_id()


# The runs of this process that have started and not yet ended (``runner.run`` keeps it), so a
# termination signal can cancel them all. set.add/discard/copy are atomic under the GIL.
ACTIVE: set[Execution] = set()


def active_runs() -> list[Execution]:
    """The runs of this process that are going on now."""
    return list(ACTIVE.copy())


class Execution(RunState):
    """One run of a compiled blueprint: what generated code calls between and around nodes.

    Thread-safe: thread tasks call it from worker threads while the executor uses it too.
    """

    __slots__ = (
        "blueprint",
        "nodes",
        "report",
        "allowed_paths",
        "abandoned",
        "_hooks",
        "_errors",
        "_resources",
        "_processes",
        "_started",
        "_completed",
        "supply",
        # Any supplier at all: generated code asks ``serve`` only then, so a run with hooks but
        # no pins, fails or cache builds no key tuple per node.
        "supplying",
        "remote",
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
        supply: Supply | None = None,
        processes: ProcessExecutor | None = None,
    ) -> None:
        """Prepare a run; nothing starts until the body calls ``run_tasks``.

        Args:
            blueprint: the compiled blueprint.
            hooks: the run's hooks (None: no events are built at all).
            concurrency: the thread limit (default: the blueprint's, else the runtime's).
            timeout: flow timeout in seconds, counted from now (default: the blueprint's).
            trace: record a trace (``TraceBuilder``).
            run_id: the id events carry (default: a fresh one).
            allowed_paths: the folders file nodes may touch (``confine``); None: anywhere.
            resources: the run's shared objects (default: an empty registry, made on first use).
            supply: the run's suppliers of node values (pins, fails, a cache): see ``serve``.
            processes: where ``execution: process`` calls run (default: a pool made on first use).
        """
        RunState.__init__(
            self,
            run_id,
            concurrency or blueprint.concurrency or DEFAULT_CONCURRENCY,
            timeout if timeout is not None else blueprint.timeout,
        )
        self.blueprint = blueprint
        self.nodes = blueprint.nodes
        self.allowed_paths = allowed_paths
        self._hooks = hooks
        self._resources = resources
        self._processes = processes
        self._errors: dict[int, BaseException] = {}
        # Helper threads of timed-out calls whose context was cancelled: joined briefly at the end.
        self.abandoned: list[threading.Thread] = []
        self.report: RunReport | None = None
        # Where ``run_tasks`` sends tasks instead of this process's threads (a Dask session).
        self.remote: RemoteTasks | None = None
        if hooks is not None or trace:
            report = self.report = RunReport(self, hooks, trace)
            if report.watches_nodes:
                # Same layout, so the class can change: its boundaries are the report's methods.
                self._started: Callable[[int], None] = report.node_started
                self._completed: Callable[[int, object], None] = report.node_completed
                self.__class__ = _ObservedExecution
                self.slow = True
        self.supply = supply
        self.supplying = supply is not None
        if supply is not None:
            self.__class__ = _SuppliedExecution
            self.slow = True

    # -- node boundaries -------------------------------------------------------------------------

    def node_started(self, i: int) -> None:
        """Node ``i`` is about to run.

        An observed run's instances replace this and ``node_completed`` with their
        ``RunReport``'s, which do the same and report (one call per boundary, not two).

        Raises:
            CancelledError: the run was cancelled, or a sibling task failed.
            RunTimeoutError: the flow deadline passed.
        """
        if self.checks:
            self.checkpoint()

    def begin_attempt(self, i: int, attempt: int) -> None:
        """Record and announce attempt ``attempt`` of node ``i`` (after ``checkpoint``)."""
        if self.report is not None:
            self.report.attempt(i, attempt)

    def node_completed(self, i: int, value: object = None) -> None:
        """Node ``i`` finished with ``value``: event, progress and trace.

        Raises:
            CancelledError: the run was stopped while the node ran (see ``after_node``).
            RunTimeoutError: the flow deadline passed meanwhile.
        """
        if self.checks:
            self.after_node()

    def node_skipped(self, i: int, reason: str = "") -> None:
        """Node ``i`` does not run (disabled, or its run stopped before it started)."""
        if self.report is not None:
            self.report.skipped(i, reason)

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
        """A ``NodeError`` naming node ``i`` and its place in the blueprint.

        The one place a ``NodeError`` of a run is built.
        """
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
            self._errors[i] = exc
        if self.report is not None:
            self.report.failed(i, exc, timed_out=timed_out, handled=handled)

    def report_retry(
        self, i: int, attempt: int, delay: float, exc: BaseException, *, timed_out: bool
    ) -> None:
        """Emit ``NodeRetrying``: attempt ``attempt`` failed and another follows after ``delay``."""
        if self.report is not None:
            self.report.retrying(i, attempt, delay, exc, timed_out=timed_out)

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
        report = self.report
        context = NodeContext(
            info.id,
            on_progress=(
                partial(report.node_progress, i)
                if report is not None and (report.progress is not None or self.wants(NodeProgress))
                else None
            ),
            on_log=(
                (lambda message, level: report.log(message, level=level, node_id=info.id))
                if report is not None and self.wants(Log)
                else None
            ),
            limiter=self.limiter,
            on_cancel=self.context_cancelled,
            leftover=self._leave,
        )
        context.allowed_paths = self.allowed_paths
        context.resources = self.resources
        self.track_context(context)
        return context

    def _leave(self, thread: threading.Thread) -> None:
        self.abandoned.append(thread)

    # -- supplied values (pins, fails, a cache: ``supply.py``) ------------------------------------

    def serve(
        self, i: int, state: object, slot: str, key_values: tuple[object, ...], policy: bool = False
    ) -> bool:
        """Whether node ``i``'s value was supplied (then it is set on ``state.<slot>``).

        Generated code asks this, on the slow path only, instead of calling the node when the
        answer is True. ``key_values`` are the values the call depends on. A plain node's
        ``node_started`` came before and its ``node_completed`` follows, in generated code; a
        supplier's exception propagates to its ``node_failed``. A node on the ``policy`` path
        (``call``) is announced here, and a supplier's exception goes through its retries and
        ``on_error`` as a real failure would: each attempt asks the suppliers again.

        Raises:
            NodeError: a supplier failed the node (plain path: whatever the supplier raised).
        """
        supply = self.supply
        if supply is None:
            return False
        info = self.nodes[i]
        if not policy:
            supplied = supply.ask(info, i, key_values)
            if supplied is None:
                return False
            setattr(state, slot, supplied.value)
            supply.mark(i, supplied.kind)
            return True
        try:
            supplied = supply.ask(info, i, key_values)
        except Exception:
            from .policy import call_with_policy

            value = call_with_policy(self, i, self._supplied, (i, key_values), {}, supplied=True)
            setattr(state, slot, value)
            return True
        if supplied is None:
            return False
        self.node_started(i)
        setattr(state, slot, supplied.value)
        supply.mark(i, supplied.kind)
        self.node_completed(i, supplied.value)
        return True

    def _supplied(self, i: int, key_values: tuple[object, ...]) -> object:
        """One attempt of a policy node whose supplier failed it: ask again."""
        assert self.supply is not None
        supplied = self.supply.ask(self.nodes[i], i, key_values)
        if supplied is None:
            raise RuntimeError("a supplier failed this node, then let it run: it cannot run now")
        self.supply.mark(i, supplied.kind)
        return supplied.value

    # -- tasks -----------------------------------------------------------------------------------

    def run_tasks(
        self, tasks: Sequence[Task[S]], state: S, results: Sequence[str] | None = None
    ) -> None:
        """Run ``tasks`` as their dependencies finish; return when every started task finished.

        ``results``: the state slots the caller reads afterwards; a remote executor sets only
        those on ``state`` (None: every slot the tasks write).

        ``inline`` tasks run in this thread, ``thread`` tasks on worker threads under
        ``limiter`` (``ThreadExecutor``). The first failure stops the rest (running tasks stop
        at their next node boundary) and nothing new starts.

        Raises:
            NodeError: one task failed.
            ExceptionGroup: several tasks failed.
            CancelledError: the run was cancelled.
            RunTimeoutError: the flow deadline passed.
        """
        if self.remote is not None:
            self.remote.run_tasks(self, tasks, state, results)
            return
        # One task has nothing to schedule: call it straight away (a deadline still needs the
        # executor to watch a thread task, and a trace wants task indexes).
        if (
            len(tasks) == 1
            and (self.report is None or self.report.trace is None)
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
        executor = ThreadExecutor(self)
        for task in tasks:
            executor.submit(partial(task.fn, self, state), task.after, inline=task.mode == "inline")
        executor.wait()

    @property
    def processes(self) -> ProcessExecutor:
        """The run's process executor (``execution: process`` calls), made on first use."""
        processes = self._processes
        if processes is None:
            with self._state_lock:
                if self._processes is None:
                    self._processes = ProcessExecutor(self._process_workers)
                processes = self._processes
        return processes

    def _process_workers(self) -> int:
        import multiprocessing

        return min(self.limiter.total_tokens, multiprocessing.cpu_count() or 1)

    # -- events ----------------------------------------------------------------------------------

    @property
    def hooks(self) -> HookSet | None:
        """The run's hooks, or None."""
        return self._hooks

    @property
    def trace_builder(self) -> TraceBuilder | None:
        """The trace being recorded, or None."""
        return None if self.report is None else self.report.trace

    def wants(self, event_type: type[Event]) -> bool:
        """Whether a hook of the run wants ``event_type`` (else it is not worth building)."""
        return self._hooks is not None and self._hooks.wants(event_type)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to the hooks (one at a time per run)."""
        if self.report is not None:
            self.report.emit(event)

    def log(self, message: str, *, level: str = "info", node_id: str | None = None) -> None:
        """Emit a ``Log`` event (nothing is built unless a hook wants logs)."""
        if self.report is not None:
            self.report.log(message, level=level, node_id=node_id)

    def finish_progress(self) -> None:
        """The run succeeded: progress reaches exactly 100.0."""
        if self.report is not None:
            self.report.finish_progress()

    def report_unstarted(self, reason: str) -> list[int]:
        """Report every node that never started as skipped; return their indexes."""
        return [] if self.report is None else self.report.unstarted(reason)

    # -- what the run holds ----------------------------------------------------------------------

    @property
    def resources(self) -> RunResources:
        """The objects the run's nodes share (``RunResources``), closed by ``close``."""
        resources = self._resources
        if resources is None:
            with self._state_lock:
                if self._resources is None:
                    self._resources = RunResources()
                resources = self._resources
        return resources

    @property
    def holds_resources(self) -> bool:
        """Whether ``close`` has something to release (the runner's fast path asks)."""
        return self._processes is not None or bool(self.abandoned) or self._resources is not None

    def close(self) -> None:
        """Release what the run created: its process pool, shared resources and helper threads."""
        processes, self._processes = self._processes, None
        if processes is not None:
            if self._stop is not None:
                # Cancelled: kill the workers rather than wait for calls nobody will read.
                processes.cancel()
            else:
                processes.close()
        if self._resources is not None:
            # Before the joins: closing a connection pool lets abandoned calls end sooner.
            self._resources.close()
        abandoned, self.abandoned = self.abandoned, []
        # Their contexts were cancelled; give them a moment to notice, never more.
        deadline = time.perf_counter() + 1.0
        for thread in abandoned:
            thread.join(max(0.0, deadline - time.perf_counter()))


class _ObservedExecution(Execution):
    """An ``Execution`` with hooks or a trace (``Execution.__init__`` makes it one).

    Its ``node_started``/``node_completed`` read the instance's ``_started``/``_completed``
    slots: its ``RunReport``'s methods, which check the run state and report in one call.
    """

    __slots__ = ()

    # The slots' own descriptors under the boundaries' names (a plain attribute load).
    node_started = vars(Execution)["_started"]
    node_completed = vars(Execution)["_completed"]


class _SuppliedExecution(Execution):
    """An ``Execution`` with suppliers (``Execution.__init__`` makes it one): its boundaries
    tell a supplied node's kind to the report and the value of a node that ran to the
    suppliers (``Supply.completed``)."""

    __slots__ = ()

    def node_started(self, i: int) -> None:
        report = self.report
        if report is not None:
            report.node_started(i)
        elif self.checks:
            self.checkpoint()

    def node_completed(self, i: int, value: object = None) -> None:
        supply = self.supply
        assert supply is not None
        kind = supply.take(i)
        if kind is None:
            supply.completed(self.nodes[i], i, value)
        report = self.report
        if report is not None:
            report.node_completed(i, value, kind)
        elif self.checks:
            self.after_node()
