"""Loop items and parallel branches as tasks of the Dask cluster (the ``Offload`` of a worker).

A task of a flow runs on a worker under a worker-side ``Execution`` (``dask_worker.py``), which
lends its nodes a ``ClusterOffload``. A loop (``nodes/loop.py``) or parallel node
(``nodes/parallel.py``) asks its context to ``offload`` its bodies; a body given by reference
(``partial(_body, ex, inputs)`` of a function of the generated module, which every worker has)
then runs as tasks of their own: each ``call`` submits one batch of items through the worker's
client and waits for it, its thread seceded from the worker's pool while the node waits, so
1-thread workers cannot deadlock. On the worker that runs it, a batch (``run_items``) rebuilds
an ``Execution`` the way a task does (events to the client's run, the cancel registry, the run's
suppliers, the offload again, so nested loops go to the cluster too) and calls the body once per
item, one after another; outcomes come back as values, each failure as a ``RemoteFailure``.

What it leaves to others: how items are cut and ordered, ``continueOnError``, strategies and
timeouts (the nodes, through ``context.map`` and their own threads), building the worker-side
``Execution`` and the cancel registry (``dask_worker.py``).
"""

# distributed's own annotations are partial: its calls are typed at this module's edge.
# mypy: allow-untyped-calls

from __future__ import annotations

import contextvars
import dataclasses
import os
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from distributed import Client, Future, get_client, rejoin, secede

from ...errors import CancelledError
from ..context import NodeContext, Offloaded, Outcome, current_scope
from .dask_worker import (
    RemoteFailure,
    TaskCall,
    cancel_on_worker,
    decoded_value,
    live_tasks,
    pickled_value,
    released,
    worker_execution,
)

if TYPE_CHECKING:
    from ..execution import Execution

# Batches per cluster thread: enough to even out uneven items, few enough to keep the per-task
# overhead small when a loop has thousands of items.
BATCHES_PER_THREAD = 4
# How long a cancelled call waits for its batch to stop on its worker (programs are killed).
_STOP_GRACE = 10.0


@dataclass(frozen=True, slots=True)
class ItemCall:
    """One batch of a body's items: the task's settings, the body, and where it comes from."""

    task: TaskCall
    function: str
    scope: str  # the batch's own key: cancelling it reaches only this batch
    keep_going: bool
    origin_pid: int  # the process waiting for the outcomes (values are pickled for another)


def run_items(call: ItemCall, items: list[Any]) -> list[tuple[Any, RemoteFailure | None]]:
    """Run body ``call.function`` on each item on this worker; its outcomes, in item order.

    After a failure the rest of the batch is not run unless ``call.keep_going``.
    """
    module = sys.modules[call.task.module]
    inputs = getattr(module, call.task.inputs_class).model_construct(**call.task.inputs)
    body = getattr(module, call.function)
    ex, forward = worker_execution(call.task, module, -1, call.scope)
    outcomes: list[tuple[Any, RemoteFailure | None]] = []
    limiter = ex.limiter
    try:
        # The batch's thread holds a token, as the node's own thread does: sub-work borrows.
        limiter.acquire()
        try:
            for item in items:
                try:
                    value = body(ex, inputs, item)
                    if os.getpid() != call.origin_pid:
                        value = pickled_value(value)
                except BaseException as exc:  # noqa: BLE001 - each failure is an outcome
                    outcomes.append((None, RemoteFailure.of(exc)))
                    if not call.keep_going:
                        break
                    continue
                outcomes.append((value, None))
        finally:
            limiter.release()
    finally:
        released(ex, call.task, call.scope)
    return outcomes


class ClusterOffload:
    """A worker-side execution's ``Offload``: bodies of its nodes become cluster tasks."""

    def __init__(self, call: TaskCall, module: types.ModuleType) -> None:
        self.call = call
        self.module = module
        self.ex: Execution | None = None  # set once the execution it belongs to exists
        # The task's context: ``get_client`` finds the worker through it, from any thread.
        self.cvars = contextvars.copy_context()

    @contextmanager
    def session(
        self, bodies: Sequence[Callable[[Any], Any]], context: NodeContext
    ) -> Iterator[Offloaded | None]:
        names = [self._reference(body) for body in bodies]
        functions = [name for name in names if name is not None]
        if not functions or len(functions) != len(names):
            yield None
            return
        client: Client = self.cvars.copy().run(get_client)
        seceded = _secede()
        try:
            yield _Session(self, client, functions, context)
        finally:
            if seceded:
                rejoin()

    def _reference(self, body: Callable[[Any], Any]) -> str | None:
        """The name of ``body``'s function when it is ``partial(fn, ex, inputs)`` of this
        execution and ``fn`` is the generated module's (a worker imports it by name)."""
        if not isinstance(body, partial) or body.keywords or len(body.args) != 2:
            return None
        fn = body.func
        if body.args[0] is not self.ex or getattr(fn, "__module__", None) != self.module.__name__:
            return None
        name: str = getattr(fn, "__name__", "")
        return name if getattr(self.module, name, None) is fn else None


