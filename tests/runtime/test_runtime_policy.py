"""The policy path (``Execution.call``): retries, on_error, process execution; and template values."""

from __future__ import annotations

import math
import os
import threading
from typing import Any

import pytest
from pydantic import BaseModel, Field
from rt_flows import Recorder

from atomiton import runtime as rt
from atomiton.errors import NodeError


def _bp(*nodes: rt.NodeInfo) -> rt.Blueprint:
    return rt.Blueprint(
        id="pol", name="pol", version="1", source="pol.yaml", sha256="", nodes=nodes
    )


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, value: int) -> int:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise ConnectionError(f"attempt {self.calls} failed")
        return value * 2


def test_retries_until_success() -> None:
    bp = _bp(
        rt.NodeInfo(id="get", type="http-request", line=3, column=5, retries=3, retry_delay=0.01)
    )
    flaky = Flaky(2)
    rec = Recorder()
    assert rt.run(bp, lambda ex, v: ex.call(0, flaky, v), 21, hooks=rec) == 42
    assert flaky.calls == 3
    retrying = rec.of(rt.NodeRetrying)
    assert [e.attempt for e in retrying] == [1, 2]
    assert retrying[1].delay >= retrying[0].delay * 0.9 or retrying[1].delay >= 0.01
    assert [e.attempt for e in rec.of(rt.NodeStarted)] == [1, 2, 3]
    assert rec.of(rt.NodeCompleted)[0].attempts == 3


def test_retries_exhausted_fail_with_node_error() -> None:
    bp = _bp(
        rt.NodeInfo(id="get", type="http-request", line=3, column=5, retries=2, retry_delay=0.01)
    )
    flaky = Flaky(10)
    with pytest.raises(NodeError) as info:
        rt.run(bp, lambda ex, v: ex.call(0, flaky, v), 1)
    assert flaky.calls == 3
    assert info.value.node_id == "get" and "attempt 3 failed" in str(info.value)


def test_retry_delay_backs_off_with_jitter() -> None:
    from atomiton.runtime.policy import retry_delay

    for attempt in (1, 2, 3, 4):
        d = retry_delay(1.0, attempt)
        assert 2 ** (attempt - 1) / 2 <= d <= 2 ** (attempt - 1)
    assert retry_delay(10.0, 30) <= 60.0


def test_on_error_continue_returns_none() -> None:
    bp = _bp(
        rt.NodeInfo(id="bad", type="code", line=3, column=5, on_error="continue"),
        rt.NodeInfo(id="after", type="code", line=6, column=5),
    )
    rec = Recorder()

    def body(ex: rt.Execution, inputs: None) -> tuple[Any, Any]:
        first = ex.call(0, lambda: 1 / 0)
        ex.call(1, lambda: "fine")
        return first, ex.node_error(0)

    first, error = rt.run(bp, body, None, hooks=rec)
    assert first is None and isinstance(error, ZeroDivisionError)
    failed = rec.of(rt.NodeFailed)
    assert failed[0].handled and failed[0].node_id == "bad"
    assert rec.kinds()[-1] == "execution.completed"
    assert rec.of(rt.ExecutionProgress)[-1].percent == 100.0


def test_process_execution_runs_in_a_worker_process() -> None:
    bp = _bp(rt.NodeInfo(id="img", type="image", line=3, column=5, execution="process"))
    assert rt.run(bp, lambda ex, n: ex.call(0, math.factorial, n), 20) == math.factorial(20)
    assert rt.run(bp, lambda ex, n: ex.call(0, os.getpid), 0) != os.getpid()


def test_process_execution_reports_unpicklable_data() -> None:
    bp = _bp(rt.NodeInfo(id="img", type="image", line=3, column=5, execution="process"))
    lock = threading.Lock()
    with pytest.raises(NodeError, match="cannot send the call to a worker process") as info:
        rt.run(bp, lambda ex, n: ex.call(0, repr, lock), 0)
    assert info.value.node_id == "img" and info.value.line == 3


def test_node_context_progress_and_log_become_events() -> None:
    bp = _bp(rt.NodeInfo(id="loop", type="loop", line=3, column=5))
    rec = Recorder()

    def body(ex: rt.Execution, inputs: None) -> None:
        ex.node_started(0)
        ctx = ex.context(0)
        for k in range(4):
            ctx.progress(k + 1, 4, f"item {k}")
        ctx.log("halfway", level="warning")
        ex.node_completed(0)

    rt.run(bp, body, None, hooks=rec)
    assert [e.fraction for e in rec.of(rt.NodeProgress)] == [0.25, 0.5, 0.75, 1.0]
    percents = [e.percent for e in rec.of(rt.ExecutionProgress)]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert [(e.message, e.level, e.node_id) for e in rec.of(rt.Log)] == [
        ("halfway", "warning", "loop")
    ]


# -- template values ------------------------------------------------------------------------------


class User(BaseModel):
    name: str
    out_path: str = Field(default="x", alias="outPath")


def test_text_renders_parts() -> None:
    assert rt.text("Hello, ", "world", "!") == "Hello, world!"
    assert rt.text("n=", 3, " ok=", True, " none=", None) == "n=3 ok=True none=None"
    assert rt.text("d=", {"a": [1, None]}) == 'd={"a": [1, null]}'
    assert rt.text(b"caf\xc3\xa9") == "café"


def test_lookup_follows_keys_indexes_attributes() -> None:
    data = {"user": {"tags": ["a", "b"]}, "model": User(name="ann", outPath="p")}
    assert rt.lookup(data, ("user", "tags", 1), "inputs.user.tags[1]") == "b"
    assert rt.lookup(data, ("model", "name"), "inputs.model.name") == "ann"
    assert rt.lookup(data, ("model", "outPath"), "inputs.model.outPath") == "p"


def test_lookup_missing_key_names_the_path() -> None:
    with pytest.raises(KeyError) as info:
        rt.lookup({"user": {"name": "x"}}, ("user", "nmae"), "inputs.user.nmae")
    assert str(info.value).startswith("template 'inputs.user.nmae': no key 'nmae'")
    with pytest.raises(KeyError, match="out of range"):
        rt.lookup({"a": [1]}, ("a", 3), "inputs.a[3]")
    with pytest.raises(KeyError, match="no key 'zz'"):
        rt.lookup(User(name="a"), ("zz",), "inputs.zz")


def test_now_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = rt.now()
    assert stamp.endswith("Z") and "T" in stamp
    monkeypatch.setenv("ATOMITON_TEST_VAR", "v")
    assert rt.env("ATOMITON_TEST_VAR") == "v"
    monkeypatch.delenv("ATOMITON_TEST_VAR")
    with pytest.raises(KeyError, match="ATOMITON_TEST_VAR"):
        rt.env("ATOMITON_TEST_VAR")


def test_public_surface() -> None:
    assert sorted(rt.__all__) == sorted(set(rt.__all__))
    for name in rt.__all__:
        assert hasattr(rt, name), name


def test_runtime_imports_no_build_time_packages() -> None:
    import subprocess
    import sys

    code = (
        "import sys, atomiton.runtime; "
        "bad = [m for m in ('yaml', 'jinja2', 'black', 'mypy', 'click', 'rich', 'atomiton.compiler', "
        "'atomiton.cli', 'atomiton.nodes') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
