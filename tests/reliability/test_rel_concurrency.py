"""Many runs of one compiled module at once, and hooks that raise, through real compiled flows."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from conftest import FlowFactory, ModFactory
from rel_support import Recorder

from atomiton import runtime as rt

RUNS = 200

USER = """
import random
import threading
import time

def slow_double(n: int) -> int:
    time.sleep(random.uniform(0.0, 0.005))
    return n * 2

def combine(a: int, b: int, tag: str) -> dict[str, object]:
    return {"tag": tag, "sum": a + b, "thread": threading.current_thread().name}
"""

# Two branches run as thread tasks (one doubles, one squares) and a python node joins them with
# the run's own tag: any mixing of state between runs shows in the result.
FLOW = """
id: mixed
variables:
  n: {type: integer, defaultValue: 0}
  tag: {type: string, defaultValue: none}
nodes:
  - id: double
    type: python
    function: "MOD:slow_double"
    parameters: {execution: thread}
    inputPorts: [{id: n, dataType: integer}]
    outputPorts: [{id: result, dataType: integer}]
  - id: square
    type: code
    parameters: {code: "return data * data"}
  - id: join
    type: python
    function: "MOD:combine"
    inputPorts: [{id: a, dataType: integer}, {id: b, dataType: integer}, {id: tag, dataType: string}]
    outputPorts: [{id: result, dataType: object}]
  - id: label
    type: edit-fields
    parameters: {values: {label: "run {{ inputs.tag }} of {{ inputs.n }}"}}
edges:
  - {source: input, sourceHandle: n, target: double, targetHandle: n}
  - {source: input, sourceHandle: n, target: square}
  - {source: double, target: join, targetHandle: a}
  - {source: square, target: join, targetHandle: b}
  - {source: input, sourceHandle: tag, target: join, targetHandle: tag}
  - {source: join, target: output, targetHandle: joined}
  - {source: label, target: output, targetHandle: label}
"""


@pytest.fixture
def mixed(flow: FlowFactory, pymod: ModFactory) -> ModuleType:
    return flow(FLOW.replace("MOD", pymod(USER)))


def expected(n: int) -> dict[str, Any]:
    return {"tag": f"t{n}", "sum": n * 2 + n * n, "label": {"label": f"run t{n} of {n}"}}


def summary(out: Any) -> dict[str, Any]:
    return {"tag": out.joined["tag"], "sum": out.joined["sum"], "label": out.label}


def test_one_run_gives_the_expected_result(mixed: ModuleType) -> None:
    assert summary(mixed.run(mixed.Inputs(n=3, tag="t3"))) == expected(3)


@pytest.mark.parametrize("hooked", [False, True], ids=["plain", "hooked"])
def test_200_runs_in_threads(mixed: ModuleType, hooked: bool) -> None:
    rec = Recorder() if hooked else None
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(RUNS)

    def one(n: int) -> None:
        try:
            barrier.wait(10)
            results[n] = summary(
                mixed.run(mixed.Inputs(n=n, tag=f"t{n}"), hooks=rec, concurrency=2)
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(RUNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert results == {n: expected(n) for n in range(RUNS)}
    if rec is not None:
        # Every run has its own id and a complete, separate set of events.
        done = rec.of(rt.ExecutionCompleted)
        assert len({e.run_id for e in done}) == RUNS
        per_run = Counter(e.run_id for e in rec.of(rt.NodeCompleted))
        assert set(per_run.values()) == {4}
        assert not rec.of(rt.NodeFailed)


def test_200_aruns_gathered(mixed: ModuleType) -> None:
    rec = Recorder()

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(mixed.arun(mixed.Inputs(n=n, tag=f"t{n}"), hooks=rec) for n in range(RUNS))
        )

    outs = asyncio.run(main())
    assert [summary(o) for o in outs] == [expected(n) for n in range(RUNS)]
    assert len({e.run_id for e in rec.of(rt.ExecutionCompleted)}) == RUNS


class Raising:
    """A hook that raises on every event it receives."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def on_event(self, *, event: rt.Event) -> None:
        with self._lock:
            self.calls += 1
        raise RuntimeError(f"hook broke on {event.kind}")


class RaisingBase(rt.BaseHooks):
    """A ``BaseHooks`` subclass whose node handlers raise."""

    def on_node_started(self, *, event: rt.NodeStarted) -> None:
        raise ValueError("typed handler broke")


def test_raising_hooks_never_fail_a_compiled_run(mixed: ModuleType) -> None:
    bad, rec = Raising(), Recorder()
    out = mixed.run(mixed.Inputs(n=4, tag="t4"), hooks=[bad, RaisingBase(), rec])
    assert summary(out) == expected(4)
    kinds = [k for k in rec.kinds() if k != "log"]
    assert kinds[0] == "execution.started"
    assert kinds[-1] == "execution.completed"
    logs = rec.of(rt.Log)
    assert logs and all(log.level == "error" for log in logs)
    # One report per event the raising hook received (it also raises on the reports: ignored).
    reported = [e for e in rec.events if not isinstance(e, rt.Log)]
    raising_logs = [log for log in logs if log.message.startswith("hook Raising raised")]
    assert len(raising_logs) == len(reported)
    assert any("RuntimeError: hook broke on node.started" in log.message for log in raising_logs)
    typed = [log for log in logs if log.message.startswith("hook RaisingBase raised")]
    assert len(typed) == len(rec.of(rt.NodeStarted)) == 4
    assert {log.node_id for log in typed} == {"double", "square", "join", "label"}
    assert bad.calls >= len(reported)


def test_raising_hook_under_arun_and_failure(flow: FlowFactory) -> None:
    module = flow("""
        id: failing
        nodes:
          - {id: ok, type: code, parameters: {code: "return 1"}}
          - {id: boom, type: code, parameters: {code: "raise ValueError('bad value')"}}
        edges:
          - {source: ok, target: boom}
        """)
    from atomiton.errors import NodeError

    rec = Recorder()
    with pytest.raises(NodeError, match="bad value"):
        asyncio.run(module.arun(hooks=[Raising(), rec]))
    # The node's own failure is what the run reports, not the hook's.
    assert [k for k in rec.kinds() if k != "log"][-1] == "execution.failed"
    assert rec.of(rt.ExecutionFailed)[0].node_id == "boom"
    assert any("hook broke on execution.failed" in log.message for log in rec.of(rt.Log))
