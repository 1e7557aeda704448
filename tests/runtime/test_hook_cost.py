"""What a hook costs: a run builds only the events its hooks declare, and delivers them in order.

Speed itself is measured in benchmarks/runtime_overhead.py; these tests pin the behaviour that
makes it cheap: undeclared events are never constructed, each hook sees only what it asked for,
per-node order and failure isolation stay as they were.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import rt_flows
from rt_flows import EXPECTED_TOTAL, Inputs, Recorder

from atomiton import runtime as rt
from atomiton.errors import NodeError
from atomiton.runtime.context import current_scope
from atomiton.runtime.events import EVENT_TYPES
from atomiton.runtime.hooks import HookSet, wanted_event_types

# What builds each event: the keyword constructors of the classes, and the positional factories
# reporting.py uses for the two events of every node. Replacing one with ``_explode`` proves it
# unused.
FACTORIES = {"NodeStarted": "node_started_event", "NodeCompleted": "node_completed_event"}
PER_NODE_BUILDERS = (
    "NodeStarted",
    "NodeCompleted",
    "ExecutionProgress",
    "NodeSkipped",
    "NodeFailed",
    "NodeProgress",
    "NodeRetrying",
    "Log",
)


def _explode(*args: object, **kwargs: object) -> None:
    raise AssertionError("an event nobody declared was built")


def _forbid(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        if name in FACTORIES:
            monkeypatch.setattr(f"atomiton.runtime.reporting.{FACTORIES[name]}", _explode)
        monkeypatch.setattr(getattr(rt, name), "__init__", _explode)


class Declared(Recorder):
    """A recorder that declares the event types it wants."""

    def __init__(self, *types: type[rt.Event]) -> None:
        super().__init__()
        self.event_types = types


def test_a_hook_declaring_node_completed_gets_only_those_and_nothing_else_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _forbid(monkeypatch, *(n for n in PER_NODE_BUILDERS if n != "NodeCompleted"))
    hook = Declared(rt.NodeCompleted)
    assert rt_flows.run(hooks=hook, concurrency=2).total == EXPECTED_TOTAL
    assert {type(e) for e in hook.events} == {rt.NodeCompleted}
    assert sorted(e.node_id for e in hook.events) == sorted(["src", "w0", "w1", "w2", "w3", "sink"])


def test_base_hooks_declare_the_methods_they_override(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Done(rt.BaseHooks):
        def on_node_completed(self, *, event: rt.NodeCompleted) -> None:
            seen.append(event.node_id)

    assert wanted_event_types(Done()) == {rt.NodeCompleted}
    _forbid(monkeypatch, *(n for n in PER_NODE_BUILDERS if n != "NodeCompleted"))
    rt_flows.run(hooks=Done())
    assert len(seen) == 6


def test_base_hooks_overriding_on_event_want_everything() -> None:
    class All(rt.BaseHooks):
        def on_event(self, *, event: rt.Event) -> None:
            pass

    class Plain(rt.BaseHooks):
        pass

    class Chosen(rt.BaseHooks):
        event_types = (rt.NodeFailed,)

    assert wanted_event_types(All()) == set(EVENT_TYPES)
    assert wanted_event_types(Plain()) == set()
    assert wanted_event_types(Chosen()) == {rt.NodeFailed}
    # A method set on the instance counts as an override too.
    late = Plain()
    late.on_log = lambda *, event: None  # type: ignore[method-assign]
    assert wanted_event_types(late) == {rt.Log}


def test_a_base_class_stands_for_its_subclasses_and_undeclared_hooks_get_all() -> None:
    assert wanted_event_types(Declared(rt.NodeEvent)) == {
        t for t in EVENT_TYPES if issubclass(t, rt.NodeEvent)
    }
    assert wanted_event_types(Declared(rt.Event)) == set(EVENT_TYPES)
    assert wanted_event_types(Recorder()) == set(EVENT_TYPES)
    subs = rt.Subscriptions().on(rt.NodeFailed, print).on(rt.ExecutionProgress, print)
    assert wanted_event_types(subs) == {rt.NodeFailed, rt.ExecutionProgress}


@pytest.mark.parametrize("bad", [(int,), ("node.completed",), 3])
def test_bad_declarations_are_refused_before_the_run_starts(bad: Any) -> None:
    hook = Recorder()
    hook.event_types = bad  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="event_types"):
        rt_flows.run(hooks=hook)
    assert hook.events == []


def test_each_hook_gets_only_its_own_types_in_run_order() -> None:
    starts, ends, everything = Declared(rt.NodeStarted), Declared(rt.NodeCompleted), Recorder()
    rt_flows.run(hooks=[starts, everything, ends], concurrency=3)
    assert {type(e) for e in starts.events} == {rt.NodeStarted}
    assert {type(e) for e in ends.events} == {rt.NodeCompleted}
    assert starts.events == everything.of(rt.NodeStarted)
    assert ends.events == everything.of(rt.NodeCompleted)


def test_every_node_starts_before_it_completes_and_progress_only_rises() -> None:
    rec = Recorder()
    rt_flows.run(Inputs(delay=0.01), hooks=rec, concurrency=4)
    kinds = rec.kinds()
    assert kinds[0] == "execution.started" and kinds[-1] == "execution.completed"
    position: dict[tuple[str, str], int] = {}
    for k, event in enumerate(rec.of(rt.NodeEvent)):
        position[(event.kind, event.node_id)] = k
    for node in ("src", "w0", "w1", "w2", "w3", "sink"):
        assert position[("node.started", node)] < position[("node.completed", node)]
    percents = [e.percent for e in rec.of(rt.ExecutionProgress)]
    assert percents == sorted(percents) and percents[-1] == 100.0
    timestamps = [e.timestamp for e in rec.events]
    assert timestamps == sorted(timestamps)


def test_progress_alone_builds_no_node_events(monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid(monkeypatch, "NodeStarted", "NodeCompleted", "NodeSkipped", "Log")
    hook = Declared(rt.ExecutionProgress)
    rt_flows.run(hooks=hook)
    percents = [e.percent for e in hook.events]
    assert percents and percents == sorted(percents) and percents[-1] == 100.0


def test_a_failing_hook_is_reported_to_the_hooks_that_want_logs() -> None:
    class Broken:
        event_types = (rt.NodeCompleted,)

        def on_event(self, *, event: rt.Event) -> None:
            raise RuntimeError(f"cannot take {event.kind}")

    logs, completed_only = Declared(rt.Log), Declared(rt.NodeCompleted)
    out = rt_flows.run(hooks=[Broken(), logs, completed_only])
    assert out.total == EXPECTED_TOTAL
    assert len(completed_only.events) == 6
    errors = [e for e in logs.events if isinstance(e, rt.Log) and e.level == "error"]
    assert len(errors) == 6
    assert {e.node_id for e in errors} == {"src", "w0", "w1", "w2", "w3", "sink"}
    assert "hook Broken raised on node.completed: RuntimeError" in errors[0].message


def test_failures_and_skips_reach_a_hook_that_declared_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _forbid(monkeypatch, "NodeStarted", "NodeCompleted", "ExecutionProgress")
    hook = Declared(rt.NodeFailed, rt.NodeSkipped, rt.ExecutionFailed)
    with pytest.raises(NodeError):
        rt_flows.run(Inputs(fail="w1"), hooks=hook, concurrency=1)
    kinds = hook.kinds()
    assert "node.failed" in kinds and kinds[-1] == "execution.failed"
    assert set(kinds) <= {"node.failed", "node.skipped", "execution.failed"}


def test_context_logs_and_progress_are_built_only_when_wanted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bp = rt.Blueprint(
        id="one",
        name="one",
        version="1",
        source="one.yaml",
        sha256="",
        nodes=(rt.NodeInfo(id="talk", type="python", line=1, column=1),),
    )

    def body(ex: rt.Execution, inputs: object) -> None:
        ex.node_started(0)
        context = ex.context(0)
        context.progress(1, 2, "half")
        context.log("hello")
        ex.node_completed(0)
        ex.finish_progress()

    logs = Declared(rt.Log, rt.NodeProgress)
    rt.run(bp, body, None, hooks=logs)
    assert [(e.kind, getattr(e, "message", "")) for e in logs.events] == [
        ("node.progress", "half"),
        ("log", "hello"),
    ]
    _forbid(monkeypatch, "Log", "NodeProgress", "NodeStarted")
    done = Declared(rt.NodeCompleted)
    rt.run(bp, body, None, hooks=done)
    assert [e.kind for e in done.events] == ["node.completed"]


def test_trace_recorder_builds_no_node_events(monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid(monkeypatch, *PER_NODE_BUILDERS)
    recorder = rt.TraceRecorder()
    rt_flows.run(hooks=recorder, concurrency=2)
    assert recorder.trace is not None
    assert [n.status for n in recorder.trace.nodes] == ["completed"] * 6


def test_hookset_routes_and_wants() -> None:
    starts = Declared(rt.NodeStarted)
    hooks = HookSet.build([starts, Declared(rt.Log)], "run-1")
    assert hooks is not None
    assert hooks.wants(rt.NodeStarted) and hooks.wants(rt.Log)
    assert not hooks.wants(rt.NodeCompleted) and not hooks.wants(rt.ExecutionProgress)
    assert hooks.route(rt.NodeStarted) == (starts,)


def test_a_fresh_thread_has_no_scope() -> None:
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(current_scope()))
    thread.start()
    thread.join()
    assert seen == [None] and current_scope() is None
