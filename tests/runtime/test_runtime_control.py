"""Cancelling, pausing and timing out runs, with real threads and processes (counted)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import rt_flows
from rt_flows import Inputs, Recorder, child_pids

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError, RunTimeoutError


def leftover_threads(before: set[threading.Thread], timeout: float = 2.0) -> set[threading.Thread]:
    """Threads started since ``before`` that are still alive once stragglers have finished.

    Identities, not counts: a thread of an earlier test ending meanwhile must not hide a leak.
    """
    deadline = time.monotonic() + timeout
    while True:
        extra = {t for t in threading.enumerate() if t not in before}
        if not extra or time.monotonic() >= deadline:
            return extra
        time.sleep(0.01)


def test_cancel_from_another_thread() -> None:
    before = set(threading.enumerate())
    token = rt.CancelToken()
    rec = Recorder()
    threading.Timer(0.1, token.cancel, ("stop now",)).start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="stop now"):
        rt_flows.run(Inputs(delay=10.0), cancel=token, hooks=rec, concurrency=2)
    assert time.monotonic() - started < 2.0
    assert leftover_threads(before) == set()
    assert rec.kinds()[-1] == "execution.cancelled"
    skipped = {e.node_id for e in rec.of(rt.NodeSkipped)}
    # two workers were running (concurrency 2); the other two and the sink never started
    assert "sink" in skipped and len(skipped) == 3
    assert {e.node_id for e in rec.of(rt.NodeFailed)} | skipped | {"src"} == {
        "src",
        "w0",
        "w1",
        "w2",
        "w3",
        "sink",
    }


def test_cancelled_token_before_start() -> None:
    token = rt.CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        rt_flows.run(cancel=token)


def test_first_failure_stops_siblings_at_their_boundary() -> None:
    started: list[int] = []

    def slow(ex: rt.Execution, s: Any) -> None:
        ctx = ex.context(0)
        ctx.wait(10)  # interrupted when the sibling fails
        ex.node_started(1)  # the next boundary raises
        started.append(1)

    def failing(ex: rt.Execution, s: Any) -> None:
        time.sleep(0.05)
        raise ValueError("first")

    bp = rt.Blueprint(
        id="f",
        name="f",
        version="1",
        source="f.yaml",
        sha256="",
        nodes=(
            rt.NodeInfo(id="a", type="code", line=1, column=1),
            rt.NodeInfo(id="b", type="code", line=2, column=1),
        ),
    )
    tasks = (rt.Task(slow, mode="thread"), rt.Task(failing, mode="thread"))
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="first"):
        rt.run(bp, lambda ex, inputs: ex.run_tasks(tasks, None), None)
    assert time.monotonic() - t0 < 2.0
    assert started == []


def test_arun_returns_outputs() -> None:
    out = asyncio.run(rt_flows.arun(Inputs(x=2)))
    assert out.total == 86


def test_cancelling_arun_task_cancels_the_run() -> None:
    before = set(threading.enumerate())
    rec = Recorder()

    async def main() -> None:
        task = asyncio.create_task(rt_flows.arun(Inputs(delay=10.0), hooks=rec))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # structured: when the await returns, the run has stopped and reported it
        assert rec.kinds()[-1] == "execution.cancelled"

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < 3.0
    assert leftover_threads(before) == set()


def _sleeper_node(seconds: float, *, context: rt.NodeContext) -> int:
    """A node running a child process that the context kills on cancel (like shell-command)."""
    proc = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    unregister = context.on_cancel(proc.kill)
    try:
        return proc.wait()
    finally:
        unregister()


def _proc_flow(timeout: float | None = None) -> tuple[rt.Blueprint, Any]:
    bp = rt.Blueprint(
        id="p",
        name="p",
        version="1",
        source="p.yaml",
        sha256="",
        nodes=(
            rt.NodeInfo(
                id="sh1",
                type="shell-command",
                line=1,
                column=1,
                execution="thread",
                timeout=timeout,
            ),
            rt.NodeInfo(id="sh2", type="shell-command", line=2, column=1, execution="thread"),
        ),
    )

    def t0(ex: rt.Execution, s: dict[str, Any]) -> None:
        if bp.nodes[0].timeout is not None:
            s["sh1"] = ex.call(0, _sleeper_node, 30, context=ex.context(0))
            return
        if ex.slow:
            ex.node_started(0)
        try:
            s["sh1"] = _sleeper_node(30, context=ex.context(0))
        except Exception as exc:
            ex.node_failed(0, exc)
        if ex.slow:
            ex.node_completed(0)

    def t1(ex: rt.Execution, s: dict[str, Any]) -> None:
        if ex.slow:
            ex.node_started(1)
        try:
            s["sh2"] = _sleeper_node(30, context=ex.context(1))
        except Exception as exc:
            ex.node_failed(1, exc)
        if ex.slow:
            ex.node_completed(1)

    tasks = (rt.Task(t0, mode="thread"), rt.Task(t1, mode="thread"))

    def body(ex: rt.Execution, inputs: None) -> dict[str, Any]:
        s: dict[str, Any] = {}
        ex.run_tasks(tasks, s)
        return s

    return bp, body


def test_cancel_kills_child_processes_and_threads() -> None:
    threads_before = set(threading.enumerate())
    children_before = child_pids()
    bp, body = _proc_flow()
    token = rt.CancelToken()

    def cancel_when_running() -> None:
        deadline = time.monotonic() + 5
        while len(child_pids() - children_before) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        token.cancel()

    threading.Thread(target=cancel_when_running).start()
    t0 = time.monotonic()
    # The killed processes exit with a signal: the node itself returns, then the boundary
    # after it (or the scheduler) reports the cancellation.
    with pytest.raises((CancelledError, NodeError)):
        rt.run(bp, body, None, cancel=token, hooks=Recorder())
    assert time.monotonic() - t0 < 5
    assert child_pids() - children_before == set()
    assert leftover_threads(threads_before) == set()


def test_flow_timeout_stops_the_run() -> None:
    before = set(threading.enumerate())
    rec = Recorder()
    t0 = time.monotonic()
    with pytest.raises(RunTimeoutError):
        rt_flows.run(Inputs(delay=10.0), timeout=0.2, hooks=rec)
    assert time.monotonic() - t0 < 2.0
    assert rec.kinds()[-1] == "execution.failed"
    assert leftover_threads(before) == set()


def test_node_timeout_releases_and_reports() -> None:
    before = set(threading.enumerate())
    children_before = child_pids()
    bp, body = _proc_flow(timeout=0.2)
    rec = Recorder()
    t0 = time.monotonic()
    with pytest.raises(NodeError) as info:
        rt.run(bp, body, None, hooks=rec)
    assert time.monotonic() - t0 < 5
    assert info.value.node_id == "sh1"
    assert isinstance(info.value.__cause__, rt.NodeTimeoutError)
    failed = [e for e in rec.of(rt.NodeFailed) if e.node_id == "sh1"]
    assert failed and failed[0].timed_out
    assert child_pids() - children_before == set()
    assert leftover_threads(before) == set()


def test_pause_then_resume_gives_same_outputs() -> None:
    expected = rt.run(rt_flows.CHAIN, rt_flows.execute_chain, 0.0)
    control = rt.RunControl()
    rec = Recorder()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(
            rt.run(rt_flows.CHAIN, rt_flows.execute_chain, 0.03, cancel=control, hooks=rec)
        )
    )
    runner.start()
    time.sleep(0.05)
    control.pause()
    time.sleep(0.05)  # the node running at pause time finishes
    count = len(rec.of(rt.NodeStarted))
    time.sleep(0.25)
    assert len(rec.of(rt.NodeStarted)) == count, "a node started while paused"
    assert control.paused
    control.resume()
    runner.join(5)
    assert result == [expected]


def test_cancel_while_paused() -> None:
    control = rt.RunControl()
    control.pause()
    threading.Timer(0.1, control.cancel).start()
    with pytest.raises(CancelledError):
        rt_flows.run(cancel=control)


def test_concurrency_changes_while_running() -> None:
    running = 0
    peak: list[int] = []
    lock = threading.Lock()
    control = rt.RunControl()

    def task(ex: rt.Execution, s: Any) -> None:
        nonlocal running
        with lock:
            running += 1
            peak.append(running)
        time.sleep(0.03)
        with lock:
            running -= 1

    tasks = tuple(rt.Task(task, mode="thread") for _ in range(24))
    bp = rt.Blueprint(id="c", name="c", version="1", source="c.yaml", sha256="", nodes=())
    threading.Timer(0.1, lambda: setattr(control, "concurrency", 6)).start()
    rt.run(bp, lambda ex, inputs: ex.run_tasks(tasks, None), None, concurrency=1, cancel=control)
    assert peak[:3] == [1, 1, 1]
    assert max(peak) == 6
