"""W0250: a value that cannot be pickled, crossing tasks of a flow meant for a Dask cluster."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from atomiton import codes
from atomiton.compiler import compile_blueprint, load_module

STREAMS = """\
id: streams
settings:
  runtime: {{executor: {executor}}}
interface:
  outputs:
    - {{id: rows, dataType: any}}
    - {{id: gen, dataType: any}}
    - {{id: total, dataType: any}}
nodes:
  - id: read
    type: spreadsheet
    parameters: {{operation: read, path: t.csv, stream: true}}
  - id: count
    type: code
    parameters: {{code: "return sum(1 for _ in data)"}}
  - id: numbers
    type: code
    parameters:
      code: |
        return (i for i in range(3))
  - id: listed
    type: code
    parameters: {{code: "return list(data)"}}
edges:
  - {{source: read, sourceHandle: records, target: count}}
  - {{source: read, sourceHandle: records, target: output, targetHandle: rows}}
  - {{source: numbers, target: listed}}
  - {{source: numbers, target: output, targetHandle: gen}}
  - {{source: count, target: output, targetHandle: total}}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    return tmp_path


def _compile(folder: Path, text: str, name: str = "flow.yaml") -> list[str]:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return [w.format() for w in compile_blueprint(path).warnings]


@pytest.mark.parametrize("executor", ["dask", "tcp://127.0.0.1:8786"])
def test_unpicklable_outputs_that_leave_their_task_warn_at_their_node(
    folder: Path, executor: str
) -> None:
    found = _compile(folder, STREAMS.format(executor=executor))
    assert len(found) == 2, found
    stream, generator = found
    assert stream.startswith(f"flow.yaml:10:5: warning[{codes.UNPICKLABLE_OUTPUT}]: ")
    assert "node 'read': output 'records' is a stream (stream: true)" in stream
    assert "the caller as output 'rows'" in stream and repr(executor) in stream
    assert "hint: read it into a list" in stream
    assert generator.startswith(f"flow.yaml:16:5: warning[{codes.UNPICKLABLE_OUTPUT}]: ")
    assert "node 'numbers': output 'result' is a generator" in generator


@pytest.mark.parametrize("executor", ["threads", "dask-threads"])
def test_executors_inside_this_process_pickle_nothing_and_warn_of_nothing(
    folder: Path, executor: str
) -> None:
    assert _compile(folder, STREAMS.format(executor=executor)) == []


def test_no_executor_setting_means_no_check(folder: Path) -> None:
    text = STREAMS.format(executor="dask").replace("settings:\n  runtime: {executor: dask}\n", "")
    assert "settings" not in text
    assert _compile(folder, text) == []


def test_the_flagged_values_really_do_not_pickle(folder: Path) -> None:
    """What the warning predicts, checked on the values a local run returns."""
    path = folder / "local.yaml"
    path.write_text(STREAMS.format(executor="threads"), encoding="utf-8")
    outputs = load_module(compile_blueprint(path)).run()
    assert outputs.total == 2
    for value in (outputs.rows, outputs.gen):
        with pytest.raises(TypeError, match="pickle"):
            pickle.dumps(value)


def test_a_stream_read_within_its_own_chain_is_not_reported(folder: Path) -> None:
    found = _compile(
        folder,
        """\
        id: chain
        settings:
          runtime: {executor: dask}
        nodes:
          - id: read
            type: spreadsheet
            parameters: {operation: read, path: t.csv, stream: true}
          - id: count
            type: code
            parameters: {code: "return sum(1 for _ in data)"}
        edges:
          - {source: read, sourceHandle: records, target: count}
        """,
    )
    assert found == []


def test_a_stream_read_by_two_nodes_names_the_node_in_another_task(folder: Path) -> None:
    found = _compile(
        folder,
        """\
        id: fan
        settings:
          runtime: {executor: dask}
        nodes:
          - id: read
            type: spreadsheet
            parameters: {operation: read, path: t.csv, stream: true}
          - id: first
            type: code
            parameters: {code: "return next(iter(data))"}
          - id: second
            type: code
            parameters: {code: "return sum(1 for _ in data)"}
        edges:
          - {source: read, sourceHandle: records, target: first}
          - {source: read, sourceHandle: records, target: second}
        """,
    )
    assert len(found) == 1 and "travels to node '" in found[0]


def test_code_returning_an_open_file(folder: Path) -> None:
    found = _compile(
        folder,
        """\
        id: handle
        settings:
          runtime: {executor: dask}
        interface:
          outputs:
            - {id: file, dataType: any}
        nodes:
          - id: opened
            type: code
            parameters: {code: "return open('t.csv')"}
        edges:
          - {source: opened, target: output, targetHandle: file}
        """,
    )
    assert len(found) == 1 and "output 'result' is an open file" in found[0]


PYTHON_NODE = """\
id: py
settings:
  runtime: {{executor: dask}}
variables:
  text: {{type: string, defaultValue: a}}
interface:
  outputs:
    - {{id: out, dataType: any}}
nodes:
  - id: call
    type: python
    function: "userfns_daskc:{name}"
    inputPorts: [{{id: text, dataType: string}}]
    outputPorts: [{{id: value, dataType: any}}]
edges:
  - {{source: input, sourceHandle: text, target: call, targetHandle: text}}
  - {{source: call, target: output, targetHandle: out}}
"""


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("numbers", "a generator (the function yields)"),
        ("lines", "an iterator"),
        ("handle", "an open file"),
        ("plain", None),
    ],
)
def test_python_node_functions_are_read_from_their_source(
    folder: Path, name: str, kind: str | None
) -> None:
    (folder / "userfns_daskc.py").write_text(
        textwrap.dedent("""\
            from collections.abc import Iterator
            from typing import IO


            def numbers(text: str) -> list[int]:
                yield 1


            def lines(text: str) -> Iterator[str]:
                return iter(["a"])


            def handle(text: str) -> IO[str] | None:
                return open("t.csv")


            def plain(text: str) -> list[int]:
                def inner():
                    yield 1  # a nested generator is not the function's result

                return list(inner())
            """),
        encoding="utf-8",
    )
    found = _compile(folder, PYTHON_NODE.format(name=name))
    if kind is None:
        assert found == []
    else:
        assert len(found) == 1 and f"output 'value' is {kind}" in found[0], found
