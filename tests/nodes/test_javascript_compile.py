"""Compiling JavaScript node code: routing at the schema boundary, syntax errors at the YAML line
and column of the failing JavaScript, inputs bound like templates, the missing extra named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from atomiton.compiler import compile_blueprint
from atomiton.diagnostics import Span
from atomiton.errors import BlueprintError
from atomiton.nodes.javascript_compile import locate
from compiled import run_blueprint


def diagnostics(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(path)
    return [
        (d.span.line if d.span else 0, d.span.column if d.span else 0, d.code, d.message)
        for d in raised.value.diagnostics
    ]


def test_syntax_error_in_a_literal_block_is_at_its_yaml_line_and_column(tmp_path: Path) -> None:
    text = """\
nodes:
  - id: total
    type: code
    parameters:
      runtime: javascript
      code: |
        const total = data.reduce((sum, row) => {
          return sum + ;
        }, 0);
        return total;
"""
    [(line, column, code, message)] = diagnostics(tmp_path, text)
    assert (line, column, code) == (8, 24, "E0320")
    assert text.splitlines()[line - 1][column - 1] == ";"
    assert "Unexpected token ';' (line 2 of the code)" in message


def test_syntax_errors_in_one_line_scalars(tmp_path: Path) -> None:
    text = """\
nodes:
  - id: plain
    type: transform
    parameters: {runtime: javascript, transformFunction: item => item.a + )}
  - id: quoted
    type: transform
    parameters:
      runtime: javascript
      operation: filter
      transformFunction: "item.a ==="
  - id: folded
    type: code
    parameters:
      runtime: javascript
      code: >
        return data
        +
"""
    found = diagnostics(tmp_path, text)
    assert [(line, code) for line, _, code, _ in found] == [
        (4, "E0320"),
        (10, "E0320"),
        (15, "E0320"),
    ]
    plain, quoted, folded = found
    assert text.splitlines()[3][plain[1] - 1] == ")"
    assert "the code ends too early" in quoted[3]
    assert quoted[1] == len('      transformFunction: "item.a ===') + 1
    assert folded[1] == 13  # a folded block does not keep lines: the value's own position


def test_code_is_never_read_as_python_and_python_stays_the_default(tmp_path: Path) -> None:
    js = """\
interface:
  inputs: [{id: rows, type: array}]
nodes:
  - id: f
    type: transform
    parameters: {runtime: javascript, operation: filter, transformFunction: "r => r.ok === true"}
edges:
  - {source: input.rows, target: f}
"""
    outputs = run_blueprint(tmp_path, js, "_javascript_transform", rows=[{"ok": True}, {"ok": 1}])
    assert outputs.f == [{"ok": True}]
    python = js.replace("runtime: javascript", "runtime: python")
    found = diagnostics(tmp_path, python)
    assert [code for _, _, code, _ in found] == ["E0302"]


def test_inputs_read_by_the_code_are_bound_and_checked(tmp_path: Path) -> None:
    text = """\
interface:
  inputs:
    - {id: rows, type: array}
    - {id: minimum, type: number, default: 10}
    - {id: label, type: string, default: big}
nodes:
  - id: big
    type: transform
    parameters:
      runtime: javascript
      operation: map
      transformFunction: |
        item => item.amount > inputs.minimum
          ? `${inputs.label}:${item.amount}` : null
edges:
  - {source: input.rows, target: big}
"""
    outputs = run_blueprint(tmp_path, text, rows=[{"amount": 5}, {"amount": 50}], minimum=20)
    assert outputs.big == [None, "big:50"]
    misspelt = text.replace("inputs.minimum", "inputs.minimun")
    [(line, column, code, message)] = diagnostics(tmp_path, misspelt)
    assert (line, code) == (13, "E0301")
    assert misspelt.splitlines()[line - 1][column - 1 :].startswith("inputs.minimun")
    assert "no input 'minimun'" in message


def test_inputs_used_whole_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = """\
nodes:
  - id: c
    type: code
    parameters:
      runtime: javascript
      code: |
        const names = 'inputs.x';
        return Object.keys(inputs);
"""
    assert diagnostics(tmp_path, text) == [
        (8, 28, "E0321", "node 'c': code uses 'inputs' other than as inputs.<name>")
    ]


def test_code_that_escapes_its_function_is_a_syntax_error(tmp_path: Path) -> None:
    text = """\
nodes:
  - id: c
    type: code
    parameters:
      runtime: javascript
      code: "}); globalThis.hacked = 1; (function () {"
"""
    [(_, _, code, message)] = diagnostics(tmp_path, text)
    assert code == "E0320"


def test_missing_extra_names_the_pip_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules is how Python marks a module that cannot be imported.
    monkeypatch.setitem(sys.modules, "py_mini_racer", None)
    text = """\
nodes:
  - id: c
    type: code
    parameters: {runtime: javascript, code: "return 1 +"}
"""
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(path)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "E0215"
    assert "'py_mini_racer'" in diagnostic.message
    assert diagnostic.hint == "pip install 'atomiton[js]'"


def test_locate_maps_code_positions_into_yaml() -> None:
    text = "a:\n  code: |\n    one\n\n    three\n  b: 'xy'\n"
    block = Span("f", 2, 9)
    assert locate(text, block, 1, 2) == Span("f", 3, 6)
    assert locate(text, block, 3, 1) == Span("f", 5, 5)
    assert locate(text, block, 9, 1) == block  # past the end of the file
    quoted = Span("f", 6, 6)
    assert locate(text, quoted, 1, 2) == Span("f", 6, 8)
    assert locate(text, quoted, 2, 1) == quoted


def test_javascript_in_a_python_node_says_how_to_run_it(tmp_path: Path) -> None:
    text = """\
nodes:
  - id: f
    type: transform
    parameters:
      operation: filter
      transformFunction: "row => row.active === 'true'"
  - id: c
    type: code
    parameters: {code: "return len(data) // 2"}
"""
    found = diagnostics(tmp_path, text)
    assert (6, 26, "W0320") in [(line, column, code) for line, column, code, _ in found]
    assert "node 'f': transformFunction looks like JavaScript, but the node runs Python" in [
        message for _, _, _, message in found
    ]
    assert "E0302" in [code for _, _, code, _ in found]  # the Python syntax error, beside it
    # Said outright, Python is Python: the graph builder reports its syntax error.
    explicit = text.replace("operation: filter", "operation: filter\n      runtime: python")
    codes = [code for _, _, code, _ in diagnostics(tmp_path, explicit)]
    assert "E0302" in codes and "W0320" not in codes
