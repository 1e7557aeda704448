"""``DaskExecutor``: a run's tasks on a Dask cluster, each submitted with its upstream futures.

Imported only when a run asks for a Dask executor (``runner`` resolves the ``executor``
argument through ``open_session``); nothing else in the runtime imports ``distributed``.

What it owns: the session (a ``distributed.Client`` it made, with its ``LocalCluster``, or one
it was given and never closes), shipping the generated module to the workers (a worker plugin
carrying its source, so modules loaded from any file work in worker processes), the worker
side of a task (``run_remote``: a fresh state object, the upstream slots set on it, the task
function run under a worker-side ``Execution``), events back to the client's hooks (Dask's
event topics, replayed into the client run's ``RunReport`` in order per node), cancellation
(futures cancelled, and every worker's runs of that id cancelled, which kills their programs),
and the flow's concurrency limit across the cluster (a ``distributed.Semaphore`` when the
cluster has more threads than the limit).

What it leaves to others: what a task does and the policy of each node (the same generated
functions and ``policy.py`` run on the worker), and building ``NodeError`` (``Execution.blame``).
Loop items and parallel branches run inside their node's task, on that task's worker.
"""

# distributed's own annotations are partial: its calls are typed at this module's edge.
# mypy: allow-untyped-calls

from __future__ import annotations

import dataclasses
import linecache
import logging
import os
import pickle
import queue
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cloudpickle  # type: ignore[import-untyped]
from distributed import Client, Future, LocalCluster, Semaphore, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ...errors import CancelledError, NodeError, RunTimeoutError
from ..events import (
    Event,
    Log,
    NodeCompleted,
    NodeFailed,
    NodeProgress,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
)
from ..runstate import message_of
from ..model import Task

if TYPE_CHECKING:
    from ..execution import Execution

# One topic for every run's events; each message names its run.
EVENTS_TOPIC = "atomiton-events"
# How long the end of a run waits for the events of its tasks still on their way.
_EVENT_GRACE = 10.0
# How long a stopped run waits for its tasks on the workers to notice (programs are killed).
_STOP_GRACE = 10.0


# -- the session: which cluster a run uses ---------------------------------------------------------


class DaskSession:
    """A client for one run: made here (and closed with the run) or borrowed from the caller."""

    def __init__(self, client: Client, cluster: LocalCluster | None = None, *, owned: bool) -> None:
        self.client = client
        self.cluster = cluster
        self.owned = owned

    def close(self) -> None:
        """Close the client and cluster this session started; a borrowed client stays open."""
        if self.owned:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()

    def run_tasks(
        self, ex: Execution, tasks: Sequence[Task[Any]], state: object, results: Sequence[str]
    ) -> None:
        """``Execution.run_tasks`` on the cluster: see ``DaskExecutor``."""
        DaskExecutor(self.client, ex).run(tasks, state, results)


def open_session(executor: object) -> DaskSession:
    """The session for ``executor``: ``"dask"`` (a local cluster of worker processes, closed with
    the run), ``"dask-threads"`` (the same in this process), a scheduler address
    (``tcp://host:8786``), or a ``distributed.Client`` (used, never closed).

    Raises:
        ValueError: ``executor`` names none of these.
    """
    if isinstance(executor, Client):
        return DaskSession(executor, owned=False)
    if executor in ("dask", "dask-threads"):
        cluster = LocalCluster(
            processes=executor == "dask",
            dashboard_address=None,
            threads_per_worker=1 if executor == "dask" else None,
        )
        return DaskSession(Client(cluster), cluster, owned=True)
    if isinstance(executor, str) and "://" in executor:
        return DaskSession(Client(executor), owned=True)
    raise ValueError(
        f"unknown executor {executor!r}: use 'threads', 'dask', 'dask-threads', "
        "a scheduler address such as 'tcp://host:8786', or a distributed.Client"
    )


# -- what crosses to a worker ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskCall:
    """Everything the worker needs to run task ``index`` of a run (small, pickled per task)."""

    module: str
    sha256: str
    function: str
    state_class: str
    inputs_class: str
    inputs: dict[str, Any]
    index: int
    mode: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    makers: tuple[int, ...]
    run_id: str
    client_pid: int
    concurrency: int
    timeout: float | None
    semaphore: str | None
    events: tuple[type[Event], ...]
    values: bool
    allowed_paths: Any


