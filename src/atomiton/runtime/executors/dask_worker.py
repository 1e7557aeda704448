"""The worker side of the Dask executor (``dask.py``): what runs on a worker, and what crosses.

What it owns: the small description of one task sent to a worker (``TaskCall``), a task's run
there (``run_remote``: the generated module's state object filled with the upstream slots it
reads, the task function under a worker-side ``Execution``, the slots it hands on returned, each
pickled on the worker when the worker is another process, so a value that cannot cross fails
its node), the worker-side ``Execution`` itself (``worker_execution``: the run's suppliers
rebuilt, sub-work offloaded to the cluster, ``execution: process`` calls kept in a worker
process, ``InWorkerProcess``), the generated module made importable on each worker
(``ModulePlugin``), node events sent back on Dask's event topic, and the cancelling of a run's
tasks (or of one batch of sub-work) on this worker (every running node's context is cancelled,
which kills its programs).

What it leaves to ``dask.py``: the client, submitting, waiting, and replaying the events into
the client's run; to ``dask_items.py``: loop items and parallel branches. Imported only with
them (it imports ``distributed``).
"""

# distributed's own annotations are partial: its calls are typed at this module's edge.
# mypy: allow-untyped-calls

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import pickle
import sys
import threading
import types
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
from distributed import Semaphore, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ...errors import CancelledError, NodeError, RunTimeoutError
from ..cache import CacheSupplier
from ..context import OFFLOAD
from ..events import Event, NodeCompleted
from ..execution import Execution
from ..hooks import HookSet
from ..resources import RunResources
from ..supply import Supply
from .process import ProcessExecutor

# One topic for every run's events; each message names its run.
EVENTS_TOPIC = "atomiton-events"


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
    # The run's suppliers (pins, fails; a cache as its ``CacheRecipe``), rebuilt per task.
    supply: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class CacheRecipe:
    """A run's node cache as it travels: its options; each worker opens the database itself."""

    options: Any


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
    if module is not None and sha_of(module) == sha256:
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


def sha_of(module: types.ModuleType) -> str | None:
    blueprint = getattr(module, "BLUEPRINT", None)
    return getattr(blueprint, "sha256", None)


def decoded(payload: dict[str, Any]) -> dict[str, Any]:
    return {name: decoded_value(value) for name, value in payload.items()}


def decoded_value(value: Any) -> Any:
    """A value as it came from a worker, unpickled if it was pickled there."""
    return pickle.loads(value.data) if isinstance(value, _Pickled) else value


