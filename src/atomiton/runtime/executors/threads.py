"""``ThreadExecutor``: the run's tasks, started as their dependencies finish, on worker threads.

The one dependency scheduler of the runtime: ``Execution.run_tasks`` submits a flow's tasks here
(and any later backend implements the same ``Executor`` interface). Structured like a trio
nursery: ``wait`` returns only when every task it started has finished; the first failure stops
the run (running tasks stop at their next node boundary, nothing new starts); several failures
surface as an ``ExceptionGroup``.

Where work runs: ``inline`` tasks in the waiting thread, the others on worker threads that belong
to this executor alone and are joined before ``wait`` returns, each holding a token of the run's
``CapacityLimiter``. A worker that finishes a task takes the next ready one itself, keeping its
token, so a chain of thread tasks never goes back through the waiting thread, and no thread ever
sits parked waiting for a dependency. The waiting thread also watches the flow deadline.
What a task does, and what its nodes report, is the execution's business.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..execution import Execution

_IDLE = -1


class ThreadExecutor:
    """The scheduling state of one set of tasks (one ``run_tasks`` call). Not reusable."""

    __slots__ = (
        "ex",
        "fns",
        "after",
        "inline",
        "lock",
        "waiting",
        "dependants",
        "ready_inline",
        "ready_thread",
        "active",
        "started",
        "stopped",
        "failures",
        "idle",
        "workers",
        "work_q",
        "wake_q",
        "limiter",
        "trace_local",
    )

    def __init__(self, ex: Execution) -> None:
        self.ex = ex
        self.fns: list[Callable[[], object]] = []
        self.after: list[tuple[int, ...]] = []
        self.inline: list[bool] = []
        self.lock = threading.Lock()
        self.waiting: list[int] = []
        self.dependants: list[list[int]] = []
        self.ready_inline: deque[int] = deque()
        self.ready_thread: deque[int] = deque()
        self.active = 0  # tasks started and not finished
        self.started = 0
        self.stopped = False
        self.failures: list[BaseException] = []
        self.idle = 0  # workers waiting on work_q
        self.workers: list[threading.Thread] = []
        self.work_q: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.wake_q: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self.limiter = ex.limiter
        self.trace_local: threading.local | None = None

    # -- the Executor interface ------------------------------------------------------------------

    def submit(
        self, fn: Callable[[], object], after: Sequence[int] = (), *, inline: bool = False
    ) -> int:
        """Add task ``fn``, to run once the tasks numbered ``after`` finished; return its number.

        ``after`` may name tasks submitted later (they are checked by ``wait``). ``inline``: run
        it in the thread that calls ``wait`` (cheap in-memory work) instead of on a worker.
        """
        self.fns.append(fn)
        self.after.append(tuple(after))
        self.inline.append(inline)
        return len(self.fns) - 1

    def cancel(self, reason: str) -> None:
        """Start no more tasks and stop the run (running tasks stop at their next boundary)."""
        with self.lock:
            self.stopped = True
        self.ex.cancel(reason)
        self.wake_q.put(True)

    def wait(self) -> None:
        """Run every task; return once all started ones finished.

        Raises:
            NodeError: one task failed (what it raised).
            ExceptionGroup: several tasks failed.
            CancelledError: the run was cancelled.
            RunTimeoutError: the flow deadline passed.
            ValueError: a task waits for a task that does not exist.
        """
        self._prepare()
        remove_listener = self.limiter.on_capacity(self._capacity_grew)
        try:
            with self.lock:
                spawn = self._dispatch_locked()
            self._spawn(spawn)
            while True:
                with self.lock:
                    if self.ex.cancelled:
                        self.stopped = True
                    if self.ready_inline and not self.stopped:
                        k = self.ready_inline.popleft()
                        self.active += 1
                        self.started += 1
                    elif self.active == 0:
                        break
                    else:
                        k = _IDLE
                if k != _IDLE:
                    self._finish(k, self._run_one(k), in_worker=False)
                else:
                    self._wait()
        except BaseException:
            # Interrupted while waiting (KeyboardInterrupt): stop everything, still wait for it.
            self.ex.cancel("interrupted")
            self._drain()
            raise
        finally:
            remove_listener()
            self._shutdown()
        self._raise()

    # -- the waiting thread ----------------------------------------------------------------------

    def _prepare(self) -> None:
        count = len(self.fns)
        self.waiting = [len(after) for after in self.after]
        self.dependants = [[] for _ in range(count)]
        for k, after in enumerate(self.after):
            for d in after:
                if not 0 <= d < count or d == k:
                    raise ValueError(
                        f"task {k} waits for task {d}, which is not another task of the flow"
                    )
                self.dependants[d].append(k)
        for k, pending in enumerate(self.waiting):
            if pending == 0:
                self._push(k)
        builder = self.ex.trace_builder
        if builder is not None:
            builder.task_after = tuple(self.after)
            self.trace_local = builder.local

    def _push(self, k: int) -> None:
        if self.inline[k]:
            self.ready_inline.append(k)
        else:
            self.ready_thread.append(k)

    def _wait(self) -> None:
        deadline = self.ex.deadline
        if deadline is None or self.ex.cancelled:
            self.wake_q.get()
            return
        try:
            self.wake_q.get(timeout=max(0.0, deadline - time.perf_counter()))
        except queue.Empty:
            # Running thread tasks see the stop at their next node boundary; a node with a
            # context is cancelled right away (a shell node kills its process).
            self.ex.expire()

    def _drain(self) -> None:
        while True:
            with self.lock:
                if self.active == 0:
                    return
            self.wake_q.get()

    def _shutdown(self) -> None:
        with self.lock:
            workers = list(self.workers)
        for _ in workers:
            self.work_q.put(None)
        for worker in workers:
            worker.join()

    def _raise(self) -> None:
        ex = self.ex
        real = [e for e in self.failures if not ex.is_run_stop(e)]
        if len(real) == 1:
            raise real[0]
        if real:
            raise BaseExceptionGroup(f"{len(real)} tasks of the flow failed", real)
        if self.failures or self.started < len(self.fns):
            if ex.cancelled:
                raise ex.stop_error()
            if self.failures:
                raise self.failures[0]
            raise RuntimeError("some tasks never became ready: their dependencies form a cycle")

    # -- shared by the waiting thread and the workers --------------------------------------------

    def _run_one(self, k: int) -> BaseException | None:
        try:
            if self.trace_local is not None:
                self.trace_local.task = k
            self.fns[k]()
        except BaseException as exc:  # the executor decides what a failure means
            return exc
        return None

    def _finish(self, k: int, exc: BaseException | None, *, in_worker: bool) -> int:
        """Task ``k`` ended: release its dependants, maybe take the next task; return it or _IDLE."""
        first_failure = False
        nxt = _IDLE
        with self.lock:
            self.active -= 1
            if exc is not None:
                self.failures.append(exc)
                if not self.stopped:
                    self.stopped = first_failure = True
            else:
                for d in self.dependants[k]:
                    self.waiting[d] -= 1
                    if self.waiting[d] == 0:
                        self._push(d)
            if self.ex.cancelled:
                self.stopped = True
            if in_worker:
                limiter = self.limiter
                if (
                    self.ready_thread
                    and not self.stopped
                    and limiter.borrowed_tokens <= limiter.total_tokens
                ):
                    nxt = self.ready_thread.popleft()  # keep the token: no hop through a queue
                    self.active += 1
                    self.started += 1
                else:
                    limiter.release()
                    self.idle += 1
            spawn = self._dispatch_locked()
            wake = in_worker and (bool(self.ready_inline) or self.active == 0 or first_failure)
        if first_failure:
            assert exc is not None
            # Outside the lock: stopping cancels node contexts, whose callbacks may block briefly.
            self.ex.stop_for_failure(exc)
        if wake:
            self.wake_q.put(True)
        self._spawn(spawn)
        return nxt

    def _dispatch_locked(self) -> list[int]:
        """Start ready thread tasks while tokens last; return those that need a new worker."""
        spawn: list[int] = []
        if self.stopped or self.ex.cancelled:
            return spawn
        while self.ready_thread and self.limiter.acquire_nowait():
            k = self.ready_thread.popleft()
            self.active += 1
            self.started += 1
            if self.idle:
                self.idle -= 1
                self.work_q.put(k)
            else:
                spawn.append(k)
        return spawn

    def _spawn(self, ks: list[int]) -> None:
        # Threads start outside the lock: Thread.start waits for the new thread to run.
        for k in ks:
            worker = threading.Thread(
                target=self._work, args=(k,), name=f"atomiton-run-{self.ex.run_id}", daemon=True
            )
            with self.lock:
                self.workers.append(worker)
            worker.start()

    def _capacity_grew(self) -> None:
        with self.lock:
            spawn = self._dispatch_locked()
        self._spawn(spawn)

    # -- a worker thread -------------------------------------------------------------------------

    def _work(self, k: int | None) -> None:
        while k is not None:
            while k != _IDLE:
                k = self._finish(k, self._run_one(k), in_worker=True)
            k = self.work_q.get()
