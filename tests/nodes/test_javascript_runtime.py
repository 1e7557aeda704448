"""The JavaScript engine's life in a run: made on first use, closed with the run, never shared
between runs; a runaway script stopped by the node's timeout; flows without JavaScript never load
the engine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from atomiton.compiler import compile_blueprint, load_module
from atomiton.errors import NodeError
from atomiton.nodes.javascript_engine import EnginePool
from atomiton.runtime.context import NodeContext


def engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "atomiton-javascript"]


def compiled(tmp_path: Path, text: str) -> object:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text))
    return load_module(compile_blueprint(path))


COUNTER = """\
nodes:
  - id: first
    type: code
    parameters:
      runtime: javascript
      code: "globalThis.calls = (globalThis.calls || 0) + 1; return globalThis.calls"
  - id: second
    type: code
    parameters:
      runtime: javascript
      code: "return [data, typeof globalThis.calls]"
edges:
  - {source: first, target: second}
"""


def test_each_run_has_its_own_engine_closed_at_its_end(tmp_path: Path) -> None:
    module = compiled(tmp_path, COUNTER)
    before = len(engine_threads())
    for _ in range(3):
        # A global set by one run is gone in the next: no state leaks between runs. Within a run
        # the nodes share the engine (the second node sees the global).
        assert module.run().second == [1, "number"]  # type: ignore[attr-defined]
        assert len(engine_threads()) == before


def test_a_runaway_script_is_stopped_by_the_node_timeout(tmp_path: Path) -> None:
    module = compiled(
        tmp_path,
        """\
        nodes:
          - id: spin
            type: code
            parameters: {runtime: javascript, code: "while (true) {}", timeout: 300}
        """,
    )
    started = time.monotonic()
    with pytest.raises(NodeError, match="timed out after 0.3s") as raised:
        module.run()  # type: ignore[attr-defined]
    assert raised.value.node_id == "spin"
    assert time.monotonic() - started < 10
    # The script was terminated inside V8: its thread ends and the engine is closed.
    deadline = time.monotonic() + 5
    while engine_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine_threads() == []
    assert not [t for t in threading.enumerate() if t.name.startswith("atomiton-timeout")]


def test_a_failing_script_fails_its_node_with_the_item(tmp_path: Path) -> None:
    module = compiled(
        tmp_path,
        """\
        interface:
          inputs: [{id: rows, type: array}]
        nodes:
          - id: names
            type: transform
            parameters: {runtime: javascript, transformFunction: "row => row.name.toUpperCase()"}
        edges:
          - {source: input.rows, target: names}
        """,
    )
    with pytest.raises(NodeError) as raised:
        module.run(module.Inputs(rows=[{"name": "a"}, {}]))  # type: ignore[attr-defined]
    assert raised.value.node_id == "names"
    assert "item 1" in str(raised.value) and "TypeError" in str(raised.value)
    assert engine_threads() == []


def test_concurrent_calls_get_engines_of_their_own() -> None:
    from atomiton.nodes.javascript_engine import run_javascript
    from atomiton.nodes.javascript_source import function_of
    from atomiton.runtime.resources import RunResources

    context = NodeContext("n")
    context.resources = RunResources()
    slow = function_of(
        "const end = Date.now() + 300; while (Date.now() < end) {} return data", ("data",)
    )
    results: list[object] = []
    workers = [
        threading.Thread(
            target=lambda i=i: results.append(run_javascript(slow, "call", i, {}, context=context))
        )
        for i in range(2)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    assert sorted(results) == [0, 1]  # type: ignore[type-var]
    assert elapsed < 0.55, "the two scripts ran one after the other"
    context.resources.close()
    assert engine_threads() == []


def test_a_closed_pool_makes_no_engine() -> None:
    pool = EnginePool()
    pool.close()
    from atomiton.errors import CancelledError

    with pytest.raises(CancelledError):
        with pool.engine():
            pass


def test_flows_without_javascript_never_load_the_engine(tmp_path: Path) -> None:
    python_flow = tmp_path / "py.yaml"
    python_flow.write_text(
        "nodes:\n  - {id: c, type: code, parameters: {code: 'return 2'}}\n"
        "  - {id: t, type: transform, parameters: {transformFunction: 'item + 1'}}\n"
        "edges:\n  - {source: c, target: t, targetHandle: data}\n"
    )
    js_flow = tmp_path / "js.yaml"
    js_flow.write_text(
        "nodes:\n  - {id: c, type: code, parameters: {runtime: javascript, code: 'return 2'}}\n"
    )
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from atomiton.compiler import compile_blueprint, load_module

        module = load_module(compile_blueprint(Path({str(python_flow)!r})))
        try:
            module.run()
        except Exception as exc:  # a list into a number: the flow's own failure, not ours
            pass
        print("py_mini_racer" in sys.modules)
        js = compile_blueprint(Path({str(js_flow)!r}))
        # Checking the syntax loaded the engine at compile time; a fresh interpreter that only
        # imports the compiled module does not, until the node runs.
        print("compiled", "py_mini_racer" in sys.modules)
        """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == "compiled True"
    generated = tmp_path / "js_flow.py"
    generated.write_text(compile_blueprint(js_flow).code)
    script = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("js_flow", {str(generated)!r})
        module = importlib.util.module_from_spec(spec)
        sys.modules["js_flow"] = module
        spec.loader.exec_module(module)
        print("py_mini_racer" in sys.modules)
        print(module.run().c, "py_mini_racer" in sys.modules)
        """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["False", "2 True"]


def test_cancelling_the_run_stops_a_script_without_a_timeout(tmp_path: Path) -> None:
    from atomiton.errors import CancelledError
    from atomiton.runtime import CancelToken

    module = compiled(
        tmp_path,
        """\
        nodes:
          - id: spin
            type: code
            parameters: {runtime: javascript, code: "for (;;) {}"}
        """,
    )
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        module.run(cancel=token)  # type: ignore[attr-defined]
    assert time.monotonic() - started < 10
    assert engine_threads() == []


def test_arun_runs_javascript_nodes(tmp_path: Path) -> None:
    import asyncio

    module = compiled(tmp_path, COUNTER)
    outputs = asyncio.run(module.arun())  # type: ignore[attr-defined]
    assert outputs.second == [1, "number"]
    assert engine_threads() == []


def test_running_without_the_engine_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from atomiton.nodes import javascript_code
    from atomiton.nodes.javascript_engine import JavaScriptError

    # A module compiled where the extra was installed, run where it is not.
    monkeypatch.setitem(sys.modules, "py_mini_racer", None)
    with pytest.raises(JavaScriptError, match=r"pip install 'atomiton\[js\]'"):
        javascript_code.run(javascript_code.Params(code="return 1"))
    assert engine_threads() == []


def test_loop_bodies_and_parallel_branches_share_the_runs_engines(tmp_path: Path) -> None:
    module = compiled(
        tmp_path,
        """\
        interface:
          inputs:
            - {id: items, type: array}
            - {id: offset, type: number, default: 1}
        nodes:
          - id: each
            type: loop
            parameters:
              concurrency: 2
              body:
                nodes:
                  - id: square
                    type: code
                    parameters: {runtime: javascript, code: "return data * data + inputs.offset"}
          - id: both
            type: parallel
            parameters:
              branches:
                - nodes:
                    - {id: total, type: code, parameters: {runtime: javascript, code: "data.length"}}
                - nodes:
                    - id: odd
                      type: transform
                      parameters: {runtime: javascript, operation: filter, transformFunction: "n => n % 2"}
        edges:
          - {source: input.items, target: each}
          - {source: input.items, target: both}
        """,
    )
    outputs = module.run(module.Inputs(items=[1, 2, 3], offset=10))  # type: ignore[attr-defined]
    assert outputs.each == [11, 14, 19]
    assert outputs.both == [3, [1, 3]]  # branch results in branch order
    assert engine_threads() == []
