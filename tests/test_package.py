"""The package as a whole: its public surface is pinned and its source is mypy --strict clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import atomiton
import atomiton.runtime

SRC = Path(__file__).resolve().parent.parent / "src" / "atomiton"


def test_public_surface_is_pinned() -> None:
    # Changing this list is changing the public API: do it on purpose.
    assert sorted(atomiton.__all__) == [
        "AtomitonError",
        "BlueprintError",
        "CancelledError",
        "CompileOptions",
        "CompiledModule",
        "NodeError",
        "OutputError",
        "RunTimeoutError",
        "__version__",
        "compile_blueprint",
        "recorded_pins",
    ]
    for name in atomiton.__all__:
        assert getattr(atomiton, name) is not None


def test_every_runtime_export_exists() -> None:
    missing = [name for name in atomiton.runtime.__all__ if not hasattr(atomiton.runtime, name)]
    assert missing == []


def test_importing_the_package_root_loads_no_compiler() -> None:
    code = (
        "import sys, atomiton, atomiton.runtime; "
        "bad = [m for m in ('atomiton.compiler', 'yaml', 'jinja2', 'black', 'mypy', 'click', 'rich') "
        "if m in sys.modules]; print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_source_is_mypy_strict_clean(tmp_path: Path) -> None:
    from mypy import api

    stdout, stderr, status = api.run(["--strict", "--cache-dir", str(tmp_path), str(SRC)])
    assert status == 0, stdout + stderr


def test_source_is_black_formatted() -> None:
    root = SRC.parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "black",
            "--check",
            "--quiet",
            "src",
            "tests",
            "benchmarks",
            "examples",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr or "run `black src tests benchmarks examples`"
