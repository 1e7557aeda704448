"""The fold itself: detection, the ``dialect`` key, positions carried into the original text,
and the readings that the corpus does not show (wraps, times loops, bodies fed from outside)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dialect_support import ALL_FILES, DATA, compile_flow, run_flow

from atomiton.compiler.dialects.detect import detect
from atomiton.compiler.source import parse_source
from atomiton.diagnostics import DiagnosticSink
from atomiton.errors import BlueprintError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _data(path: Path) -> dict[str, object]:
    data = parse_source(path.read_text(), path, path.name, DiagnosticSink()).data
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_atomiton_files_are_detected(path: Path) -> None:
    assert detect(_data(path)) == "atomiton"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_native_examples_stay_native(path: Path) -> None:
    assert detect(_data(path)) == "native"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _codes(tmp_path: Path, path: Path) -> list[str]:
    try:
        compiled = compile_flow(path, tmp_path)
    except BlueprintError as exc:
        return [f"{d.code}@{d.span.line}:{d.span.column}" for d in exc.diagnostics if d.span]
    return [f"{d.code}@{d.span.line}:{d.span.column}" for d in compiled.warnings if d.span]


def test_warnings_point_into_the_original_text(tmp_path: Path) -> None:
    compiled = compile_flow(DATA / "image-processor.flow.yaml", tmp_path)
    lines = (DATA / "image-processor.flow.yaml").read_text().splitlines()
    renamed = [w for w in compiled.warnings if w.code == "W1002" and "'filePath'" in w.message]
    assert renamed
    for warning in renamed:
        assert warning.span is not None and warning.span.line is not None
        line = lines[warning.span.line - 1]
        assert line.strip().startswith("filePath:")
        assert line[(warning.span.column or 1) - 1 :].startswith('"/images/')


def test_dialect_native_keeps_the_strict_rules(tmp_path: Path) -> None:
    text = "dialect: native\n" + (DATA / "hello-world.flow.yaml").read_text()
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    codes = _codes(tmp_path, path)
    assert any(code.startswith("E0402") for code in codes)  # type: input read as a data type


def test_dialect_atomiton_forces_the_fold(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        dialect: atomiton
        nodes:
          - id: read
            type: file-system
            parameters: {operation: exists, filePath: nowhere.txt}
        """,
    )
    assert _codes(tmp_path, path) == ["W1002@5:47"]
    assert run_flow(path, tmp_path) == {"read": False}


def test_unknown_dialect_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "dialect: atomic\nnodes: []\n")
    assert _codes(tmp_path, path) == ["E1001@1:10"]


def test_object_into_array_is_a_one_item_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        type: composite
        nodes:
          - id: make
            type: edit-fields
            data: {values: {n: 3}, keepOnlySet: true}
          - id: keep
            type: transform
            data: {operation: filter, transformFunction: "item['n'] > 1"}
        edges:
          - {id: e1, source: {nodeId: make, portId: result}, target: {nodeId: keep, portId: data}}
        """,
    )
    assert "W1008@10:5" in _codes(tmp_path, path)
    assert run_flow(path, tmp_path) == {"keep": [{"n": 3}]}


def test_times_loop_without_count_runs_ten_times(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        type: composite
        nodes:
          - id: again
            type: loop
            data: {loopType: times}
          - id: double
            type: code
            data: {code: "return data * 2"}
        edges:
          - {source: {nodeId: again, portId: item}, target: {nodeId: double, portId: input}}
        """,
    )
    codes = _codes(tmp_path, path)
    assert "W1002@5:22" in codes and "W1009@10:5" in codes
    assert run_flow(path, tmp_path) == {"again": [i * 2 for i in range(10)]}


