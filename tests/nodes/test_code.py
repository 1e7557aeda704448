"""code: the compiled body is called with the input and its value returned unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atomiton.compiler import compile_blueprint
from atomiton.errors import BlueprintError
from atomiton.nodes import registry
from atomiton.nodes.code import SPEC, Params, run
from compiled import run_blueprint

PARAMS = Params(code="return data")


def test_returns_the_function_value() -> None:
    def body(data: Any) -> Any:
        return {"n": len(data), "sum": sum(data)}

    assert run(PARAMS, data=[1, 2, 3], function=body) == {"n": 3, "sum": 6}
    assert run(PARAMS, function=lambda data: data) is None


def test_errors_propagate_unchanged() -> None:
    def body(data: Any) -> Any:
        return data["missing"]

    with pytest.raises(KeyError, match="missing"):
        run(PARAMS, data={}, function=body)


def test_code_is_required_and_spec_declares_a_body(tmp_path: Path) -> None:
    # The source travels as a compiled function, so the model does not need it at run time;
    # the compiler insists on it instead.
    assert Params.model_validate({}).code == ""
    assert registry.get("code") is SPEC
    code = SPEC.code_params["code"]
    assert (code.kwarg, code.kind, code.args, code.required) == (
        "function",
        "body",
        ("data",),
        True,
    )
    path = tmp_path / "flow.yaml"
    path.write_text("nodes:\n  - {id: a, type: code}\n")
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(path)
    assert [d.code for d in raised.value.diagnostics] == ["E0209"]
    assert [p.name for p in SPEC.outputs] == ["result"]


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_runs_the_body(tmp_path: Path) -> None:
    text = """
id: c
interface:
  inputs: [{id: n, dataType: integer, default: 3}]
nodes:
  - id: square
    type: code
    parameters:
      code: |
        total = data * data
        return total
edges:
  - {source: input, sourceHandle: n, target: square}
"""
    outputs = run_blueprint(tmp_path, text, "def _square_code(data: Any)", n=4)
    assert outputs.square == 16