class RemoteFailure(Exception):
    """A task's failure as it crosses back to the client (``NodeError`` does not pickle)."""

    def __init__(self, kind: str, fields: dict[str, Any], notes: list[str]) -> None:
        super().__init__(kind, fields, notes)
        self.kind = kind
        self.fields = fields
        self.notes = notes

    def error(self) -> BaseException:
        """The exception the task raised on its worker, rebuilt."""
        error: BaseException
        if self.kind == "node":
            error = NodeError(**self.fields)
        elif self.kind == "cancelled":
            error = CancelledError(self.fields["message"])
        elif self.kind == "timeout":
            error = RunTimeoutError(self.fields["message"])
        else:
            error = RuntimeError(self.fields["message"])
        for note in self.notes:
            error.add_note(note)
        return error

    @classmethod
    def of(cls, exc: BaseException) -> RemoteFailure:
        notes = list(getattr(exc, "__notes__", ()))
        if isinstance(exc, NodeError):
            fields = {
                name: getattr(exc, name)
                for name in (
                    "message",
                    "node_id",
                    "node_type",
                    "source",
                    "line",
                    "column",
                    "node_line",
                    "node_column",
                    "statement",
                    "included_from",
                )
            }
            return cls("node", fields, notes)
        if isinstance(exc, CancelledError):
            return cls("cancelled", {"message": str(exc)}, notes)
        if isinstance(exc, RunTimeoutError):
            return cls("timeout", {"message": str(exc)}, notes)
        return cls("other", {"message": f"{type(exc).__name__}: {exc}"}, notes)


class ModulePlugin(WorkerPlugin):
    """Makes a generated module importable on every worker, by its name, from its source."""

    def __init__(self, name: str, sha256: str, source: str, filename: str) -> None:
        self.name = name
        self.sha256 = sha256
        self.source = source
        self.filename = filename

    def setup(self, worker: object) -> None:
        install_module(self.name, self.sha256, self.source, self.filename)
        quiet_failures()


class _QuietFailures(logging.Filter):
    """Drops Dask's "Compute Failed" log of this executor's tasks: the failure is the run's
    ``NodeError``, reported to its caller, not a Dask traceback on the worker's stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (
            isinstance(args, tuple)
            and args
            and str(args[0]).startswith("atomiton-")
            and str(record.msg).startswith("Compute Failed")
        )


_QUIET = _QuietFailures()


def quiet_failures() -> None:
    """Install the filter on this process's worker logger (once)."""
    logger = logging.getLogger("distributed.worker")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


def install_module(name: str, sha256: str, source: str, filename: str) -> types.ModuleType:
    """The module ``name`` of this blueprint hash: already loaded, importable, or made here."""
    module = sys.modules.get(name)
    if module is not None and _sha_of(module) == sha256:
        return module
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # before running it: pydantic resolves annotations through it
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _sha_of(module: types.ModuleType) -> str | None:
    blueprint = getattr(module, "BLUEPRINT", None)
    return getattr(blueprint, "sha256", None)


# Plugins already registered, per client: one registration per module and client.
_SHIPPED: weakref.WeakKeyDictionary[Client, set[str]] = weakref.WeakKeyDictionary()


def _ship(client: Client, module: types.ModuleType) -> None:
    sha256 = _sha_of(module) or ""
    key = f"atomiton-module-{module.__name__}-{sha256[:16]}"
    shipped = _SHIPPED.setdefault(client, set())
    if key in shipped:
        return
    filename: str = getattr(module, "__file__", None) or ""
    # A file, or the text a compiler kept in linecache for a module loaded from memory.
    source = "".join(linecache.getlines(filename)) if filename else ""
    # Modules loaded from memory may share a display name: the text must be this blueprint's.
    if not source or sha256 not in source:
        raise ValueError(f"the source of module {module.__name__!r} cannot be found to send it")
    client.register_plugin(ModulePlugin(module.__name__, sha256, source, filename), name=key)
    shipped.add(key)


# -- the client side -------------------------------------------------------------------------------


class _Router:
    """The client's one subscription to the events topic, handing each run its messages."""

    def __init__(self) -> None:
        self.runs: dict[str, Callable[[bytes], None]] = {}
        self.lock = threading.Lock()

    def __call__(self, event: tuple[float, Any]) -> None:
        payload = event[1]
        run_id, message = payload["run"], payload["data"]
        with self.lock:
            handler = self.runs.get(run_id)
        if handler is not None:
            handler(message)


_ROUTERS: weakref.WeakKeyDictionary[Client, _Router] = weakref.WeakKeyDictionary()


def _router(client: Client) -> _Router:
    router = _ROUTERS.get(client)
    if router is None:
        router = _ROUTERS[client] = _Router()
        client.subscribe_topic(EVENTS_TOPIC, router)
    return router


