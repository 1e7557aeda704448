"""Timeouts and cancellation reach inside loop and parallel, the run deadline holds for the last
node, the concurrency limit bounds sub-work threads, independent branches run at once, and a
broken ``__str__`` cannot break error reporting (issue 9, items 10, 12, 13).

Every test runs a compiled flow with real threads and real ``sleep`` processes, and checks that
when ``run()`` returns no thread or child process of the run is left.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import FlowFactory, ModFactory
from rel_support import Recorder, child_pids, leftover_children, leftover_threads, wait_for

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError, RunTimeoutError


@pytest.fixture
def clean() -> Iterator[None]:
    """Fail the test if a thread or a child process it started is alive once it is done."""
    threads = set(threading.enumerate())
    children = child_pids()
    yield
    # No grace: everything must have ended before run() returned.
    assert leftover_threads(threads, settle=0.0) == set()
    assert leftover_children(children, settle=0.0) == set()


SLEEP = "{{id: {id}, type: shell-command, parameters: {{program: sleep, args: ['30']}}}}"


@pytest.mark.parametrize(
    "kind",
    ["loopType: times, count: 4, concurrency: 2", "loopType: while, condition: 'iteration < 3'"],
    ids=["times", "while"],
)
def test_loop_timeout_kills_the_programs_of_its_iterations(
    flow: FlowFactory, clean: None, kind: str
) -> None:
    module = flow(f"""
        id: loop-timeout
        nodes:
          - id: lp
            type: loop
            parameters: {{timeout: 500, {kind}, body: {{nodes: [{SLEEP.format(id="nap")}]}}}}
        """)
    started = time.monotonic()
    with pytest.raises(NodeError, match="NodeTimeoutError"):
        module.run()
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("strategy", ["all", "allSettled"])
def test_operation_timeout_kills_the_slow_branch(
    flow: FlowFactory, clean: None, strategy: str
) -> None:
    module = flow(f"""
        id: op-timeout
        nodes:
          - id: par
            type: parallel
            parameters:
              operationTimeout: 300
              strategy: {strategy}
              branches:
                - nodes: [{SLEEP.format(id="slow")}]
                - nodes: [{{id: quick, type: code, parameters: {{code: "return 2"}}}}]
        """)
    started = time.monotonic()
    if strategy == "all":
        with pytest.raises(NodeError, match="operationTimeout"):
            module.run()
    else:
        results = module.run().par
        assert [r["status"] for r in results] == ["rejected", "fulfilled"]
    assert time.monotonic() - started < 3


def test_global_timeout_kills_every_unfinished_branch(flow: FlowFactory, clean: None) -> None:
    module = flow(f"""
        id: global-timeout
        nodes:
          - id: par
            type: parallel
            parameters:
              globalTimeout: 300
              strategy: allSettled
              branches:
                - nodes: [{SLEEP.format(id="a")}]
                - nodes: [{SLEEP.format(id="b")}]
                - nodes: [{{id: c, type: code, parameters: {{code: "return 3"}}}}]
        """)
    results = module.run().par
    assert [r["status"] for r in results] == ["rejected", "rejected", "fulfilled"]


def test_race_losers_are_killed(flow: FlowFactory, clean: None) -> None:
    module = flow(f"""
        id: race
        nodes:
          - id: par
            type: parallel
            parameters:
              strategy: race
              branches:
                - nodes: [{SLEEP.format(id="loser1")}]
                - nodes:
                    - {{id: nap, type: shell-command, parameters: {{program: sleep, args: ["0.3"]}}}}
                    - {{id: win, type: code, parameters: {{code: "return 'won'"}}}}
                  edges: [{{source: nap, target: win}}]
                - nodes: [{SLEEP.format(id="loser2")}]
        """)
    before = child_pids()
    started = time.monotonic()
    out = module.run()
    assert out.par == ["won"]
    assert time.monotonic() - started < 3
    assert child_pids() - before == set()


def test_run_cancel_reaches_programs_nested_in_loop_in_parallel(
    flow: FlowFactory, clean: None
) -> None:
    module = flow(f"""
        id: nested
        nodes:
          - id: par
            type: parallel
            parameters:
              branches:
                - nodes:
                    - id: lp
                      type: loop
                      parameters:
                        loopType: times
                        count: 3
                        concurrency: 3
                        body:
                          nodes: [{SLEEP.format(id="nap")}]
                - nodes: [{SLEEP.format(id="other")}]
        """)
    before = child_pids()
    token = rt.CancelToken()

    def cancel_when_started() -> None:
        wait_for(lambda: len(child_pids() - before) >= 4, timeout=10)
        token.cancel("enough")

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    with pytest.raises(CancelledError):
        module.run(cancel=token)
    canceller.join()


def test_run_timeout_holds_when_the_slow_node_is_last(flow: FlowFactory, clean: None) -> None:
    module = flow("""
        id: slow-last
        nodes:
          - {id: a, type: code, parameters: {code: "return 1"}}
          - {id: b, type: code, parameters: {code: "import time\\ntime.sleep(1.2)\\nreturn data"}}
        edges:
          - {source: a, target: b}
        """)
    with pytest.raises(RunTimeoutError):
        module.run(timeout=0.3)


def test_run_timeout_kills_a_last_program_at_the_deadline(flow: FlowFactory, clean: None) -> None:
    module = flow(f"""
        id: slow-last-program
        nodes:
          - {{id: a, type: code, parameters: {{code: "return ['30']"}}}}
          - {{id: b, type: shell-command, parameters: {{program: sleep}}}}
        edges:
          - {{source: a, target: b, targetHandle: args}}
        """)
    started = time.monotonic()
    with pytest.raises(RunTimeoutError):
        module.run(timeout=0.3)
    assert time.monotonic() - started < 2


COUNTER = """
import threading
import time

