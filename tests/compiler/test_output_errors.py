"""A result that does not fit a declared output is an error naming the node that produced it."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomiton import NodeError, OutputError
from atomiton.compiler import compile_blueprint, load_module

BLUEPRINT = """\
interface:
  inputs: [{id: raw, dataType: any, default: 1}]
  outputs: [{id: n, dataType: integer}, {id: echo, dataType: integer}]
nodes:
  - {id: make, type: code, parameters: {code: "return 'abc'"}}
edges:
  - {source: make, target: output, targetHandle: n}
  - {source: input, sourceHandle: raw, target: output, targetHandle: echo}
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return load_module(compile_blueprint(path, options=None))


def test_a_node_result_that_does_not_fit_blames_the_node(tmp_path: Path) -> None:
    module = load(tmp_path, BLUEPRINT)
    with pytest.raises(NodeError) as raised:
        module.run()  # type: ignore[attr-defined]
    error = raised.value
    assert error.node_id == "make" and error.line == 5
    assert "output 'n'" in error.message and "'abc'" in error.message


def test_an_input_passed_through_that_does_not_fit_is_an_output_error(tmp_path: Path) -> None:
    module = load(tmp_path, BLUEPRINT.replace("return 'abc'", "return 7"))
    assert module.run().n == 7  # type: ignore[attr-defined]
    with pytest.raises(OutputError, match="output 'echo'"):
        module.run(module.Inputs(raw="not a number"))  # type: ignore[attr-defined]
