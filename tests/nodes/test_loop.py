"""loop: forEach, times and while with real callables and a detached context."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from atomiton.errors import CancelledError
from atomiton.nodes import registry
from atomiton.nodes.loop import SPEC, LoopError, Output, Params, run
from atomiton.runtime.context import NodeContext
from compiled import run_blueprint


def ctx() -> NodeContext:
    return NodeContext.detached("loop")


def test_for_each_collects_results_in_order() -> None:
    out = run(Params(), array=[1, 2, 3], body=lambda item: item * 2, context=ctx())
    assert out == Output(results=[2, 4, 6], iteration_count=3, errors=[])


def test_empty_array_runs_zero_iterations() -> None:
    calls: list[Any] = []
    out = run(Params(), array=[], body=calls.append, context=ctx())
    assert out == Output(results=[], iteration_count=0, errors=[]) and calls == []


def test_missing_array_or_count_fails() -> None:
    with pytest.raises(LoopError, match="needs an array"):
        run(Params(), body=lambda x: x, context=ctx())
    with pytest.raises(LoopError, match="needs count"):
        run(Params(loop_type="times"), body=lambda x: x, context=ctx())


def test_times_passes_the_index() -> None:
    out = run(
        Params.model_validate({"loopType": "times", "count": 4}),
        body=lambda i: i * i,
        context=ctx(),
    )
    assert out.results == [0, 1, 4, 9] and out.iteration_count == 4


def test_concurrency_runs_at_once_and_keeps_input_order() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def body(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        # Later items finish first, so completion order is the reverse of input order.
        time.sleep(0.01 * (8 - item))
        with lock:
            running -= 1
        return item

    out = run(Params(concurrency=4), array=list(range(8)), body=body, context=ctx())
    assert out.results == list(range(8))
    assert 2 <= peak <= 4


def test_failure_names_the_iteration() -> None:
    def body(item: int) -> int:
        return 10 // item

    with pytest.raises(LoopError, match=r"iteration 2 failed: ZeroDivisionError") as info:
        run(Params(), array=[1, 2, 0, 4], body=body, context=ctx())
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(LoopError, match=r"iteration 2 failed"):
        run(Params(concurrency=3), array=[1, 2, 0, 4], body=body, context=ctx())


@pytest.mark.parametrize("concurrency", [1, 3])
def test_continue_on_error_records_errors_and_goes_on(concurrency: int) -> None:
    def body(item: int) -> int:
        if item % 3 == 0:
            raise ValueError(f"bad {item}")
        return item

    params = Params(continue_on_error=True, concurrency=concurrency)
    out = run(params, array=[0, 1, 2, 3, 4], body=body, context=ctx())
    assert out.results == [None, 1, 2, None, 4]
    assert out.iteration_count == 5
    assert out.errors == [
        {"index": 0, "error": "bad 0", "type": "ValueError"},
        {"index": 3, "error": "bad 3", "type": "ValueError"},
    ]


def test_collect_results_false_keeps_results_empty() -> None:
    out = run(Params(collect_results=False), array=[1, 2], body=lambda x: x, context=ctx())
    assert out.results == [] and out.iteration_count == 2


def test_max_iterations_guards_every_loop_type() -> None:
    with pytest.raises(LoopError, match="maxIterations"):
        run(Params(max_iterations=3), array=[1, 2, 3, 4], body=lambda x: x, context=ctx())
    with pytest.raises(LoopError, match="maxIterations"):
        run(Params(loop_type="times", count=5, max_iterations=4), body=lambda x: x, context=ctx())
    calls: list[int] = []
    with pytest.raises(LoopError, match=r"still holds after maxIterations \(5\)"):
        run(
            Params(loop_type="while", max_iterations=5),
            body=calls.append,
            condition=lambda i, last: True,
            context=ctx(),
        )
    assert calls == [0, 1, 2, 3, 4]


def test_while_sees_iteration_and_last_result() -> None:
    seen: list[tuple[int, Any]] = []

    def condition(iteration: int, last_result: Any) -> bool:
        seen.append((iteration, last_result))
        return last_result is None or last_result < 30

    out = run(
        Params(loop_type="while"), body=lambda i: (i + 1) * 10, condition=condition, context=ctx()
    )
    assert out.results == [10, 20, 30] and out.iteration_count == 3
    assert seen == [(0, None), (1, 10), (2, 20), (3, 30)]
    with pytest.raises(LoopError, match="needs a condition"):
        run(Params(loop_type="while"), body=lambda i: i, context=ctx())
    with pytest.raises(LoopError, match="condition failed before iteration 0"):
        run(
            Params(loop_type="while"), body=lambda i: i, condition=lambda i, r: 1 / 0, context=ctx()
        )


def test_progress_is_reported_per_iteration() -> None:
    reports: list[tuple[float, float | None]] = []
    context = NodeContext(
        "loop", on_progress=lambda done, total, message: reports.append((done, total))
    )
    run(Params(concurrency=2), array=list("abcd"), body=str.upper, context=context)
    assert sorted(reports) == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancellation_stops_before_the_next_iteration() -> None:
    context = ctx()
    calls: list[int] = []

    def body(item: int) -> int:
        calls.append(item)
        if item == 1:
            context.cancel()
        return item

    with pytest.raises(CancelledError):
        run(Params(), array=[0, 1, 2, 3], body=body, context=context)
    assert calls == [0, 1]


def test_spec() -> None:
    assert registry.get("loop") is SPEC
    assert SPEC.needs_context and SPEC.weight == 20
    assert SPEC.code_params["condition"].args == ("iteration", "last_result")
    assert [p.name for p in SPEC.outputs] == ["results", "iterationCount", "errors"]
    # body is validated as a path or an inline sub-blueprint.
    assert Params.model_validate({"body": {"nodes": [], "edges": []}}).body == {
        "nodes": [],
        "edges": [],
    }
    with pytest.raises(ValueError):
        Params.model_validate({"body": 3})


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_runs_the_body_per_item(tmp_path: Path) -> None:
    text = """
id: l
interface:
  inputs: [{id: items, dataType: array}]
nodes:
  - id: each
    type: loop
    parameters:
      concurrency: 2
      body:
        nodes:
          - {id: double, type: code, parameters: {code: "return data * 2"}}
edges:
  - {source: input, sourceHandle: items, target: each, targetHandle: array}
"""
    outputs = run_blueprint(tmp_path, text, "body=_rt.partial(", items=[1, 2, 3])
    assert outputs.each == [2, 4, 6]
