"""``TaskQueue`` on its own: limits, priorities, pause, rate limit, waiting, timeouts, dependencies."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import CancelledError as FutureCancelled

import pytest

from atomiton.errors import CancelledError, RunTimeoutError
from atomiton.runtime import TaskQueue


def test_concurrency_limit_and_results() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def job(k: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return k * k

    queue = TaskQueue(concurrency=3)
    futures = [queue.add(lambda k=k: job(k)) for k in range(12)]
    assert queue.wait_idle(5)
    assert [f.result() for f in futures] == [k * k for k in range(12)]
    assert peak == 3
    assert queue.size == 0 and queue.pending == 0 and queue.is_idle


def test_priorities_then_fifo() -> None:
    order: list[str] = []
    queue = TaskQueue(concurrency=1, autostart=False)
    for name, priority in [("low1", 0), ("high1", 5), ("low2", 0), ("mid", 2), ("high2", 5)]:
        queue.add(lambda name=name: order.append(name), priority=priority)
    assert queue.size == 5 and queue.is_paused
    queue.start()
    queue.wait_idle(5)
    assert order == ["high1", "high2", "mid", "low1", "low2"]


def test_pause_holds_new_starts() -> None:
    queue = TaskQueue(concurrency=2)
    gate = threading.Event()
    queue.add(gate.wait)
    queue.pause()
    later = queue.add(lambda: "later")
    time.sleep(0.05)
    assert not later.done() and queue.size == 1
    gate.set()
    time.sleep(0.05)
    assert not later.done()
    queue.start()
    assert later.result(2) == "later"


def test_concurrency_change_while_running() -> None:
    queue = TaskQueue(concurrency=1)
    gate = threading.Event()
    futures = [queue.add(gate.wait) for _ in range(4)]
    time.sleep(0.02)
    assert queue.pending == 1 and queue.size == 3
    queue.concurrency = 4
    time.sleep(0.02)
    assert queue.pending == 4
    gate.set()
    assert all(f.result(2) for f in futures)


def test_rate_limit() -> None:
    starts: list[float] = []
    queue = TaskQueue(concurrency=10, interval=0.1, interval_cap=2)
    t0 = time.monotonic()
    queue.add_all([lambda: starts.append(time.monotonic() - t0) for _ in range(6)])
    assert queue.wait_idle(5)
    starts.sort()
    assert len(starts) == 6
    # At most two starts per 0.1 s window: the i-th start cannot come before window i // 2
    # opens. (Lower bounds only: a busy machine may run a started task late, never early.)
    for i, started in enumerate(starts):
        assert started >= (i // 2) * 0.1 - 0.005, (i, started)


def test_wait_empty_and_async_waiters() -> None:
    queue = TaskQueue(concurrency=1)
    gate = threading.Event()
    queue.add(gate.wait)
    queue.add(lambda: None)

    async def main() -> None:
        threading.Timer(0.05, gate.set).start()
        await queue.on_empty()
        await queue.on_idle()
        assert queue.is_idle

    asyncio.run(main())
    assert queue.wait_empty(1) and queue.wait_idle(1)


def test_per_task_timeout_frees_the_slot() -> None:
    queue = TaskQueue(concurrency=1, timeout=0.05)
    stuck = threading.Event()
    slow = queue.add(lambda: stuck.wait(2))
    fast = queue.add(lambda: "next", timeout=None)
    with pytest.raises(RunTimeoutError):
        slow.result(2)
    assert fast.result(1) == "next"
    stuck.set()


def test_dependencies_start_after_their_tasks() -> None:
    order: list[str] = []
    queue = TaskQueue(concurrency=1)  # one slot: a parked waiter would deadlock it
    gate = threading.Event()
    first = queue.add(lambda: (gate.wait(2), order.append("first"))[1] or 1)
    second = queue.add(lambda: order.append("second") or 2, after=[first], priority=10)
    other = queue.add(lambda: order.append("other") or 3)
    assert queue.blocked == 1
    gate.set()
    assert second.result(2) == 2 and other.result(2) == 3
    assert order.index("first") < order.index("second")


def test_failed_dependency_fails_dependants() -> None:
    queue = TaskQueue()
    bad = queue.add(lambda: 1 / 0)
    child = queue.add(lambda: "never", after=[bad])
    with pytest.raises(CancelledError) as info:
        child.result(2)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_clear_drops_unstarted_tasks() -> None:
    queue = TaskQueue(concurrency=1)
    gate = threading.Event()
    running = queue.add(gate.wait)
    queued = [queue.add(lambda: None) for _ in range(3)]
    blocked = queue.add(lambda: None, after=[running])
    time.sleep(0.02)
    assert queue.clear() == 4
    gate.set()
    assert running.result(2)
    for future in [*queued, blocked]:
        with pytest.raises(FutureCancelled):
            future.result(1)
    assert queue.wait_idle(1)


def test_idle_queue_holds_no_threads() -> None:
    before = set(threading.enumerate())
    with TaskQueue(concurrency=4) as queue:
        queue.add_all([lambda: time.sleep(0.01) for _ in range(8)])
    deadline = time.monotonic() + 2
    while {t for t in threading.enumerate() if t not in before} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {t for t in threading.enumerate() if t not in before} == set()