class DaskExecutor:
    """The tasks of one ``run_tasks`` call on a cluster. Not reusable.

    ``submit`` queues a task with the futures it waits for; ``wait`` returns once every task has
    finished (the first failure cancels the rest, on the cluster too); ``cancel`` stops the run.
    """

    def __init__(self, client: Client, ex: Execution) -> None:
        self.client = client
        self.ex = ex
        self.futures: list[Future[Any]] = []
        self.index: dict[object, int] = {}  # future key -> task index
        self.done: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        self.events = False
        self.ended: set[int] = set()  # tasks whose last event arrived
        self.arrived = threading.Condition()
        self.cancelled_remote = False
        self.semaphore: Semaphore | None = None

    # -- the Executor interface ------------------------------------------------------------------

    def submit(self, call: TaskCall, after: Sequence[Future[Any]] = ()) -> Future[Any]:
        """Queue ``call``; Dask starts it once the futures in ``after`` (its inputs) are done."""
        future = self.client.submit(
            run_remote, call, *after, key=f"atomiton-{call.run_id}-{call.index}", pure=False
        )
        future.add_done_callback(self.done.put)
        self.index[future.key] = len(self.futures)
        self.futures.append(future)
        return future

    def cancel(self, reason: str) -> None:
        """Cancel the futures and every worker's part of this run (its programs are killed)."""
        self.ex.cancel(reason)
        self._stop_remote(reason)

    def wait(self) -> None:
        """Return once every task finished; raise what failed (as ``ThreadExecutor.wait``)."""
        ex = self.ex
        pending = set(self.futures)
        finished: list[int] = []
        failures: list[BaseException] = []
        try:
            while pending and not self.cancelled_remote:
                if ex.cancelled:
                    self._stop_remote(message_of(ex.stop_error()))
                    break
                try:
                    future = self.done.get(timeout=0.05)
                except queue.Empty:
                    if ex.deadline is not None and time.perf_counter() >= ex.deadline:
                        ex.expire()
                    continue
                pending.discard(future)
                if future.status == "finished":
                    finished.append(self.index[future.key])
                    continue
                failure = (
                    _unwrap(future.exception())
                    if future.status == "error"
                    else ex.stop_error() if ex.cancelled else CancelledError("cancelled")
                )
                failures.append(failure)
                if not ex.cancelled:
                    ex.stop_for_failure(failure)
                # The first failure stops the run: nothing else is worth waiting for.
                self._stop_remote(message_of(failure))
        except BaseException:
            self.cancel("interrupted")
            raise
        self._await_events(finished)
        real = [e for e in failures if not ex.is_run_stop(e)]
        if len(real) == 1:
            raise real[0]
        if real:
            raise BaseExceptionGroup(f"{len(real)} tasks of the flow failed", real)
        if failures or ex.cancelled:
            raise ex.stop_error() if ex.cancelled else failures[0]

    # -- running ---------------------------------------------------------------------------------

    def run(self, tasks: Sequence[Task[Any]], state: object, results: Sequence[str]) -> None:
        """Submit every task, wait, then set the ``results`` slots on ``state``."""
        ex = self.ex
        if not tasks:
            return
        module = sys.modules[tasks[0].fn.__module__]
        _ship(self.client, module)
        report = ex.report
        events = self.events = report is not None
        wanted_events = _forwarded(ex) if events else ()
        if events:
            router = _router(self.client)
            with router.lock:
                router.runs[ex.run_id] = self._replay
        writer = {name: k for k, task in enumerate(tasks) for name in task.writes}
        inputs = getattr(state, "inputs")
        semaphore = self._semaphore(sum(task.mode == "thread" for task in tasks))
        remaining = None if ex.deadline is None else max(0.0, ex.deadline - time.perf_counter())
        try:
            for k, task in enumerate(tasks):
                producers = sorted({writer[name] for name in task.reads if name in writer})
                call = TaskCall(
                    module=module.__name__,
                    sha256=_sha_of(module) or "",
                    function=task.fn.__name__,
                    state_class=type(state).__name__,
                    inputs_class=type(inputs).__name__,
                    inputs=dict(inputs),
                    index=k,
                    mode=task.mode,
                    reads=task.reads,
                    writes=task.writes,
                    makers=task.makers,
                    run_id=ex.run_id,
                    client_pid=os.getpid(),
                    concurrency=ex.limiter.total_tokens,
                    timeout=remaining,
                    semaphore=semaphore,
                    events=wanted_events,
                    values=bool(report is not None and report.values),
                    allowed_paths=ex.allowed_paths,
                )
                # The task waits for its plan predecessors and gets its producers' values.
                order = sorted(set(task.after) | set(producers))
                self.submit(call, [self.futures[d] for d in order])
            self.wait()
            wanted = {writer[name] for name in results if name in writer}
            values = self.client.gather([self.futures[k] for k in sorted(wanted)])
            for payload in values:
                for name, value in _decoded(payload).items():
                    if name in results:
                        setattr(state, name, value)
        finally:
            if events:
                with router.lock:
                    router.runs.pop(ex.run_id, None)
            if self.semaphore is not None:
                self.semaphore.close()
            if not self.cancelled_remote and ex.cancelled:
                self._stop_remote(message_of(ex.stop_error()))

    def _semaphore(self, thread_tasks: int) -> str | None:
        """A cluster-wide limit, needed only when more tasks than the limit could run at once."""
        limit = self.ex.limiter.total_tokens
        if thread_tasks <= limit or sum(self.client.nthreads().values()) <= limit:
            return None
        self.semaphore = Semaphore(max_leases=limit, name=f"atomiton-limit-{self.ex.run_id}")
        name: str = self.semaphore.name
        return name

    def _stop_remote(self, reason: str) -> None:
        """Cancel the futures, stop the run's tasks on every worker and wait until they ended.

        Dask cannot interrupt a running task; the worker-side runs are cancelled (their next
        node boundary raises, their programs are killed), and the run does not end before they
        have, so nothing of it is left running on the cluster.
        """
        self.cancelled_remote = True
        self.client.cancel(self.futures, force=True)
        run_id = self.ex.run_id
        deadline = time.monotonic() + _STOP_GRACE
        try:
            self.client.run(cancel_on_worker, run_id, reason, on_error="ignore")
            while time.monotonic() < deadline:
                counts = self.client.run(live_tasks, run_id, on_error="ignore")
                if not any(n for n in counts.values() if isinstance(n, int)):
                    break
                time.sleep(0.02)
        except Exception:  # noqa: BLE001 - a closing cluster has nothing left to stop
            pass

    # -- events ----------------------------------------------------------------------------------

    def _replay(self, data: bytes) -> None:
        """One worker-side event of this run, reported as if the node ran here."""
        task, event = pickle.loads(data)
        if event is None:  # the task's last message: every event of it came before
            with self.arrived:
                self.ended.add(task)
                self.arrived.notify_all()
            return
        report = self.ex.report
        if report is not None:
            _replay_event(report, event)

    def _await_events(self, tasks: list[int]) -> None:
        """Wait until the events of the finished ``tasks`` have all been replayed.

        They travel through the scheduler's event log, not with the results, so the run must
        not end (and report its end) before they are in.
        """
        if not self.events:
            return
        deadline = time.monotonic() + _EVENT_GRACE
        with self.arrived:
            while not self.ended.issuperset(tasks):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.arrived.wait(left)


