"""Cancelling and timing out compiled flows leaves no thread and no child process behind."""

from __future__ import annotations

import asyncio
import threading
import time
from types import ModuleType

import pytest
from conftest import FlowFactory, ModFactory
from rel_support import Recorder, child_pids, leftover_children, leftover_threads, wait_for

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError, RunTimeoutError

# Three independent `sleep 30` nodes (at concurrency 2 one of them waits) and a node after them.
SLEEPERS = """
id: sleepers
nodes:
  - {id: s0, type: shell-command, parameters: {program: sleep, args: ["30"]}}
  - {id: s1, type: shell-command, parameters: {program: sleep, args: ["30"]}}
  - {id: s2, type: shell-command, parameters: {program: sleep, args: ["30"]}}
  - {id: after, type: code, parameters: {code: "return data"}}
edges:
  - {source: s0, sourceHandle: exitCode, target: after}
"""

# The same inside a parallel node: branches run on the node's own threads.
PARALLEL_SLEEPERS = """
id: parallel-sleepers
nodes:
  - id: fan
    type: parallel
    parameters:
      concurrency: 2
      branches:
        - nodes: [{id: a, type: shell-command, parameters: {program: sleep, args: ["30"]}}]
        - nodes: [{id: b, type: shell-command, parameters: {program: sleep, args: ["30"]}}]
        - nodes: [{id: c, type: shell-command, parameters: {program: sleep, args: ["30"]}}]
  - {id: after, type: code, parameters: {code: "return data"}}
edges:
  - {source: fan, target: after}
"""


@pytest.fixture
def sleepers(flow: FlowFactory) -> ModuleType:
    return flow(SLEEPERS, name="sleepers")


@pytest.fixture
def parallel_sleepers(flow: FlowFactory) -> ModuleType:
    return flow(PARALLEL_SLEEPERS, name="parallel_sleepers")


def _cancel_when_running(token: rt.CancelToken, before: set[int], count: int) -> threading.Thread:
    def target() -> None:
        wait_for(lambda: len(child_pids() - before) >= count, timeout=10)
        token.cancel("stop the sleepers")

    thread = threading.Thread(target=target, name="canceller")
    thread.start()
    return thread


def test_cancel_token_from_another_thread(sleepers: ModuleType) -> None:
    threads_before, children_before = set(threading.enumerate()), child_pids()
    token, rec = rt.CancelToken(), Recorder()
    canceller = _cancel_when_running(token, children_before, 2)
    started = time.monotonic()
    with pytest.raises(CancelledError, match="stop the sleepers"):
        sleepers.run(cancel=token, hooks=rec, concurrency=2)
    canceller.join()
    assert time.monotonic() - started < 10
    assert leftover_children(children_before) == set()
    assert leftover_threads(threads_before) == set()
    assert rec.kinds()[-1] == "execution.cancelled"
    skipped = {e.node_id for e in rec.of(rt.NodeSkipped)}
    # two sleepers ran (concurrency 2); the third and the node after them never started
    assert len(skipped & {"s0", "s1", "s2"}) == 1 and "after" in skipped
    started_ids = {e.node_id for e in rec.of(rt.NodeStarted)}
    assert len(started_ids) == 2 and not started_ids & skipped
    assert not rec.of(rt.NodeCompleted)


def test_cancel_inside_a_parallel_node(parallel_sleepers: ModuleType) -> None:
    threads_before, children_before = set(threading.enumerate()), child_pids()
    token, rec = rt.CancelToken(), Recorder()
    canceller = _cancel_when_running(token, children_before, 2)
    with pytest.raises(CancelledError):
        parallel_sleepers.run(cancel=token, hooks=rec)
    canceller.join()
    assert leftover_children(children_before) == set()
    assert leftover_threads(threads_before) == set()
    assert rec.kinds()[-1] == "execution.cancelled"
    assert "after" in {e.node_id for e in rec.of(rt.NodeSkipped)}


def test_cancelling_the_arun_task(sleepers: ModuleType) -> None:
    threads_before, children_before = set(threading.enumerate()), child_pids()
    rec = Recorder()

    async def main() -> None:
        task = asyncio.ensure_future(sleepers.arun(hooks=rec, concurrency=2))
        deadline = time.monotonic() + 10
        while len(child_pids() - children_before) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 10
    assert leftover_children(children_before) == set()
    assert leftover_threads(threads_before) == set()
    assert rec.kinds()[-1] == "execution.cancelled"
    skipped = {e.node_id for e in rec.of(rt.NodeSkipped)}
    assert len(skipped & {"s0", "s1", "s2"}) == 1 and "after" in skipped


def test_node_timeout_of_a_shell_command(flow: FlowFactory) -> None:
    module = flow("""
        id: slow-shell
        nodes:
          - {id: slow, type: shell-command, parameters: {program: sleep, args: ["30"], timeout: 200}}
        """)
    threads_before, children_before = set(threading.enumerate()), child_pids()
    rec = Recorder()
    started = time.monotonic()
    with pytest.raises(NodeError, match="timed out after 200 ms") as info:
        module.run(hooks=rec)
    assert time.monotonic() - started < 5
    assert info.value.node_id == "slow"
    assert leftover_children(children_before) == set()
    assert leftover_threads(threads_before) == set()
    (failed,) = rec.of(rt.NodeFailed)
    assert failed.node_id == "slow" and failed.error_type == "CommandTimeoutError"


def test_flow_timeout_kills_the_running_programs(sleepers: ModuleType) -> None:
    threads_before, children_before = set(threading.enumerate()), child_pids()
    rec = Recorder()
    started = time.monotonic()
    with pytest.raises(RunTimeoutError):
        sleepers.run(timeout=0.3, hooks=rec, concurrency=2)
    assert time.monotonic() - started < 5
    assert leftover_children(children_before) == set()
    assert leftover_threads(threads_before) == set()
    assert rec.kinds()[-1] == "execution.failed"
    assert rec.of(rt.ExecutionFailed)[0].error_type == "RunTimeoutError"
    assert "after" in {e.node_id for e in rec.of(rt.NodeSkipped)}


def test_node_timeout_setting_on_a_python_node(flow: FlowFactory, pymod: ModFactory) -> None:
    mod = pymod("""
        import time

        def slow(data: object) -> object:
            time.sleep(0.6)
            return data
        """)
    module = flow(f"""
        id: slow-python
        variables:
          value: {{type: integer, defaultValue: 1}}
        nodes:
          - {{id: slow, type: python, function: "{mod}:slow", parameters: {{timeout: 100, retries: 1, retryDelay: 10}}}}
        edges:
          - {{source: input, sourceHandle: value, target: slow}}
        """)
    rec = Recorder()
    started = time.monotonic()
    with pytest.raises(NodeError, match="timed out"):
        module.run(hooks=rec)
    # two attempts of 100 ms, not two of 600 ms
    assert time.monotonic() - started < 0.6
    (retry,) = rec.of(rt.NodeRetrying)
    assert retry.timed_out and retry.attempt == 1
    (failed,) = rec.of(rt.NodeFailed)
    assert failed.timed_out and failed.attempts == 2 and failed.error_type == "NodeTimeoutError"