def test_a_body_fed_from_outside_is_an_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        type: composite
        nodes:
          - {id: items, type: code, data: {code: "return [1, 2]"}}
          - {id: other, type: code, data: {code: "return 5"}}
          - {id: each, type: loop, data: {}}
          - {id: add, type: code, data: {code: "return data"}}
        edges:
          - {source: {nodeId: items, portId: result}, target: {nodeId: each, portId: input}}
          - {source: {nodeId: each, portId: item}, target: {nodeId: add, portId: data}}
          - {source: {nodeId: other, portId: result}, target: {nodeId: add, portId: data}}
        """,
    )
    assert _codes(tmp_path, path) == ["E1002@10:5"]


def test_bare_fields_in_edit_fields_read_the_incoming_object(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        type: composite
        nodes:
          - {id: make, type: edit-fields, data: {values: {name: Ada}, keepOnlySet: true}}
          - id: greet
            type: edit-fields
            data: {values: {text: "Hi {{name}}, at {{ $now }}"}, keepOnlySet: true}
        edges:
          - {source: {nodeId: make, portId: output}, target: {nodeId: greet, portId: input}}
        """,
    )
    assert _codes(tmp_path, path) == ["W1013@6:27"]
    text = run_flow(path, tmp_path)["greet"]["text"]
    assert text.startswith("Hi Ada, at 20")


def test_an_error_port_receives_the_nodes_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        type: composite
        nodes:
          - id: fail
            type: code
            outputPorts: [{id: out, type: output}, {id: oops, type: error, dataType: object}]
            data: {code: "raise ValueError('boom')"}
          - {id: catch, type: edit-fields, data: {values: {seen: "{{ $input.message }}"}}}
        edges:
          - {source: {nodeId: fail, portId: oops}, target: {nodeId: catch, portId: input}}
        """,
    )
    assert _codes(tmp_path, path) == ["W1002@9:5"]
    outputs = run_flow(path, tmp_path)
    assert "boom" in outputs["catch"]["seen"]


HOSTILE = [
    "flow: {data: 3}\n",
    "flow: {metadata: 5, data: {nodes: {a: 5, b: {type: code}}, edges: [3, {source: {}}]}}\n",
    "type: composite\nnodes: [1, {id: 3, type: x}]\n",
    "type: composite\nnodes: [{id: a, type: loop, data: 5}]\nedges: {a: 1}\n",
    "type: composite\nvariables: [1, 2]\nsettings: {runtime: {parallel: false, timeout: -1}}\n",
    "type: composite\nvariables: {x: 5, 'a b': {defaultValue: p}}\n"
    "nodes: [{id: n, type: file-system, data: {filePath: p, content: '{['}}]\n",
    "type: composite\nnodes: [{id: e, type: edit-fields, data: {values: [1]}},"
    " {id: t, type: transform, data: {reduceInitial: '{bad', expression: 5}}]\n",
    "type: composite\nnodes: [{id: i, type: image, data: {maintainAspectRatio: x, format: gif}},"
    " {id: p, type: parallel, data: {concurrency: -3}},"
    " {id: l, type: loop, data: {loopType: times, breakOnError: 3}}]\n"
    "edges: [{source: {nodeId: l, portId: item}, target: {nodeId: p}},"
    " {source: {nodeId: p}, target: {nodeId: i}}]\n",
    "type: composite\nnodes: [{id: a, type: code, inputPorts: 5, outputPorts: [3, {id: 4}]},"
    " {id: w, type: file-system, data: {operation: write, filePath: {x: 1}}}]\n",
    "dialect: [1]\nnodes: []\n",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_malformed_atomiton_files_are_diagnostics(text: str, tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    with pytest.raises(BlueprintError) as caught:
        compile_flow(path, tmp_path)
    assert all(d.span is not None and d.span.line for d in caught.value.diagnostics)


def test_a_loops_complete_output_collects_the_body_results(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        type: composite
        nodes:
          - {id: items, type: code, data: {code: "return [1, 2, 3]"}}
          - {id: each, type: loop, data: {iterateOver: items}}
          - {id: square, type: code, data: {code: "return data * data"}}
          - {id: total, type: code, data: {code: "return sum(data)"}}
        edges:
          - {source: {nodeId: items, portId: output}, target: {nodeId: each, portId: collection}}
          - {source: {nodeId: each, portId: item}, target: {nodeId: square, portId: input}}
          - {source: {nodeId: each, portId: complete}, target: {nodeId: total, portId: input}}
        """,
    )
    codes = _codes(tmp_path, path)
    assert "W1009@9:5" in codes and "W1004@10:5" in codes
    assert run_flow(path, tmp_path) == {"total": 14}
