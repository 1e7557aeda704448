"""Pins and injected failures through a compiled flow's ``run(pins=..., fail=...)``.

Each python node appends a line to a file in ``tmp_path`` when it really runs, so a test sees
which nodes were called; pinned nodes must never be, and what they hand downstream is the pin.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from atomiton import runtime as rt
from atomiton.compiler import CompileOptions, compile_blueprint, load_module
from atomiton.errors import NodeError

COUNTER = """
from pathlib import Path

LOG = Path({log!r})


def _note(name: str) -> None:
    with LOG.open("a") as f:
        f.write(name + "\\n")


def fetch(data: int) -> dict[str, int]:
    _note("fetch")
    return {{"n": data * 10}}


def double(data: dict[str, int]) -> int:
    _note("double")
    return data["n"] * 2


def shout(data: str) -> str:
    _note("shout")
    return data.upper()


def upload(data: int) -> str:
    _note("upload")
    return f"uploaded {{data}}"
"""


@pytest.fixture
def counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A module of python node functions that log each real call to ``calls.log``."""
    name = f"pinscounter_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(COUNTER.format(log=str(tmp_path / "calls.log")))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield module
    sys.modules.pop(name, None)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().split() if log.exists() else []


def compiled(tmp_path: Path, text: str) -> ModuleType:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text))
    options = CompileOptions(root=tmp_path, search_path=(), store=tmp_path / "store")
    return load_module(compile_blueprint(path, options=options))


def chain(counter: str) -> str:
    return f"""
        id: chain
        variables:
          x: {{type: integer, defaultValue: 2}}
        nodes:
          - id: fetch
            type: python
            function: '{counter}:fetch'
            outputPorts: [{{id: out, dataType: object}}]
          - id: double
            type: python
            function: '{counter}:double'
            outputPorts: [{{id: out, dataType: integer}}]
          - id: upload
            type: python
            function: '{counter}:upload'
            outputPorts: [{{id: out, dataType: string}}]
        edges:
          - {{source: input, sourceHandle: x, target: fetch}}
          - {{source: fetch, target: double}}
          - {{source: double, target: upload}}
          - {{source: upload, target: output, targetHandle: result}}
          - {{source: double, target: output, targetHandle: doubled}}
        """


class Collect:
    """A hook keeping every ``node.completed`` event."""

    def __init__(self) -> None:
        self.completed: list[rt.NodeCompleted] = []

    def on_event(self, event: rt.Event) -> None:
        if isinstance(event, rt.NodeCompleted):
            self.completed.append(event)


def test_a_pinned_node_is_never_called_and_downstream_sees_its_value(
    tmp_path: Path, counter: ModuleType
) -> None:
    module = compiled(tmp_path, chain(counter.__name__))
    assert module.run().result == "uploaded 40"
    assert calls(tmp_path) == ["fetch", "double", "upload"]
    (tmp_path / "calls.log").unlink()

    hook = Collect()
    out = module.run(pins={"fetch": {"n": 7}}, hooks=hook)
    assert calls(tmp_path) == ["double", "upload"]
    assert out.doubled == 14 and out.result == "uploaded 14"
    supplied = {event.node_id: event.supplied for event in hook.completed}
    assert supplied == {"fetch": "pinned", "double": None, "upload": None}


def test_pins_without_hooks_and_from_asyncio(tmp_path: Path, counter: ModuleType) -> None:
    import asyncio

    module = compiled(tmp_path, chain(counter.__name__))
    assert module.run(pins={"double": 5}).result == "uploaded 5"
    assert calls(tmp_path) == ["fetch", "upload"]
    out = asyncio.run(module.arun(pins={"fetch": {"n": 1}, "double": 3}))
    assert out.result == "uploaded 3"
    assert calls(tmp_path) == ["fetch", "upload", "upload"]


def test_pins_are_validated_against_the_output_type_before_the_run(
    tmp_path: Path, counter: ModuleType
) -> None:
    module = compiled(tmp_path, chain(counter.__name__))
    with pytest.raises(rt.PinError, match="'double'.*integer|'double'.*int") as info:
        module.run(pins={"double": "not a number"})
    assert info.value.node_id == "double"
    with pytest.raises(rt.PinError, match="no node.*'chain'.*fetchh") as unknown:
        module.run(pins={"fetchh": {}})
    assert unknown.value.node_id == "fetchh"
    with pytest.raises(rt.PinError, match="fail of node 'upload' must be an exception"):
        module.run(fail={"upload": "boom"})
    assert calls(tmp_path) == []  # nothing ran: every check comes before the first node
    # A pin converted by its type: "12" is an integer for an integer output, as in Inputs.
    assert module.run(pins={"double": "12"}).doubled == 12


def test_fail_makes_a_node_fail_as_if_it_had(tmp_path: Path, counter: ModuleType) -> None:
    module = compiled(tmp_path, chain(counter.__name__))
    with pytest.raises(NodeError, match="node 'upload'.*TimeoutError.*slow network") as info:
        module.run(fail={"upload": TimeoutError("slow network")})
    assert info.value.node_id == "upload"
    assert calls(tmp_path) == ["fetch", "double"]


