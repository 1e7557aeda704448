"""Running a node through a compiled blueprint, the way users meet it (shared by the node tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atomiton.compiler import compile_blueprint, load_module


def run_blueprint(
    tmp_path: Path, text: str, expect_in_code: str | None = None, **inputs: Any
) -> Any:
    """Compile the blueprint ``text``, check its module holds ``expect_in_code``, run it.

    Returns the module's ``Outputs``.
    """
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    compiled = compile_blueprint(path)
    if expect_in_code is not None:
        assert expect_in_code in compiled.code, compiled.code
    module = load_module(compiled)
    return module.run(module.Inputs(**inputs))
