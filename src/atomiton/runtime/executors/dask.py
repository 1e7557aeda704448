"""``DaskExecutor``: a run's tasks on a Dask cluster, each submitted with its upstream futures.

Imported only when a run asks for a Dask executor (``runner`` resolves the ``executor``
argument through ``open_session``); nothing else in the runtime imports ``distributed``.

What it owns: the session (a ``distributed.Client`` it made, with its ``LocalCluster``, or one
it was given and never closes), shipping the generated module to the workers (a worker plugin
carrying its source, so modules loaded from memory work in worker processes), submitting each
task with the futures of the tasks it reads from, waiting (the first failure cancels the rest),
events back to the client's hooks (Dask's event topic, replayed into the client run's
``RunReport`` in order per node), cancellation (futures cancelled, and every worker's part of
the run cancelled, which kills its programs) and the flow's concurrency limit across the
cluster (a ``distributed.Semaphore`` when more tasks than the limit could run at once).

What it leaves to others: the worker side of a task (``dask_worker.py``), what a task does and
the policy of each node (the same generated functions and ``policy.py`` run on the worker), and
building ``NodeError`` (``Execution.blame``), loop items and parallel branches, which a
worker sends to the cluster itself (``dask_items.py``).
"""

# distributed's own annotations are partial: its calls are typed at this module's edge.
# mypy: allow-untyped-calls

from __future__ import annotations

import linecache
import os
import pickle
import queue
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from distributed import Client, Future, LocalCluster, Semaphore

from ...errors import CancelledError, RunTimeoutError
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
from ..model import Task
from ..runstate import message_of
from .dask_worker import (
    EVENTS_TOPIC,
    CacheRecipe,
    ModulePlugin,
    RemoteFailure,
    TaskCall,
    cancel_on_worker,
    decoded,
    live_tasks,
    run_remote,
    sha_of,
)

if TYPE_CHECKING:
    from ..execution import Execution

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
        self,
        ex: Execution,
        tasks: Sequence[Task[Any]],
        state: object,
        results: Sequence[str] | None,
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
            # A free port: None means the default 8787, and a second run at once then warns.
            dashboard_address=":0",
            threads_per_worker=1 if executor == "dask" else None,
        )
        return DaskSession(Client(cluster), cluster, owned=True)
    if isinstance(executor, str) and "://" in executor:
        return DaskSession(Client(executor), owned=True)
    raise ValueError(
        f"unknown executor {executor!r}: use 'threads', 'dask', 'dask-threads', "
        "a scheduler address such as 'tcp://host:8786', or a distributed.Client"
    )


_SHIPPED: weakref.WeakKeyDictionary[Client, set[str]] = weakref.WeakKeyDictionary()


def _ship(client: Client, module: types.ModuleType) -> None:
    sha256 = sha_of(module) or ""
    key = f"atomiton-module-{module.__name__}-{sha256[:16]}"
    shipped = _SHIPPED.setdefault(client, set())
    if key in shipped:
        return
    filename: str = getattr(module, "__file__", None) or ""
    # A file, or the text a compiler kept in linecache for a module loaded from memory, or
    # what its loader gives (``atomiton run`` loads modules from its compile cache).
    source = "".join(linecache.getlines(filename)) if filename else ""
    get_source = getattr(getattr(module, "__loader__", None), "get_source", None)
    if not source and callable(get_source):
        source = get_source(module.__name__) or ""
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

    def run(self, tasks: Sequence[Task[Any]], state: object, results: Sequence[str] | None) -> None:
        """Submit every task, wait, then set the ``results`` slots on ``state``."""
        ex = self.ex
        if not tasks:
            return
        if results is None:
            if len(tasks) > 1:
                # Its tasks share one state object and say nothing of what they hand on.
                raise ValueError(
                    "this flow's module was compiled by an atomiton that did not record what "
                    "its tasks read and write: compile it again to run it on Dask"
                )
            results = tasks[0].writes
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
        supply = _portable(ex)
        remaining = None if ex.deadline is None else max(0.0, ex.deadline - time.perf_counter())
        try:
            for k, task in enumerate(tasks):
                producers = sorted({writer[name] for name in task.reads if name in writer})
                call = TaskCall(
                    module=module.__name__,
                    sha256=sha_of(module) or "",
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
                    supply=supply,
                )
                # The task waits for its plan predecessors and gets its producers' values.
                order = sorted(set(task.after) | set(producers))
                self.submit(call, [self.futures[d] for d in order])
            self.wait()
            wanted = {writer[name] for name in results if name in writer}
            values = self.client.gather([self.futures[k] for k in sorted(wanted)])
            for payload in values:
                for name, value in decoded(payload).items():
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


def _portable(ex: Execution) -> tuple[Any, ...]:
    """The run's suppliers as they travel to the workers: the cache as its options (each
    worker opens the database at the same path), pins and fails as they are."""
    from ..cache import CacheSupplier

    if ex.supply is None:
        return ()
    return tuple(
        CacheRecipe(supplier.options) if isinstance(supplier, CacheSupplier) else supplier
        for supplier in ex.supply.suppliers
    )


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
            report.node_completed(i, event.value, event.supplied)
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