def _forwarded(ex: Execution) -> tuple[type[Event], ...]:
    """The node events a worker sends back: those the client's report needs or a hook wants."""
    always = (NodeStarted, NodeCompleted, NodeFailed, NodeSkipped)
    optional = tuple(t for t in (NodeRetrying, NodeProgress, Log) if ex.wants(t))
    return always + optional


def _replay_event(report: Any, event: Event) -> None:
    i = getattr(event, "index", -1)
    if isinstance(event, NodeStarted):
        report.attempt(i, event.attempt)
    elif isinstance(event, NodeCompleted):
        if event.attempts > 1:
            report.attempts[i] = event.attempts
        try:
            report.node_completed(i, event.value)
        except (CancelledError, RunTimeoutError):
            pass  # the client run stopped meanwhile: the event is reported all the same
    elif isinstance(event, NodeFailed):
        error = _described(event.error_type, event.error)
        report.failed(i, error, timed_out=event.timed_out, handled=event.handled)
    elif isinstance(event, NodeSkipped):
        report.skipped(i, event.reason)
    elif isinstance(event, NodeProgress):
        report.node_progress(i, event.fraction, 1.0, event.message)
    else:
        report.emit(event)


def _described(type_name: str, described: str) -> Exception:
    """A stand-in for a worker's exception: ``describe`` gives its event's text again."""
    prefix = f"{type_name}: "
    message = described[len(prefix) :] if described.startswith(prefix) else ""
    error: Exception = type(type_name, (Exception,), {})(message)
    return error


def _unwrap(exc: BaseException | None) -> BaseException:
    if isinstance(exc, RemoteFailure):
        return exc.error()
    return exc if exc is not None else RuntimeError("a task failed without an exception")


def _decoded(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        name: pickle.loads(value.data) if isinstance(value, _Pickled) else value
        for name, value in payload.items()
    }


