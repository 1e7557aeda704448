"""Runs of hand-written flows: results, events, progress, errors, skipped nodes, hooks."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import rt_flows
from rt_flows import EXPECTED_TOTAL, Inputs, Recorder

from atomiton import runtime as rt
from atomiton.errors import NodeError


def test_plain_run_returns_outputs() -> None:
    out = rt_flows.run()
    assert out.total == EXPECTED_TOTAL
    assert out.parts == [10, 11, 12, 13]


def test_event_order_and_progress() -> None:
    rec = Recorder()
    rt_flows.run(hooks=rec)
    kinds = rec.kinds()
    assert kinds[0] == "execution.started"
    assert kinds[-1] == "execution.completed"
    # every node starts before it completes, src first and sink last
    node_events = [(e.kind, e.node_id) for e in rec.of(rt.NodeEvent)]
    assert node_events[:2] == [("node.started", "src"), ("node.completed", "src")]
    assert node_events[-2:] == [("node.started", "sink"), ("node.completed", "sink")]
    for node in ("w0", "w1", "w2", "w3"):
        assert node_events.index(("node.started", node)) < node_events.index(
            ("node.completed", node)
        )
    percents = [e.percent for e in rec.of(rt.ExecutionProgress)]
    assert percents == sorted(percents) and len(set(percents)) == len(percents)
    assert percents[-1] == 100.0
    assert all(p < 100.0 for p in percents[:-1])
    # src weighs 80 of 80 + 4*100 + 50
    assert percents[0] == pytest.approx(100 * 80 / 530)


def test_events_are_json_ready() -> None:
    rec = Recorder()
    rt_flows.run(hooks=rec)
    for event in rec.events:
        data = rt.event_to_dict(event)
        assert data["event"] == event.kind
        assert isinstance(data["timestamp"], float)
        json.dumps(data)
    with pytest.raises(TypeError):
        rt.event_to_dict(object())


def test_events_are_frozen() -> None:
    rec = Recorder()
    rt_flows.run(hooks=rec)
    with pytest.raises(AttributeError):
        rec.events[0].run_id = 3  # type: ignore[misc]


def test_node_error_names_the_node() -> None:
    with pytest.raises(NodeError) as info:
        rt_flows.run(Inputs(fail="w3"))
    err = info.value
    assert (err.node_id, err.node_type, err.source, err.line, err.column) == (
        "w3",
        "python",
        "tests/sub.yaml",
        17,
        5,
    )
    assert isinstance(err.__cause__, ValueError)
    assert "boom in w3" in str(err)


def test_failure_reports_failed_and_skipped_nodes() -> None:
    rec = Recorder()
    with pytest.raises(NodeError):
        rt_flows.run(Inputs(fail="w1", delay=0.05), hooks=rec, concurrency=1)
    failed = rec.of(rt.NodeFailed)
    assert [e.node_id for e in failed] == ["w1"]
    skipped = {e.node_id for e in rec.of(rt.NodeSkipped)}
    assert "sink" in skipped
    assert skipped.isdisjoint({"src", "w0", "w1"})  # w0 ran before w1 with concurrency 1
    assert rec.kinds()[-1] == "execution.failed"
    final = rec.of(rt.ExecutionFailed)[0]
    assert final.node_id == "w1" and final.error_type == "NodeError"
    percents = [e.percent for e in rec.of(rt.ExecutionProgress)]
    assert percents == sorted(percents) and 100.0 not in percents


def test_first_failure_cancels_running_siblings() -> None:
    rec = Recorder()
    with pytest.raises(NodeError) as info:
        # w0 fails at once; the others wait 5 s interruptibly and must be cut short.
        rt_flows.run(Inputs(fail="w0", delay=0.0), hooks=rec)
    assert info.value.node_id == "w0"


def test_several_failures_make_an_exception_group() -> None:
    def both(ex: rt.Execution, s: Any) -> None:
        raise ValueError("a")

    def other(ex: rt.Execution, s: Any) -> None:
        raise KeyError("b")

    gate = threading.Barrier(2)

    def wait_then(fn: Any) -> Any:
        def task(ex: rt.Execution, s: Any) -> None:
            gate.wait(5)  # both are running before either fails
            fn(ex, s)

        return task

    tasks = (rt.Task(wait_then(both), mode="thread"), rt.Task(wait_then(other), mode="thread"))
    bp = rt.Blueprint(id="g", name="g", version="1", source="g.yaml", sha256="", nodes=())
    with pytest.raises(ExceptionGroup) as info:
        rt.run(bp, lambda ex, inputs: ex.run_tasks(tasks, None), None)
    assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]


def test_raising_hook_never_fails_the_run() -> None:
    class Bad:
        def on_event(self, *, event: rt.Event) -> None:
            raise RuntimeError("hook broke")

    rec = Recorder()
    out = rt_flows.run(hooks=[Bad(), rec])
    assert out.total == EXPECTED_TOTAL
    logs = [e for e in rec.of(rt.Log) if e.level == "error"]
    assert logs and "hook broke" in logs[0].message
    assert rec.kinds()[-1] == "execution.completed"


def test_base_hooks_dispatch_typed_methods() -> None:
    seen: list[str] = []

    class Mine(rt.BaseHooks):
        def on_node_completed(self, *, event: rt.NodeCompleted) -> None:
            seen.append(event.node_id)

        def on_execution_completed(self, *, event: rt.ExecutionCompleted) -> None:
            seen.append("done")

    subs = rt.Subscriptions().on(rt.NodeStarted, lambda e: seen.append("start:" + e.node_id))
    rt_flows.run(hooks=(Mine(), subs), concurrency=1)
    assert seen[-1] == "done"
    assert sorted(s for s in seen if not s.startswith("start:") and s != "done") == sorted(
        ["src", "w0", "w1", "w2", "w3", "sink"]
    )
    assert seen.count("start:src") == 1


def test_no_hooks_builds_no_events(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("an event was built")

    for name in ("node_started_event", "node_completed_event", "ExecutionProgress"):
        monkeypatch.setattr(f"atomiton.runtime.reporting.{name}", explode)
    assert rt_flows.run().total == EXPECTED_TOTAL


def test_fast_path_is_not_slow() -> None:
    seen: list[bool] = []
    bp = rt.Blueprint(id="one", name="one", version="1", source="one.yaml", sha256="", nodes=())
    rt.run(bp, lambda ex, inputs: seen.append(ex.slow), None)
    rt.run(bp, lambda ex, inputs: seen.append(ex.slow), None, cancel=rt.CancelToken())
    rt.run(bp, lambda ex, inputs: seen.append(ex.slow), None, timeout=5)
    rt.run(bp, lambda ex, inputs: seen.append(ex.slow), None, hooks=Recorder())
    assert seen == [False, False, True, True]


def test_trace_has_timings_and_critical_path() -> None:
    recorder = rt.TraceRecorder()
    rt_flows.run(Inputs(delay=0.02), hooks=recorder, concurrency=2)
    trace = recorder.trace
    assert trace is not None
    assert [n.node_id for n in trace.nodes] == ["src", "w0", "w1", "w2", "w3", "sink"]
    for node in trace.nodes:
        assert node.status == "completed" and node.attempts == 1
        assert node.duration is not None and node.duration >= 0
    assert trace.node("w0").duration >= 0.015  # type: ignore[operator]
    path = trace.critical_path
    assert path[0] == "src" and path[-1] == "sink" and len(path) >= 3
    json.dumps(trace.to_dict())


def test_trace_kept_on_run_control() -> None:
    control = rt.RunControl()
    rt.run(rt_flows.BLUEPRINT, rt_flows._execute, Inputs(), cancel=control, trace=True)
    assert control.last_trace is not None
    assert control.last_trace.critical_path[-1] == "sink"


def test_disabled_node_is_skipped() -> None:
    bp = rt.Blueprint(
        id="d",
        name="d",
        version="1",
        source="d.yaml",
        sha256="",
        nodes=(rt.NodeInfo(id="off", type="code", line=1, column=1, enabled=False),),
    )

    def body(ex: rt.Execution, inputs: None) -> str:
        # off: code (d.yaml:1:1) - disabled
        if ex.slow:
            ex.node_skipped(0)
        return "ok"

    rec = Recorder()
    assert rt.run(bp, body, None, hooks=rec) == "ok"
    skipped = rec.of(rt.NodeSkipped)
    assert [(e.node_id, e.reason) for e in skipped] == [("off", "disabled")]
    assert rec.of(rt.ExecutionProgress)[-1].percent == 100.0


def test_nested_node_error_passes_through() -> None:
    bp = rt.Blueprint(
        id="n",
        name="n",
        version="1",
        source="n.yaml",
        sha256="",
        nodes=(
            rt.NodeInfo(id="loop", type="loop", line=1, column=1),
            rt.NodeInfo(id="loop.inner", type="code", line=4, column=3),
        ),
    )

    def body(ex: rt.Execution, inputs: None) -> None:
        try:
            try:
                raise ZeroDivisionError("inner")
            except Exception as exc:
                ex.node_failed(1, exc)
        except Exception as exc:
            ex.node_failed(0, exc)

    with pytest.raises(NodeError) as info:
        rt.run(bp, body, None)
    assert info.value.node_id == "loop.inner"


def test_two_hundred_concurrent_runs_are_separate() -> None:
    def one(x: int) -> tuple[int, int]:
        out = rt_flows.run(Inputs(x=x, delay=0.001), concurrency=2)
        return x, out.total

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(200)))
    for x, total in results:
        assert total == 4 * 10 * x + 6


def test_two_hundred_concurrent_runs_with_shared_hook() -> None:
    rec = Recorder()
    lock = threading.Lock()

    class Locked:
        def on_event(self, *, event: rt.Event) -> None:
            with lock:
                rec.on_event(event=event)

    with ThreadPoolExecutor(max_workers=20) as pool:
        totals = list(
            pool.map(lambda x: rt_flows.run(Inputs(x=x), hooks=Locked()).total, range(200))
        )
    assert totals == [40 * x + 6 for x in range(200)]
    completed = rec.of(rt.ExecutionCompleted)
    assert len({e.run_id for e in completed}) == 200


def test_task_cycle_is_reported() -> None:
    tasks = (rt.Task(lambda ex, s: None, after=(1,)), rt.Task(lambda ex, s: None, after=(0,)))
    bp = rt.Blueprint(id="c", name="c", version="1", source="c.yaml", sha256="", nodes=())
    with pytest.raises(RuntimeError, match="cycle"):
        rt.run(bp, lambda ex, inputs: ex.run_tasks(tasks, None), None)
