"""Atomiton's own flow files (data/, copied unchanged from Atomiton's repository), and helpers
that copy one into ``tmp_path`` with its absolute paths pointed there, compile it and run it."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from atomiton.compiler import CompileOptions, compile_blueprint, load_module

DATA = Path(__file__).resolve().parent / "data"
CURRENT = sorted(DATA.glob("*.flow.yaml"))
HISTORY = sorted((DATA / "history").glob("*.yaml"))
ALL_FILES = CURRENT + HISTORY


def needs_javascript() -> None:
    """Skip (with the reason) where the JavaScript engine is not installed."""
    pytest.importorskip("py_mini_racer", reason="JavaScript node code needs atomiton[js]")
    pytest.importorskip("atomiton.nodes.javascript_engine", reason="no JavaScript runtime")


def copy_flow(source: Path, tmp_path: Path, paths: dict[str, Path], name: str = "") -> Path:
    """``source`` copied into ``tmp_path`` with each absolute path of ``paths`` replaced."""
    text = source.read_text(encoding="utf-8")
    for old, new in paths.items():
        text = text.replace(old, str(new))
    target = tmp_path / (name or source.name)
    target.write_text(text, encoding="utf-8")
    return target


def compile_flow(path: Path, root: Path) -> Any:
    options = CompileOptions(root=root, search_path=(), store=root / "store")
    return compile_blueprint(path, options=options)


def run_flow(path: Path, root: Path) -> dict[str, Any]:
    """Compile ``path``, run it with its defaults and return its outputs as a dict."""
    module: ModuleType = load_module(compile_flow(path, root))
    outputs = module.run()
    return dict(outputs.model_dump())
