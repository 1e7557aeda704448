"""parallel: strategies, ordering, concurrency, failFast and timeouts with real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from atomiton.errors import CancelledError
from atomiton.nodes import registry
from atomiton.nodes.parallel import SPEC, BranchTimeoutError, Output, ParallelError, Params, run
from atomiton.runtime.context import NodeContext
from compiled import run_blueprint


def ctx() -> NodeContext:
    return NodeContext.detached("parallel")


def sleeper(seconds: float, value: Any) -> Callable[[Any], Any]:
    def branch(data: Any) -> Any:
        time.sleep(seconds)
        return value

    return branch


def failing(seconds: float, message: str) -> Callable[[Any], Any]:
    def branch(data: Any) -> Any:
        time.sleep(seconds)
        raise ValueError(message)

    return branch


def test_all_passes_data_and_keeps_branch_order() -> None:
    branches = [lambda d: d + 1, sleeper(0.05, "slow"), lambda d: d * 2]
    out = run(Params(), data=10, branches=branches, context=ctx())
    assert out == Output(results=[11, "slow", 20], completed=3, failed=0)


def test_maintain_order_false_gives_completion_order() -> None:
    branches = [sleeper(0.15, "c"), sleeper(0.0, "a"), sleeper(0.07, "b")]
    out = run(Params(maintain_order=False), branches=branches, context=ctx())
    assert out.results == ["a", "b", "c"]


def test_no_branches() -> None:
    assert run(Params(), branches=[], context=ctx()) == Output(results=[], completed=0, failed=0)


def test_concurrency_limit_is_respected() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def branch(data: Any) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    run(Params(concurrency=2), branches=[branch] * 6, context=ctx())
    assert peak == 2


def test_all_fail_fast_returns_at_the_first_failure() -> None:
    started = time.monotonic()
    with pytest.raises(ParallelError, match=r"^branch 1 failed: ValueError: boom$") as info:
        run(Params(), branches=[sleeper(0.5, 1), failing(0.01, "boom")], context=ctx())
    assert time.monotonic() - started < 0.3
    assert isinstance(info.value.__cause__, ValueError)


def test_all_without_fail_fast_reports_every_failure() -> None:
    branches = [failing(0.0, "one"), sleeper(0.02, "ok"), failing(0.01, "two")]
    with pytest.raises(
        ParallelError, match="2 branches failed: branch 0: ValueError: one; branch 2"
    ) as info:
        run(Params(fail_fast=False), branches=branches, context=ctx())
    group = info.value.__cause__
    assert isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 2


def test_all_settled_never_fails() -> None:
    out = run(
        Params(strategy="allSettled"),
        data=2,
        branches=[lambda d: d, failing(0, "no")],
        context=ctx(),
    )
    assert out.results == [
        {"index": 0, "status": "fulfilled", "value": 2},
        {"index": 1, "status": "rejected", "reason": "ValueError: no"},
    ]
    assert (out.completed, out.failed) == (1, 1)


def test_race_takes_the_first_success_without_waiting() -> None:
    started = time.monotonic()
    branches = [sleeper(0.6, "slow"), failing(0.0, "early failure"), sleeper(0.03, "fast")]
    out = run(Params(strategy="race"), branches=branches, context=ctx())
    assert out.results == ["fast"] and out.completed == 1 and out.failed == 1
    assert time.monotonic() - started < 0.4


def test_race_fails_when_every_branch_fails() -> None:
    with pytest.raises(ParallelError, match="every branch failed"):
        run(Params(strategy="race"), branches=[failing(0, "a"), failing(0, "b")], context=ctx())


def test_operation_timeout_fails_the_slow_branch() -> None:
    started = time.monotonic()
    with pytest.raises(BranchTimeoutError, match=r"branch 1 .*operationTimeout \(50 ms\)"):
        run(Params(operation_timeout=50), branches=[sleeper(0, 1), sleeper(0.8, 2)], context=ctx())
    assert time.monotonic() - started < 0.4


def test_timed_out_branch_frees_its_slot() -> None:
    # One worker; the first branch hangs past its timeout, the others must still run.
    branches = [sleeper(0.5, "stuck"), sleeper(0, "b"), sleeper(0, "c")]
    out = run(
        Params(strategy="allSettled", concurrency=1, operation_timeout=40),
        branches=branches,
        context=ctx(),
    )
    assert [r["status"] for r in out.results] == ["rejected", "fulfilled", "fulfilled"]
    assert "operationTimeout" in out.results[0]["reason"]


def test_global_timeout_settles_unfinished_branches() -> None:
    started = time.monotonic()
    params = Params.model_validate(
        {"strategy": "allSettled", "globalTimeout": 60, "concurrency": 1}
    )
    out = run(params, branches=[sleeper(0, "a"), sleeper(0.5, "b"), sleeper(0, "c")], context=ctx())
    assert time.monotonic() - started < 0.4
    assert [r["status"] for r in out.results] == ["fulfilled", "rejected", "rejected"]
    assert "globalTimeout" in out.results[2]["reason"]
    with pytest.raises(BranchTimeoutError, match="globalTimeout"):
        run(Params(global_timeout=30), branches=[sleeper(0.5, 1)], context=ctx())


def test_cancelling_the_run_stops_waiting() -> None:
    context = ctx()
    threading.Timer(0.05, context.cancel).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        run(Params(), branches=[sleeper(0.6, 1)], context=context)
    assert time.monotonic() - started < 0.4


def test_no_worker_thread_outlives_a_normal_call() -> None:
    before = {t.ident for t in threading.enumerate()}
    run(Params(), branches=[sleeper(0.01, i) for i in range(4)], context=ctx())
    leftover = [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.name.startswith("atomiton-parallel")
    ]
    assert leftover == []


def test_spec() -> None:
    assert registry.get("parallel") is SPEC
    assert SPEC.needs_context
    assert [p.name for p in SPEC.outputs] == ["results", "completed", "failed"]
    assert Params.model_validate({"branches": ["a.yaml", {"nodes": []}]}).branches == [
        "a.yaml",
        {"nodes": []},
    ]
    with pytest.raises(ValueError):
        Params.model_validate({"strategy": "any"})


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_runs_every_branch(tmp_path: Path) -> None:
    text = """
id: p
interface:
  inputs: [{id: n, dataType: integer, default: 5}]
nodes:
  - id: both
    type: parallel
    parameters:
      branches:
        - nodes: [{id: plus, type: code, parameters: {code: "return data + 1"}}]
        - nodes: [{id: times, type: code, parameters: {code: "return data * 10"}}]
edges:
  - {source: input, sourceHandle: n, target: both}
"""
    outputs = run_blueprint(tmp_path, text, "branches=[", n=5)
    assert outputs.both == [6, 50]
