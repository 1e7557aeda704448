"""Helpers shared by the compiler tests: write a blueprint, compile it, load the module."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from atomiton.compiler import CompiledModule, CompileOptions, compile_blueprint

_counter = itertools.count()


def write_blueprint(folder: Path, data: dict[str, Any], name: str = "flow") -> Path:
    """Dump ``data`` as YAML (escaping whatever YAML cannot hold raw) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=False, sort_keys=False), encoding="utf-8")
    return path


def compile_data(folder: Path, data: dict[str, Any], name: str = "flow") -> CompiledModule:
    path = write_blueprint(folder, data, name)
    return compile_blueprint(
        path, options=CompileOptions(root=folder, search_path=(), store=folder / "store")
    )


def import_file(path: Path) -> ModuleType:
    """Import a generated module from its file under a unique name."""
    name = f"atomiton_test_flow_{next(_counter)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
