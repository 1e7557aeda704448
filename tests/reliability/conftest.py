"""Fixtures of the reliability tests: blueprints written to ``tmp_path``, compiled and loaded.

Every test here goes through the real pipeline (``compile_blueprint`` then ``load_module``) and
runs the generated module with real threads, subprocesses and files.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from atomiton.compiler import CompileOptions, compile_blueprint, load_module

FlowFactory = Callable[..., ModuleType]
ModFactory = Callable[[str], str]


def compile_flow(tmp_path: Path, text: str, name: str = "flow") -> ModuleType:
    """Write ``text`` (dedented) as ``<name>.yaml`` in ``tmp_path``, compile it and load it."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    options = CompileOptions(root=tmp_path, search_path=(), store=tmp_path / "store")
    return load_module(compile_blueprint(path, options=options))


@pytest.fixture
def flow(tmp_path: Path) -> FlowFactory:
    """``flow(yaml_text, name="flow")`` -> the loaded generated module."""

    def make(text: str, name: str = "flow") -> ModuleType:
        return compile_flow(tmp_path, text, name)

    return make


@pytest.fixture
def pymod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModFactory:
    """``pymod(source)`` writes a module of the user's functions and returns its (unique) name.

    The name is unique per call, so a module of an earlier test cached in ``sys.modules`` is never
    picked up instead; the folder is on ``sys.path`` for the test's duration.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(source: str) -> str:
        name = f"reluser_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        made.append(name)
        return name

    yield make  # type: ignore[misc]
    for name in made:
        sys.modules.pop(name, None)
