"""``TaskQueue``: a thread-backed promise queue in the spirit of p-queue, usable on its own.

It owns admission - concurrency limit (changeable while running), priorities with FIFO among
equals, pause/start, rate limiting (at most N starts per interval), per-task timeouts,
dependencies between tasks - and the threads that run admitted tasks. Results come back as
``concurrent.futures.Future`` objects. A task that waits for others is not admitted until they
finish, so no thread ever sits parked waiting for a dependency.

Threads are started on demand and end as soon as there is nothing they may start, so an idle
queue holds no threads. A timed-out task's future fails with ``RunTimeoutError`` and its slot is
freed at once; Python cannot kill a thread, so its call goes on in the background until it
returns, and its result is dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, Generic, Literal, TypeVar

from ..errors import CancelledError, RunTimeoutError

T = TypeVar("T")

_UNSET: Any = object()

_State = Literal["blocked", "queued", "running", "done", "abandoned", "cleared"]


class _Item(Generic[T]):
    __slots__ = (
        "fn",
        "future",
        "priority",
        "seq",
        "timeout",
        "state",
        "remaining",
        "dep_error",
        "timer",
    )

    def __init__(self, fn: Callable[[], T], priority: int, seq: int, timeout: float | None) -> None:
        self.fn = fn
        self.future: Future[T] = Future()
        self.priority = priority
        self.seq = seq
        self.timeout = timeout
        self.state: _State = "queued"
        self.remaining = 0
        self.dep_error: BaseException | None = None
        self.timer: threading.Timer | None = None

    def __lt__(self, other: _Item[Any]) -> bool:
        # Higher priority first; among equals, first added first.
        return (-self.priority, self.seq) < (-other.priority, other.seq)


class TaskQueue:
    """Run callables under a concurrency limit, by priority, with optional rate limit and timeout.

    Example::

        queue = TaskQueue(concurrency=4, interval=1.0, interval_cap=10)
        download = queue.add(lambda: fetch(url), priority=1)
        parse = queue.add(lambda: parse_file(download.result()), after=[download])
        queue.wait_idle()

    Args:
        concurrency: how many tasks may run at once (at least 1; change it with ``concurrency``).
        autostart: start tasks as they are added (False: wait for ``start()``).
        timeout: default per-task timeout in seconds (None: no limit).
        interval: length in seconds of the rate-limit window (None: no rate limit).
        interval_cap: how many tasks may start within one ``interval``.
    """

    def __init__(
        self,
        concurrency: int = 16,
        *,
        autostart: bool = True,
        timeout: float | None = None,
        interval: float | None = None,
        interval_cap: int | None = None,
    ) -> None:
        _check_concurrency(concurrency)
        if (interval is None) != (interval_cap is None):
            raise ValueError("interval and interval_cap go together")
        if interval is not None and interval <= 0 or interval_cap is not None and interval_cap < 1:
            raise ValueError("interval must be positive and interval_cap at least 1")
        self._concurrency = concurrency
        self._paused = not autostart
        self.timeout = timeout
        self._interval = interval
        self._interval_cap = interval_cap
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[_Item[Any]] = []
        self._seq = itertools.count()
        self._running = 0
        self._blocked: set[_Item[Any]] = set()
        self._starts: deque[float] = deque()
        self._rate_timer: threading.Timer | None = None
        self._async_waiters: list[tuple[str, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- adding ----------------------------------------------------------------------------------

    def add(
        self,
        fn: Callable[[], T],
        *,
        priority: int = 0,
        timeout: float | None = _UNSET,
        after: Iterable[Future[Any]] = (),
    ) -> Future[T]:
        """Queue ``fn()``; it starts when a slot is free and every future in ``after`` is done.

        Args:
            fn: a callable without arguments (use ``functools.partial`` or a lambda).
            priority: higher starts first; equal priorities start in the order added.
            timeout: seconds the call may take (default: the queue's ``timeout``).
            after: futures (usually from ``add``) that must finish first. If one fails or is
                cancelled, this task does not run and its future fails with ``CancelledError``.

        Returns:
            A future of ``fn``'s result; cancel it to drop the task before it starts.
        """
        item: _Item[T] = _Item(
            fn, priority, next(self._seq), self.timeout if timeout is _UNSET else timeout
        )
        deps = list(after)
        if not deps:
            self._enqueue(item)
            return item.future
        with self._cond:
            item.state = "blocked"
            item.remaining = len(deps)
            self._blocked.add(item)
        for dep in deps:
            # Called at once if ``dep`` is already done; otherwise by the thread finishing it.
            dep.add_done_callback(lambda done, item=item: self._dependency_done(item, done))  # type: ignore[misc]
        return item.future

    def add_all(
        self,
        fns: Iterable[Callable[[], T]],
        *,
        priority: int = 0,
        timeout: float | None = _UNSET,
        after: Iterable[Future[Any]] = (),
    ) -> list[Future[T]]:
        """``add`` each callable with the same options; returns their futures in order."""
        deps = list(after)
        return [self.add(fn, priority=priority, timeout=timeout, after=deps) for fn in fns]

    def _enqueue(self, item: _Item[Any]) -> None:
        with self._cond:
            item.state = "queued"
            heapq.heappush(self._heap, item)
            items = self._take_all_locked()
        self._spawn(items)

    def _dependency_done(self, item: _Item[Any], dep: Future[Any]) -> None:
        with self._cond:
            if item.state != "blocked":
                return
            if dep.cancelled():
                item.dep_error = CancelledError("a task it depends on was cancelled")
            elif dep.exception() is not None and item.dep_error is None:
                error = CancelledError("a task it depends on failed")
                error.__cause__ = dep.exception()
                item.dep_error = error
            item.remaining -= 1
            if item.remaining > 0:
                return
            self._blocked.discard(item)
            failed = item.dep_error
            if failed is not None:
                item.state = "done"
                self._notify_locked()
        if failed is not None:
            item.future.set_exception(failed)
        else:
            self._enqueue(item)

    # -- control ---------------------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        """How many tasks may run at once; setting it takes effect at once."""
        return self._concurrency

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        _check_concurrency(value)
        with self._cond:
            self._concurrency = value
            items = self._take_all_locked()
        self._spawn(items)

    @property
    def is_paused(self) -> bool:
        """Whether starting tasks is paused."""
        return self._paused

    def pause(self) -> None:
        """Start no more tasks until ``start()``; running tasks go on."""
        with self._cond:
            self._paused = True

    def start(self) -> None:
        """Start tasks again (or for the first time with ``autostart=False``)."""
        with self._cond:
            self._paused = False
            items = self._take_all_locked()
        self._spawn(items)

    def clear(self) -> int:
        """Drop every task that has not started (queued or waiting for dependencies).

        Their futures are cancelled. Returns how many were dropped.
        """
        with self._cond:
            # A blocked item is marked cleared, so its dependencies finishing later drop it.
            dropped = [*self._heap, *sorted(self._blocked)]
            self._heap.clear()
            self._blocked.clear()
            for item in dropped:
                item.state = "cleared"
            self._notify_locked()
        for item in dropped:
            item.future.cancel()
        return len(dropped)

    # -- sizes and waiting -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Tasks waiting for a slot (not counting those waiting for dependencies)."""
        return len(self._heap)

    @property
    def blocked(self) -> int:
        """Tasks waiting for their dependencies."""
        return len(self._blocked)

    @property
    def pending(self) -> int:
        """Tasks running now."""
        return self._running

    @property
    def is_idle(self) -> bool:
        """Nothing queued, blocked or running."""
        return not self._heap and self._running == 0 and not self._blocked

    def wait_empty(self, timeout: float | None = None) -> bool:
        """Block until no task waits for a slot; return False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap, timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued, blocked or running; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self.is_idle, timeout)

    async def on_empty(self) -> None:
        """Wait (without blocking the event loop) until no task waits for a slot."""
        await self._async_wait("empty")

    async def on_idle(self) -> None:
        """Wait (without blocking the event loop) until nothing is queued, blocked or running."""
        await self._async_wait("idle")

    async def _async_wait(self, kind: str) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._reached(kind):
                return
            self._async_waiters.append((kind, loop, future))
        await future

    def _reached(self, kind: str) -> bool:
        return self.is_idle if kind == "idle" else not self._heap

    def _notify_locked(self) -> None:
        self._cond.notify_all()
        if self._async_waiters:
            keep = []
            for kind, loop, future in self._async_waiters:
                if self._reached(kind):
                    try:
                        loop.call_soon_threadsafe(_resolve, future)
                    except RuntimeError:  # that loop is closed
                        pass
                else:
                    keep.append((kind, loop, future))
            self._async_waiters = keep

    def __enter__(self) -> TaskQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wait_idle()

    # -- running ---------------------------------------------------------------------------------

    def _take_locked(self) -> _Item[Any] | None:
        """The next task allowed to start now, counted as running; None if none may start."""
        while self._heap and not self._paused and self._running < self._concurrency:
            if self._interval is not None and self._interval_cap is not None:
                now = time.monotonic()
                while self._starts and self._starts[0] <= now - self._interval:
                    self._starts.popleft()
                if len(self._starts) >= self._interval_cap:
                    self._schedule_rate_timer(self._starts[0] + self._interval - now)
                    return None
            item = heapq.heappop(self._heap)
            if not item.future.set_running_or_notify_cancel():
                item.state = "done"  # cancelled by its caller before it started
                self._notify_locked()
                continue
            item.state = "running"
            self._running += 1
            if self._interval is not None:
                self._starts.append(time.monotonic())
            if not self._heap:
                self._notify_locked()
            return item
        return None

    def _take_all_locked(self) -> list[_Item[Any]]:
        items = []
        while (item := self._take_locked()) is not None:
            items.append(item)
        return items

    def _schedule_rate_timer(self, delay: float) -> None:
        if self._rate_timer is not None:
            return

        def fire() -> None:
            with self._cond:
                self._rate_timer = None
                items = self._take_all_locked()
            self._spawn(items)

        self._rate_timer = threading.Timer(max(0.0, delay), fire)
        self._rate_timer.daemon = True
        self._rate_timer.start()

    def _spawn(self, items: list[_Item[Any]]) -> None:
        for item in items:
            threading.Thread(
                target=self._work, args=(item,), name="atomiton-queue", daemon=True
            ).start()

    def _work(self, item: _Item[Any] | None) -> None:
        while item is not None:
            if item.timeout is not None:
                item.timer = threading.Timer(item.timeout, self._expire, (item,))
                item.timer.daemon = True
                item.timer.start()
            error: BaseException | None = None
            result: Any = None
            try:
                result = item.fn()
            except BaseException as exc:  # delivered through the future
                error = exc
            with self._cond:
                if item.state == "abandoned":
                    return  # timed out: its slot was handed on and its future already failed
                item.state = "done"
                if item.timer is not None:
                    item.timer.cancel()
            # Outside the lock: done-callbacks of dependants call back into the queue. The slot
            # is still held, so a dependant released here can be picked by this very thread.
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(result)
            with self._cond:
                self._running -= 1
                item = self._take_locked()
                self._notify_locked()

    def _expire(self, item: _Item[Any]) -> None:
        with self._cond:
            if item.state != "running":
                return
            item.state = "abandoned"
            self._running -= 1
            items = self._take_all_locked()
            self._notify_locked()
        item.future.set_exception(RunTimeoutError(f"task timed out after {item.timeout:g}s"))
        self._spawn(items)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _check_concurrency(value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"concurrency must be an int of at least 1, got {value!r}")
