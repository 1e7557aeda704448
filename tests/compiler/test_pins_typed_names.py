"""Each generated module names its nodes in ``Pins``/``Fails`` TypedDicts, so mypy checks the
keys and values a user passes to ``run(pins=..., fail=...)``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from atomiton.compiler import CompileOptions, compile_blueprint

FLOW = """\
id: typed-pins
variables:
  numbers: {type: array, defaultValue: [1, 2]}
nodes:
  - id: greet
    type: edit-fields
    parameters:
      values: {message: hi}
  - id: total
    type: transform
    parameters: {operation: reduce, transformFunction: "acc + item", reduceInitial: 0}
edges:
  - {source: input, sourceHandle: numbers, target: total}
"""


def _module(tmp_path: Path) -> Path:
    blueprint = tmp_path / "flow.yaml"
    blueprint.write_text(FLOW)
    compiled = compile_blueprint(blueprint, options=CompileOptions(root=tmp_path))
    path = tmp_path / "typedpins_flow.py"
    path.write_text(compiled.code)
    return path


def test_pins_and_fails_name_every_node_with_its_output_type(tmp_path: Path) -> None:
    code = _module(tmp_path).read_text()
    assert '"greet": dict[str, Any],' in code and '"total": _transform.Output,' in code
    assert '"greet": BaseException,' in code
    assert "pins: Pins | None = None," in code and "fail: Fails | None = None," in code


@pytest.mark.slow
def test_mypy_rejects_a_wrong_pin_key_and_a_wrong_pin_type(tmp_path: Path) -> None:
    _module(tmp_path)
    user = tmp_path / "use_flow.py"
    user.write_text(textwrap.dedent("""\
        from typedpins_flow import run

        run(pins={"greet": {"message": "pinned"}}, fail={"total": TimeoutError("x")})
        run(pins={"greett": {"message": "typo"}})
        run(pins={"greet": 5})
        run(fail={"total": "not an exception"})
        """))
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "use_flow.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in found.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["4", "5", "6"], found.stdout
    assert '"Pins | None"' in errors[0] and '"Pins | None"' in errors[1]
    assert '"Fails | None"' in errors[2]