lock = threading.Lock()
running = 0
peak = 0
peak_threads = 0

def nap(data: object) -> object:
    global running, peak, peak_threads
    with lock:
        running += 1
        peak = max(peak, running)
        workers = [
            t for t in threading.enumerate()
            if t.name.startswith(("atomiton-parallel", "atomiton-map"))
        ]
        peak_threads = max(peak_threads, len(workers))
    time.sleep(0.05)
    with lock:
        running -= 1
    return data
"""


@pytest.mark.parametrize("kind", ["parallel", "loop"])
def test_concurrency_limit_bounds_branch_and_iteration_threads(
    flow: FlowFactory, pymod: ModFactory, clean: None, kind: str
) -> None:
    mod = pymod(COUNTER)
    node = f"{{id: n, type: python, function: '{mod}:nap'}}"
    if kind == "parallel":
        work = f"""
          - id: fan
            type: parallel
            parameters:
              concurrency: 10
              branches: [{", ".join([f"{{nodes: [{node}]}}"] * 20)}]
        """
    else:
        work = f"""
          - id: fan
            type: loop
            parameters:
              loopType: times
              count: 20
              concurrency: 10
              body: {{nodes: [{node}]}}
        """
    module = flow(f"id: bounded\nnodes:\n{work}")
    module.run(concurrency=4)
    import sys

    counter = sys.modules[mod]
    assert 2 <= counter.peak <= 4, counter.peak  # branches overlap, and never past the limit
    assert counter.peak_threads <= 4
    counter.peak = counter.peak_threads = 0
    module.run(concurrency=1)
    assert counter.peak == 1


def test_independent_branches_run_at_once(flow: FlowFactory, clean: None) -> None:
    # A slow in-memory node beside a program: each takes 1 s, together not 2 s.
    module = flow("""
        id: branches
        nodes:
          - {id: src, type: code, parameters: {code: "return '1'"}}
          - {id: slow, type: code, parameters: {code: "import time\\ntime.sleep(1)\\nreturn data"}}
          - {id: nap, type: shell-command, parameters: {program: sleep}}
          - {id: wrap, type: code, parameters: {code: "return [data]"}}
        edges:
          - {source: src, target: slow}
          - {source: src, target: wrap}
          - {source: wrap, target: nap, targetHandle: args}
        """)
    started = time.monotonic()
    module.run()
    assert time.monotonic() - started < 1.8


BROKEN = """
class Broken(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

def fail(data: object) -> object:
    raise Broken()
"""


@pytest.mark.parametrize("where", ["top", "loop", "parallel"])
def test_an_exception_whose_str_raises_still_becomes_a_node_error(
    flow: FlowFactory, pymod: ModFactory, where: str
) -> None:
    mod = pymod(BROKEN)
    node = f"{{id: bad, type: python, function: '{mod}:fail'}}"
    if where == "top":
        text = (
            "id: broken\nnodes:\n  - {id: src, type: code, parameters: {code: 'return 1'}}\n"
            f"  - {node}\nedges: [{{source: src, target: bad}}]"
        )
    elif where == "loop":
        text = (
            "id: broken\nnodes:\n  - {id: lp, type: loop, parameters: {loopType: times, "
            f"count: 2, body: {{nodes: [{node}]}}}}}}"
        )
    else:
        text = (
            "id: broken\nnodes:\n  - {id: par, type: parallel, parameters: "
            f"{{branches: [{{nodes: [{node}]}}]}}}}"
        )
    module = flow(text)
    recorder = Recorder()
    with pytest.raises(NodeError, match="Broken") as info:
        module.run(hooks=recorder)
    assert "str() of this Broken raised RuntimeError" in str(info.value)
    assert recorder.of(rt.ExecutionFailed)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs SIGTERM")
def test_cancel_on_signals_cancels_runs_on_other_threads_and_restores_the_handler(
    flow: FlowFactory, clean: None
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    module = flow(f"id: sig\nnodes: [{SLEEP.format(id='nap')}]")
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        outcome: list[BaseException] = []
        before = child_pids()
        with rt.cancel_on_signals() as stop:

            def target() -> None:
                try:
                    module.run()
                except BaseException as exc:  # checked below
                    outcome.append(exc)

            worker = threading.Thread(target=target)
            worker.start()
            assert wait_for(lambda: child_pids() - before, timeout=10)
            os.kill(os.getpid(), signal.SIGTERM)
            worker.join(10)
            assert stop.wait(5)
        assert not worker.is_alive()
        assert isinstance(outcome[0], CancelledError)
        assert "received SIGTERM" in str(outcome[0])
        assert stop.signal == signal.SIGTERM and stop.count == 1
        assert calls == [signal.SIGTERM]  # the handler installed before still ran
        assert signal.getsignal(signal.SIGTERM) is not None
        os.kill(os.getpid(), signal.SIGTERM)  # restored: the earlier handler alone gets it
        assert wait_for(lambda: len(calls) == 2, timeout=5)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_cancel_on_signals_is_public() -> None:
    assert {"cancel_on_signals", "cancel_all_runs", "SignalCancel"} <= set(rt.__all__)


def test_run_deadline_kills_programs_while_in_memory_work_runs(
    flow: FlowFactory, clean: None
) -> None:
    # The scheduling thread is busy in a slow in-memory node when the deadline passes: the
    # program on the worker thread must still be killed at the deadline, not after.
    module = flow(f"""
        id: busy-scheduler
        nodes:
          - {{id: slow, type: code, parameters: {{code: "import time\\ntime.sleep(1.5)\\nreturn 1"}}}}
          - {SLEEP.format(id="nap")}
        """)
    before = child_pids()
    seen: list[float] = []
    started = time.monotonic()

    def watch() -> None:
        wait_for(lambda: child_pids() - before, timeout=5)
        wait_for(lambda: not (child_pids() - before), timeout=5)
        seen.append(time.monotonic() - started)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(RunTimeoutError):
        module.run(timeout=0.3)
    watcher.join()
    assert seen and seen[0] < 1.2, seen  # killed near 0.3 s, long before the node's 1.5 s


def test_shell_stdin_takes_numbers_and_data(flow: FlowFactory) -> None:
    module = flow("""
        id: stdin-data
        nodes:
          - {id: n, type: code, parameters: {code: "return {'a': [1, 2]}"}}
          - {id: echo, type: shell-command, parameters: {program: cat}}
        edges:
          - {source: n, target: echo, targetHandle: stdin}
        """)
    assert module.run().echo == '{"a": [1, 2]}'
