"""Golden tests: each ``tests/golden/<case>/blueprint.yaml`` compiles to exactly ``expected.py``.

For every case: the text matches; black leaves it unchanged; mypy --strict accepts it (one mypy
call for all cases); importing and running it gives ``outputs.json`` (inputs from
``inputs.json``, where ``$CASE`` stands for the case folder). Refresh with
``pytest tests/golden --update-goldens``.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from atomiton.compiler import CompiledModule, CompileOptions, compile_blueprint
from atomiton.compiler.postprocess import format_code

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.iterdir() if (p / "blueprint.yaml").is_file())
REFRESH = "pytest tests/golden --update-goldens"


def compile_case(case: Path) -> CompiledModule:
    options = CompileOptions(root=case, search_path=(), store=case / "store")
    return compile_blueprint(case / "blueprint.yaml", options=options)


def load_expected(case: Path) -> ModuleType:
    name = f"golden_{case.name}"
    spec = importlib.util.spec_from_file_location(name, case / "expected.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def case_inputs(case: Path) -> dict[str, Any]:
    path = case / "inputs.json"
    if not path.exists():
        return {}
    text = path.read_text().replace("$CASE", case.as_posix())
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_generated_code_matches_expected(case: Path, update_goldens: bool) -> None:
    compiled = compile_case(case)
    expected = case / "expected.py"
    if update_goldens:
        expected.write_text(compiled.code)
        return
    assert expected.exists(), f"{expected} is missing; run `{REFRESH}`"
    want = expected.read_text()
    if compiled.code != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True),
                compiled.code.splitlines(keepends=True),
                "expected.py",
                "generated",
            )
        )
        pytest.fail(f"generated code differs from {expected}:\n{diff}\nrefresh with `{REFRESH}`")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_compiling_twice_gives_identical_bytes(case: Path) -> None:
    assert compile_case(case).code == compile_case(case).code


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_black_leaves_expected_unchanged(case: Path) -> None:
    text = (case / "expected.py").read_text()
    assert format_code(text) == text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_running_expected_gives_recorded_outputs(
    case: Path, update_goldens: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # flows that write files write them here
    module = load_expected(case)
    outputs = module.run(module.Inputs(**case_inputs(case)))
    got = outputs.model_dump(mode="json")
    recorded = case / "outputs.json"
    if update_goldens:
        recorded.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
        return
    assert recorded.exists(), f"{recorded} is missing; run `{REFRESH}`"
    assert got == json.loads(recorded.read_text())


def test_mypy_strict_accepts_every_expected_module(tmp_path: Path) -> None:
    from mypy import api

    # Every case's file is called expected.py; mypy needs distinct module names.
    files = []
    for case in CASES:
        copy = tmp_path / f"golden_{case.name.replace('-', '_')}.py"
        copy.write_text((case / "expected.py").read_text())
        files.append(str(copy))
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--follow-imports=silent", *files]
    )
    assert status == 0, stdout + stderr
