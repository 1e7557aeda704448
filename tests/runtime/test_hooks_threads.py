"""Hooks of runs whose nodes report from several threads, and hooks that watch no node at all.

A run with thread nodes delivers through its lock (``reporting.py``): every node's two events
arrive exactly once, one delivery at a time, even with eight workers racing; a hook may call
back into the run while it is being called. A run whose hooks want no per-node event keeps the
unobserved node boundaries (``ex.slow`` stays False) and still reports how it ended.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Final

import pytest

from atomiton import runtime as rt
from atomiton.errors import NodeError

WORKERS: Final = 8
PER_TASK: Final = 40

MANY: Final = rt.Blueprint(
    id="many",
    name="Many threads",
    version="1",
    source="many.yaml",
    sha256="",
    nodes=tuple(
        rt.NodeInfo(id=f"t{k}n{i}", type="python", line=1 + i, column=5, execution="thread")
        for k in range(WORKERS)
        for i in range(PER_TASK)
    ),
)


class _State:
    __slots__ = ("inputs", "values")

    def __init__(self, inputs: object) -> None:
        self.inputs = inputs
        self.values = [0] * WORKERS


def _worker(k: int) -> rt.Task[_State]:
    def task(ex: rt.Execution, s: _State) -> None:
        for i in range(PER_TASK):
            index = k * PER_TASK + i
            if ex.slow:
                ex.node_started(index)
            try:
                s.values[k] += i
            except Exception as exc:
                ex.node_failed(index, exc)
            if ex.slow:
                ex.node_completed(index, s.values[k])

    return rt.Task(task, mode="thread")


_TASKS: Final = tuple(_worker(k) for k in range(WORKERS))


def _execute(ex: rt.Execution, inputs: object) -> list[int]:
    s = _State(inputs)
    ex.run_tasks(_TASKS, s)
    return s.values


class Overlaps:
    """Counts events, and deliveries that overlapped another one (a thread switch is invited
    in the middle of each, so unserialised deliveries would be caught)."""

    def __init__(self) -> None:
        self.inside = 0
        self.overlaps = 0
        self.counts: Counter[tuple[str, str]] = Counter()
        self.order: list[tuple[str, str]] = []

    def on_event(self, *, event: rt.Event) -> None:
        inside = self.inside
        self.inside = inside + 1
        if inside:
            self.overlaps += 1
        time.sleep(0)  # give the GIL away mid-delivery
        node = getattr(event, "node_id", "")
        self.counts[(event.kind, node)] += 1
        self.order.append((event.kind, node))
        self.inside -= 1


def test_thread_nodes_deliver_every_event_once_and_one_at_a_time() -> None:
    hook = Overlaps()
    values = rt.run(MANY, _execute, None, hooks=hook, concurrency=WORKERS)
    assert values == [sum(range(PER_TASK))] * WORKERS
    assert hook.overlaps == 0
    for info in MANY.nodes:
        assert hook.counts[("node.started", info.id)] == 1
        assert hook.counts[("node.completed", info.id)] == 1
        assert hook.order.index(("node.started", info.id)) < hook.order.index(
            ("node.completed", info.id)
        )
    assert hook.order[0][0] == "execution.started" and hook.order[-1][0] == "execution.completed"
    assert ("execution.progress", "") in hook.counts


def test_a_hook_may_call_back_into_the_run_while_it_is_called() -> None:
    runs: list[rt.Execution] = []
    logs: list[str] = []

    class Talker:
        def on_event(self, *, event: rt.Event) -> None:
            if isinstance(event, rt.NodeCompleted) and event.index % PER_TASK == 0:
                runs[0].log(f"saw {event.node_id}")  # delivers a Log inside this delivery
            elif isinstance(event, rt.Log):
                logs.append(event.message)

    def body(ex: rt.Execution, inputs: object) -> list[int]:
        runs.append(ex)
        return _execute(ex, inputs)

    finished = threading.Event()

    def target() -> None:
        rt.run(MANY, body, None, hooks=Talker(), concurrency=WORKERS)
        finished.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(30)
    assert finished.is_set(), "a hook calling back into its run deadlocked it"
    assert sorted(logs) == sorted(f"saw t{k}n0" for k in range(WORKERS))


class RunEventsOnly:
    event_types = (rt.ExecutionStarted, rt.ExecutionCompleted, rt.ExecutionFailed, rt.Log)

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def on_event(self, *, event: rt.Event) -> None:
        self.kinds.append(event.kind)


ONE: Final = rt.Blueprint(
    id="one",
    name="one",
    version="1",
    source="one.yaml",
    sha256="",
    nodes=(rt.NodeInfo(id="talk", type="python", line=1, column=1),),
)


def _one(fail: bool, seen: list[bool]) -> object:
    def body(ex: rt.Execution, inputs: object) -> None:
        seen.append(ex.slow)
        if ex.slow:
            ex.node_started(0)
        try:
            ex.context(0).log("hello")
            time.sleep(0.01)
            if fail:
                raise ValueError("nope")
        except Exception as exc:
            ex.node_failed(0, exc)
        if ex.slow:
            ex.node_completed(0)

    return body


def test_a_hook_of_run_events_leaves_the_node_boundaries_unobserved() -> None:
    seen: list[bool] = []
    hook = RunEventsOnly()
    rt.run(ONE, _one(False, seen), None, hooks=hook)
    assert seen == [False]
    assert hook.kinds == ["execution.started", "log", "execution.completed"]
    with pytest.raises(NodeError, match="nope"):
        rt.run(ONE, _one(True, seen), None, hooks=hook)
    assert seen == [False, False]
    assert hook.kinds[3:] == ["execution.started", "log", "execution.failed"]


@pytest.mark.parametrize(
    "wanted",
    [rt.NodeStarted, rt.NodeCompleted, rt.NodeFailed, rt.NodeSkipped, rt.ExecutionProgress],
)
def test_a_hook_of_any_boundary_event_observes_the_boundaries(wanted: type[rt.Event]) -> None:
    seen: list[bool] = []

    class Wants(RunEventsOnly):
        event_types = (wanted,)

    rt.run(ONE, _one(False, seen), None, hooks=Wants())
    assert seen == [True]


def test_a_failure_duration_counts_from_the_node_start() -> None:
    failures: list[rt.NodeFailed] = []
    hooks = rt.Subscriptions().on(rt.NodeFailed, failures.append)
    with pytest.raises(NodeError):
        rt.run(ONE, _one(True, []), None, hooks=hooks)
    assert len(failures) == 1 and 0.005 < failures[0].duration < 5