class _Pickled:
    """A slot value pickled on its worker (so a value that cannot cross is caught there)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __reduce__(self) -> tuple[type[_Pickled], tuple[bytes]]:
        return (_Pickled, (self.data,))


# -- the worker side -------------------------------------------------------------------------------

# The runs this worker process has tasks of, by run id, so a cancel reaches them all.
_LIVE: dict[str, set[Execution]] = {}
_LIVE_LOCK = threading.Lock()
# Runs cancelled here, so a task that starts after the cancel stops at once.
_CANCELLED: dict[str, str] = {}


def cancel_on_worker(run_id: str, reason: str) -> None:
    """Cancel this worker's part of run ``run_id`` (running nodes' contexts kill programs)."""
    with _LIVE_LOCK:
        _CANCELLED[run_id] = reason
        runs = list(_LIVE.get(run_id, ()))
    for run in runs:
        run.cancel(reason)


def live_tasks(run_id: str) -> int:
    """How many tasks of run ``run_id`` this worker is running now."""
    with _LIVE_LOCK:
        return len(_LIVE.get(run_id, ()))


class _Forward:
    """The worker-side hook: each node event goes to the client through the events topic."""

    wants_trace = False

    def __init__(
        self, run_id: str, task: int, event_types: tuple[type[Event], ...], values: bool
    ) -> None:
        self.run_id = run_id
        self.task = task
        self.event_types = event_types
        self.wants_values = values
        self.worker = get_worker()

    def on_event(self, *, event: Event) -> None:
        try:
            data = pickle.dumps((self.task, event))
        except Exception:  # noqa: BLE001 - a value that does not pickle rides without it
            if not isinstance(event, NodeCompleted):
                raise
            data = pickle.dumps((self.task, dataclasses.replace(event, value=None)))
        self.worker.log_event(EVENTS_TOPIC, {"run": self.run_id, "data": data})

    def end(self) -> None:
        """The task's last message: the client may stop waiting for its events."""
        data = pickle.dumps((self.task, None))
        self.worker.log_event(EVENTS_TOPIC, {"run": self.run_id, "data": data})


def run_remote(call: TaskCall, *upstream: dict[str, Any]) -> dict[str, Any]:
    """Run one task of a flow on this worker; return the values of the slots it wrote."""
    from ..execution import Execution
    from ..hooks import HookSet

    module = sys.modules[call.module]
    state = getattr(module, call.state_class)(
        getattr(module, call.inputs_class).model_construct(**call.inputs)
    )
    for payload in upstream:
        for name, value in _decoded(payload).items():
            if name in call.reads:
                setattr(state, name, value)
    forward = _Forward(call.run_id, call.index, call.events, call.values) if call.events else None
    hooks = HookSet.build(forward, call.run_id) if forward is not None else None
    ex = Execution(
        getattr(module, "BLUEPRINT"),
        hooks=hooks,
        concurrency=call.concurrency,
        timeout=call.timeout,
        run_id=call.run_id,
        allowed_paths=call.allowed_paths,
    )
    with _LIVE_LOCK:
        _LIVE.setdefault(call.run_id, set()).add(ex)
        cancelled = _CANCELLED.get(call.run_id)
    if cancelled is not None:
        ex.cancel(cancelled)
    task: Task[Any] = Task(getattr(module, call.function), mode=call.mode)  # type: ignore[arg-type]
    try:
        if call.semaphore is not None and call.mode == "thread":
            with Semaphore(max_leases=call.concurrency, name=call.semaphore):
                ex.run_tasks((task,), state)
        else:
            ex.run_tasks((task,), state)
        values = {name: getattr(state, name) for name in call.writes if hasattr(state, name)}
        if os.getpid() != call.client_pid:
            values = _pickled(ex, values, dict(zip(call.writes, call.makers)))
    except BaseException as exc:
        raise RemoteFailure.of(exc) from None
    finally:
        with _LIVE_LOCK:
            live = _LIVE.get(call.run_id)
            if live is not None:
                live.discard(ex)
                if not live:
                    del _LIVE[call.run_id]
        ex.close()
        if forward is not None:
            forward.end()
    return values


def _pickled(ex: Execution, values: dict[str, Any], makers: dict[str, int]) -> dict[str, Any]:
    """Each value pickled here: one that cannot cross to another process blames its node."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        try:
            out[name] = _Pickled(cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:  # noqa: BLE001 - any pickling failure is the node's
            raise ex.blame(
                makers.get(name, 0),
                f"its value {name!r} cannot be sent to another worker process "
                f"({type(exc).__name__}: {exc}); return plain data from it, or run this flow "
                "on threads",
            ) from None
    return out