def pickled_value(value: Any) -> Any:
    """``value`` pickled here, so that one that cannot cross fails where it was made.

    Raises:
        Exception: whatever pickling raised.
    """
    return _Pickled(cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


class _Pickled:
    """A slot value pickled on its worker (so a value that cannot cross is caught there)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __reduce__(self) -> tuple[type[_Pickled], tuple[bytes]]:
        return (_Pickled, (self.data,))


# -- the worker side -------------------------------------------------------------------------------

# The runs this worker process has tasks of, by run id (and each batch of sub-work by its own
# key too), so a cancel reaches them all.
_LIVE: dict[str, set[Execution]] = {}
_LIVE_LOCK = threading.Lock()
# Runs cancelled here, so a task that starts after the cancel stops at once (the latest ones:
# a task that late is rare, as the client cancels the futures too).
_CANCELLED: dict[str, str] = {}
_CANCELLED_KEPT = 1000


def cancel_on_worker(run_id: str, reason: str) -> None:
    """Cancel this worker's part of run ``run_id``, or the batch of sub-work of that key
    (running nodes' contexts kill programs)."""
    with _LIVE_LOCK:
        _CANCELLED[run_id] = reason
        if len(_CANCELLED) > _CANCELLED_KEPT:
            del _CANCELLED[next(iter(_CANCELLED))]
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


def worker_execution(
    call: TaskCall, module: types.ModuleType, task: int, scope: str | None = None
) -> tuple[Execution, _Forward | None]:
    """The worker-side ``Execution`` of task ``task`` (-1: a batch of sub-work, ``scope``):
    events forwarded to the client, the run's suppliers, sub-work offloaded to the cluster,
    and registered so that a cancel of the run (or of ``scope``) reaches it. End it with
    ``released``."""
    from .dask_items import ClusterOffload  # it imports this module

    forward = _Forward(call.run_id, task, call.events, call.values) if call.events else None
    hooks = HookSet.build(forward, call.run_id) if forward is not None else None
    blueprint = getattr(module, "BLUEPRINT")
    supply = _supply(call.supply, blueprint)
    offload = ClusterOffload(call, module)
    # A daemon process cannot start a pool: the run's process calls stay in this process.
    processes = InWorkerProcess() if multiprocessing.current_process().daemon else None
    ex = Execution(
        blueprint,
        hooks=hooks,
        concurrency=call.concurrency,
        timeout=call.timeout,
        run_id=call.run_id,
        allowed_paths=call.allowed_paths,
        resources=RunResources({OFFLOAD: offload}),
        supply=supply,
        processes=processes,
    )
    offload.ex = ex
    if processes is not None:
        processes.note = _note_process_calls(ex)
    if supply is not None:
        for supplier in supply.suppliers:
            supplier.bind(ex)
    keys = (call.run_id,) if scope is None else (call.run_id, scope)
    with _LIVE_LOCK:
        for key in keys:
            _LIVE.setdefault(key, set()).add(ex)
        cancelled = next((_CANCELLED[k] for k in keys if k in _CANCELLED), None)
    if cancelled is not None:
        ex.cancel(cancelled)
    return ex, forward


class InWorkerProcess(ProcessExecutor):
    """``execution: process`` calls on a Dask worker process, which may not start processes of
    its own (it is a daemon): each call runs on a thread of the worker process itself, which
    already is a process apart from the caller's, its data pickled both ways as in a pool.

    A call that times out or is cancelled cannot be stopped there: it is left to finish on its
    daemon thread while the node fails (or the run stops) at once.
    """

    __slots__ = ("note",)

    def __init__(self) -> None:
        super().__init__(lambda: 1)
        self.note: Callable[[], None] | None = None  # said once, on the first call

    def submit(self, fn: Callable[[], Any], after: Sequence[Future[Any]] = ()) -> Future[Any]:
        note, self.note = self.note, None
        if note is not None:
            note()
        future: Future[Any] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - the caller reads it from the future
                future.set_exception(exc)

        threading.Thread(target=run, name="atomiton-process-call", daemon=True).start()
        return future

    def end(self, future: Future[Any]) -> None:
        future.cancel()

    def was_ended(self, future: Future[Any]) -> bool:
        return False

    def drop(self, future: Future[Any]) -> None:
        pass

    def cancel(self, reason: str = "cancelled") -> None:
        pass

    def close(self) -> None:
        pass


def _note_process_calls(ex: Execution) -> Callable[[], None]:
    def note() -> None:
        ex.log(
            "execution: process nodes run in the Dask worker process itself, which cannot start "
            "processes of its own (it already is a process apart from the caller)",
            level="info",
        )

    return note


def released(ex: Execution, call: TaskCall, scope: str | None = None) -> None:
    """The end of a ``worker_execution``: unregistered and closed."""
    with _LIVE_LOCK:
        for key in (call.run_id,) if scope is None else (call.run_id, scope):
            live = _LIVE.get(key)
            if live is not None:
                live.discard(ex)
                if not live:
                    del _LIVE[key]
    ex.close()


def _supply(parts: tuple[Any, ...], blueprint: Any) -> Supply | None:
    if not parts:
        return None
    return Supply(
        [
            CacheSupplier(blueprint, None, part.options) if isinstance(part, CacheRecipe) else part
            for part in parts
        ]
    )


def run_remote(call: TaskCall, *upstream: dict[str, Any]) -> dict[str, Any]:
    """Run one task of a flow on this worker; return the values of the slots it wrote."""
    module = sys.modules[call.module]
    state = getattr(module, call.state_class)(
        getattr(module, call.inputs_class).model_construct(**call.inputs)
    )
    for payload in upstream:
        for name, value in decoded(payload).items():
            if name in call.reads:
                setattr(state, name, value)
    ex, forward = worker_execution(call, module, call.index)
    task = getattr(module, call.function)
    failure: RemoteFailure | None = None
    try:
        if call.semaphore is not None and call.mode == "thread":
            with Semaphore(max_leases=call.concurrency, name=call.semaphore):
                _run_task(ex, task, state, call.mode)
        else:
            _run_task(ex, task, state, call.mode)
        values = {name: getattr(state, name) for name in call.writes if hasattr(state, name)}
        if os.getpid() != call.client_pid:
            values = _pickled(ex, values, dict(zip(call.writes, call.makers)))
    except BaseException as exc:
        failure = RemoteFailure.of(exc)
    finally:
        released(ex, call)
        if forward is not None:
            forward.end()
    if failure is not None:
        # Raised outside the handler, so it carries no context: Dask pickles an exception with
        # its whole chain, and a chain that does not pickle would reach the client as text.
        raise failure
    return values


def _run_task(ex: Execution, task: Callable[[Execution, Any], None], state: Any, mode: str) -> None:
    """The task in this thread, the Dask task's own: its loops and parallel nodes can leave the
    worker's pool while they wait for their items (the client watches the run's deadline, and
    the worker-side execution checks it at every node boundary)."""
    if mode == "inline":
        task(ex, state)
        return
    # A thread task holds a token: its sub-work borrows the rest, as in a local run.
    ex.limiter.acquire()
    try:
        task(ex, state)
    finally:
        ex.limiter.release()


def _pickled(ex: Execution, values: dict[str, Any], makers: dict[str, int]) -> dict[str, Any]:
    """Each value pickled here: one that cannot cross to another process blames its node."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        try:
            out[name] = pickled_value(value)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is the node's
            raise ex.blame(
                makers.get(name, 0),
                f"its value {name!r} cannot be sent to another worker process "
                f"({type(exc).__name__}: {exc}); return plain data from it, or run this flow "
                "on threads",
            ) from None
    return out
