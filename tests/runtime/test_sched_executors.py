"""The executors behind ``Execution.run_tasks`` and ``execution: process``, used directly.

``ThreadExecutor``: dependencies, where tasks run, failure and cancellation. ``ProcessExecutor``:
real worker processes, a pool ended by a timed-out call (its other calls learn they may be sent
again), a cancelled executor refusing work. Also the split of ``Execution`` into its parts.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from functools import partial

import pytest
import rt_flows
from rt_flows import Recorder

from atomiton import runtime as rt
from atomiton.errors import CancelledError
from atomiton.runtime.executors import Executor, ProcessExecutor, ThreadExecutor
from atomiton.runtime.hooks import HookSet
from atomiton.runtime.model import runs_in_one_thread


def blueprint(*executions: str) -> rt.Blueprint:
    nodes = tuple(
        rt.NodeInfo(id=f"n{k}", type="python", line=1, column=1, execution=mode)  # type: ignore[arg-type]
        for k, mode in enumerate(executions)
    )
    return rt.Blueprint(id="b", name="b", version="1", source="b.yaml", sha256="", nodes=nodes)


def test_both_executors_have_the_interface() -> None:
    for cls in (ThreadExecutor, ProcessExecutor):
        for name in ("submit", "cancel", "wait"):
            assert callable(getattr(cls, name)), (cls, name)
    assert set(Executor.__dict__) >= {"submit", "cancel", "wait"}


def test_thread_executor_runs_tasks_after_their_dependencies() -> None:
    ex = rt.Execution(blueprint(), concurrency=2)
    order: list[str] = []
    where: dict[str, str] = {}
    ident: dict[str, int] = {}
    lock = threading.Lock()
    fast_done = threading.Event()

    def task(name: str) -> None:
        if name == "slow":
            # Runs at the same time as "fast", on another worker: it can wait for it.
            assert fast_done.wait(10)
        with lock:
            order.append(name)
            where[name] = threading.current_thread().name
            ident[name] = threading.get_ident()
        if name == "fast":
            fast_done.set()

    executor = ThreadExecutor(ex)
    # ``after`` may name a task submitted later.
    last = executor.submit(partial(task, "last"), (1, 2), inline=True)
    slow = executor.submit(partial(task, "slow"))
    fast = executor.submit(partial(task, "fast"))
    assert (last, slow, fast) == (0, 1, 2)
    executor.wait()
    assert order == ["fast", "slow", "last"]
    assert where["last"] == threading.current_thread().name  # inline: the waiting thread
    assert where["slow"].startswith("atomiton-run-") and where["fast"].startswith("atomiton-run-")
    assert ident["slow"] != ident["fast"]


def test_thread_executor_first_failure_stops_the_rest() -> None:
    ex = rt.Execution(blueprint(), concurrency=2)
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    executor = ThreadExecutor(ex)
    first = executor.submit(boom)
    executor.submit(partial(ran.append, "after"), (first,))
    with pytest.raises(ValueError, match="boom"):
        executor.wait()
    assert ran == [] and ex.cancelled


def test_thread_executor_cancel_stops_waiting_work() -> None:
    ex = rt.Execution(blueprint(), concurrency=1)
    executor = ThreadExecutor(ex)
    ran: list[int] = []

    def first() -> None:
        executor.cancel("enough")
        ran.append(1)

    head = executor.submit(first)
    executor.submit(partial(ran.append, 2), (head,))
    with pytest.raises(CancelledError, match="enough"):
        executor.wait()
    assert ran == [1]


@pytest.mark.parametrize("after", [(5,), (0,)], ids=["missing", "itself"])
def test_thread_executor_refuses_a_dependency_that_is_not_another_task(
    after: tuple[int, ...],
) -> None:
    executor = ThreadExecutor(rt.Execution(blueprint()))
    executor.submit(lambda: None, after)
    with pytest.raises(ValueError, match="not another task"):
        executor.wait()


def napping_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.mark.slow
def test_process_executor_runs_calls_in_workers_and_ends_a_pool_on_timeout() -> None:
    processes = ProcessExecutor(lambda: 2)
    try:
        assert processes.submit(partial(napping_pid, 0.0)).result(timeout=60) != os.getpid()
        stuck = processes.submit(partial(napping_pid, 30.0))
        bystander = processes.submit(partial(napping_pid, 30.0))
        time.sleep(0.2)
        started = time.monotonic()
        processes.end(stuck)  # what a node timeout does: the pool's workers end now
        assert time.monotonic() - started < 10
        with pytest.raises(BrokenProcessPool):
            bystander.result(timeout=10)
        assert processes.was_ended(bystander)  # not its fault: send it again
        again = processes.submit(partial(napping_pid, 0.0))  # a new pool
        assert again.result(timeout=60) != os.getpid()
        assert not processes.was_ended(again)
    finally:
        processes.cancel()
    assert not processes.holds_pool
    with pytest.raises(CancelledError):
        processes.submit(partial(napping_pid, 0.0))


def test_reports_without_a_lock_only_when_every_node_runs_inline() -> None:
    assert runs_in_one_thread(blueprint("inline", "inline").nodes)
    assert not runs_in_one_thread(blueprint("inline", "thread").nodes)
    assert not runs_in_one_thread(blueprint("process").nodes)
    timed = rt.NodeInfo(id="t", type="python", line=1, column=1, timeout=1.0)
    assert not runs_in_one_thread((timed,))
    hooks = HookSet.build(Recorder(), "r")
    single = rt.Execution(blueprint("inline"), hooks=hooks)
    threaded = rt.Execution(blueprint("inline", "thread"), hooks=hooks)
    assert single.report is not None and single.report.lock is None
    assert threaded.report is not None and threaded.report.lock is not None


def test_an_observed_run_reports_at_its_boundaries_and_a_plain_one_has_no_report() -> None:
    plain = rt.Execution(blueprint("inline"))
    assert plain.report is None and not plain.slow
    rec = Recorder()
    observed = rt.Execution(blueprint("inline"), hooks=HookSet.build(rec, "r"))
    assert isinstance(observed, rt.Execution) and observed.slow
    observed.node_started(0)
    observed.node_completed(0)
    assert [e.kind for e in rec.events] == ["node.started", "node.completed"]
    observed.cancel("stop")
    with pytest.raises(CancelledError, match="stop"):
        observed.node_started(0)


def test_event_timestamps_are_wall_clock_time() -> None:
    rec = Recorder()
    before = time.time()
    rt_flows.run(hooks=rec, concurrency=2)
    after = time.time()
    stamps = [e.timestamp for e in rec.events]
    assert all(before - 0.01 <= t <= after + 0.01 for t in stamps), (before, stamps, after)