def test_fail_drives_an_on_error_branch_and_every_retry(
    tmp_path: Path, counter: ModuleType
) -> None:
    module = compiled(
        tmp_path,
        f"""
        id: branchy
        variables:
          x: {{type: integer, defaultValue: 1}}
        nodes:
          - id: upload
            type: python
            function: '{counter.__name__}:upload'
            outputPorts: [{{id: out, dataType: string}}]
            parameters: {{retries: 2, retryDelay: 10, onError: branch}}
          - id: fallback
            type: code
            parameters: {{code: "return 'fallback: ' + data['message']"}}
        edges:
          - {{source: input, sourceHandle: x, target: upload}}
          - {{source: upload, sourceHandle: error, target: fallback}}
          - {{source: fallback, target: output, targetHandle: result}}
        """,
    )
    attempts: list[int] = []

    class Attempts:
        def on_event(self, event: rt.Event) -> None:
            if isinstance(event, rt.NodeStarted) and event.node_id == "upload":
                attempts.append(event.attempt)

    out = module.run(fail={"upload": ConnectionError("refused")}, hooks=Attempts())
    assert out.result == "fallback: refused"
    assert attempts == [1, 2, 3]  # every attempt failed as the pin said
    assert calls(tmp_path) == []


def test_pins_inside_a_loop_body_pin_every_item(tmp_path: Path, counter: ModuleType) -> None:
    module = compiled(
        tmp_path,
        f"""
        id: each
        variables:
          words: {{type: array, defaultValue: [a, b, c]}}
        nodes:
          - id: each
            type: loop
            parameters:
              concurrency: 2
              body:
                nodes:
                  - {{id: up, type: python, function: '{counter.__name__}:shout'}}
                edges:
                  - {{source: input, sourceHandle: item, target: up}}
                  - {{source: up, target: output, targetHandle: value}}
        edges:
          - {{source: input, sourceHandle: words, target: each, targetHandle: array}}
          - {{source: each, target: output, targetHandle: all}}
        """,
    )
    assert module.run().all == ["A", "B", "C"]
    assert sorted(calls(tmp_path)) == ["shout"] * 3
    (tmp_path / "calls.log").unlink()
    body_node = next(info.id for info in module.BLUEPRINT.nodes if info.id.endswith("up"))
    hook = Collect()
    assert module.run(pins={body_node: "PINNED"}, hooks=hook).all == ["PINNED"] * 3
    assert calls(tmp_path) == []
    assert [e.supplied for e in hook.completed if e.node_id == body_node] == ["pinned"] * 3


def test_a_pinned_process_node_stays_in_this_process(tmp_path: Path, counter: ModuleType) -> None:
    module = compiled(
        tmp_path,
        f"""
        id: proc
        variables:
          x: {{type: integer, defaultValue: 1}}
        nodes:
          - id: fetch
            type: python
            function: '{counter.__name__}:fetch'
            parameters: {{execution: process, onError: continue}}
            outputPorts: [{{id: out, dataType: object}}]
          - {{id: double, type: python, function: '{counter.__name__}:double'}}
        edges:
          - {{source: input, sourceHandle: x, target: fetch}}
          - {{source: fetch, target: double}}
          - {{source: double, target: output, targetHandle: result}}
        """,
    )
    out = module.run(pins={"fetch": {"n": 4}}, fail=None)
    assert out.result == 8
    assert calls(tmp_path) == ["double"]
    # An injected failure goes through the process node's policy without a worker process.
    with pytest.raises(NodeError, match="'double'"):  # its input is None: fetch failed
        module.run(fail={"fetch": ValueError("nope")})
    assert calls(tmp_path) == ["double", "double"]


class Recording:
    """A supplier as a cache would be: it serves what it saw and is told what ran."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, str], object] = {}
        self.keys: dict[int, tuple[Any, ...]] = {}
        self.completed_values: list[tuple[str, object]] = []

    def supply(self, node: rt.NodeInfo, index: int, key: tuple[Any, ...]) -> rt.Supplied | None:
        self.keys[index] = key
        value = self.seen.get((index, repr(key)))
        return None if value is None else rt.Supplied(value, "cached")

    def bind(self, ex: object) -> None:
        pass

    def completed(self, node: rt.NodeInfo, index: int, value: object) -> None:
        self.completed_values.append((node.id, value))
        self.seen[(index, repr(self.keys[index]))] = value


def test_a_supplier_sees_each_call_key_and_the_values_of_nodes_that_ran(
    tmp_path: Path, counter: ModuleType
) -> None:
    from atomiton.runtime.execution import Execution
    from atomiton.runtime.supply import Supply

    module = compiled(tmp_path, chain(counter.__name__))
    recording = Recording()

    def run_once(x: int) -> Any:
        ex = Execution(module.BLUEPRINT, supply=Supply([recording]))
        assert ex.slow
        return module._execute(ex, module.Inputs(x=x))

    assert run_once(2).result == "uploaded 40"
    # The key of each call: what it reads, upstream values or the flow's inputs.
    index = {info.id: i for i, info in enumerate(module.BLUEPRINT.nodes)}
    assert recording.keys[index["fetch"]] == (2,)
    assert recording.keys[index["double"]] == ({"n": 20},)
    assert [name for name, _ in recording.completed_values] == ["fetch", "double", "upload"]
    assert run_once(2).result == "uploaded 40"
    assert calls(tmp_path) == ["fetch", "double", "upload"]  # the second run was all supplied
    assert run_once(3).result == "uploaded 60"
    assert calls(tmp_path)[3:] == ["fetch", "double", "upload"]