class _Session:
    """The ``Offloaded`` of one node's ``offload`` block."""

    def __init__(
        self, owner: ClusterOffload, client: Client, functions: list[str], context: NodeContext
    ) -> None:
        self.owner = owner
        self.client = client
        self.functions = functions
        self.context = context
        self.lock = threading.Lock()
        self.slots: list[str] | None = None  # one entry per thread of the cluster
        self.turn = 0

    def batches(self, count: int, concurrency: int) -> int:
        threads = len(self._slots())
        limit = self.context.limiter.total_tokens if self.context.limiter is not None else None
        slots = min(concurrency, threads, limit or concurrency)
        return max(1, min(count, slots * BATCHES_PER_THREAD))

    def _slots(self) -> list[str]:
        with self.lock:
            if self.slots is None:
                nthreads: dict[str, int] = self.client.nthreads()
                self.slots = [address for address, n in sorted(nthreads.items()) for _ in range(n)]
            return self.slots

    def _next_worker(self) -> list[str] | None:
        """The worker the next batch prefers, in turn: the scheduler, not yet told that the
        node's thread left its pool, would otherwise queue them all on the other workers."""
        slots = self._slots()
        if not slots:
            return None
        with self.lock:
            address = slots[self.turn % len(slots)]
            self.turn += 1
        return [address]

    def call(self, body: int, items: Sequence[Any], keep_going: bool) -> list[Outcome]:
        owner = self.owner
        ex = owner.ex
        assert ex is not None
        task = owner.call
        remaining = None if ex.deadline is None else max(0.0, ex.deadline - time.perf_counter())
        key = f"atomiton-{task.run_id}-items-{uuid.uuid4().hex}"
        call = ItemCall(
            task=dataclasses.replace(task, timeout=remaining),
            function=self.functions[body],
            scope=key,
            keep_going=keep_going,
            origin_pid=os.getpid(),
        )
        scope = current_scope() or self.context
        done = threading.Event()
        future: Future[Any] = self.client.submit(
            run_items,
            call,
            list(items),
            key=key,
            pure=False,
            workers=self._next_worker(),
            allow_other_workers=True,
        )
        future.add_done_callback(lambda _: done.set())
        unregister = scope.on_cancel(done.set)
        try:
            done.wait()
        finally:
            unregister()
        if not future.done() or scope.cancelled:
            self._stop(future, key)
            raise CancelledError(f"node {scope.node_id!r} was cancelled")
        if future.status != "finished":
            if future.status == "cancelled":
                raise CancelledError(f"node {scope.node_id!r} was cancelled")
            error = future.exception()
            raise RuntimeError(f"the cluster could not run this node's sub-work: {error}")
        outcomes: list[tuple[Any, RemoteFailure | None]] = future.result()
        return [
            (decoded_value(value), None if failure is None else failure.error())
            for value, failure in outcomes
        ]

    def _stop(self, future: Future[Any], key: str) -> None:
        """Stop the batch on its worker and wait until it has (a queued one never starts)."""
        client = self.client
        try:
            client.run(cancel_on_worker, key, "cancelled", on_error="ignore")
            client.cancel(future, force=True)
            deadline = time.monotonic() + _STOP_GRACE
            while time.monotonic() < deadline:
                counts = client.run(live_tasks, key, on_error="ignore")
                if not any(n for n in counts.values() if isinstance(n, int)):
                    break
                time.sleep(0.02)
        except Exception:  # noqa: BLE001 - a closing cluster has nothing left to stop
            pass


def _secede() -> bool:
    """Leave the worker's thread pool while this node waits (only a task's own thread can)."""
    try:
        secede()
    except (KeyError, ValueError, AttributeError):  # already left (a nested block), or not
        return False  # a task's thread: either way, this thread holds no slot of the pool
    return True
