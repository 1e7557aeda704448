"""Node type name -> ``NodeSpec``, loaded lazily so that listing types imports nothing heavy.

Node modules import their third-party libraries (httpx, Pillow, openpyxl) only inside ``run``,
so loading a spec is cheap and works even when an extra is not installed; the compiler then
reports which ``pip install`` the blueprint needs.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Final

from .spec import NodeSpec

# type name -> module under atomiton.nodes. Aliases live in each spec and are added below.
_MODULES: Final[dict[str, str]] = {
    "code": "code",
    "edit-fields": "edit_fields",
    "file-system": "file_system",
    "http-request": "http_request",
    "image": "image",
    "javascript-code": "javascript_code",
    "javascript-transform": "javascript_transform",
    "loop": "loop",
    "merge": "merge",
    "parallel": "parallel",
    "shell-command": "shell_command",
    "spreadsheet": "spreadsheet",
    "transform": "transform",
}

# Types the compiler handles itself instead of calling a node module: sub-blueprints are inlined
# and ``python`` nodes call the user's own function.
BUILTIN_TYPES: Final[frozenset[str]] = frozenset({"blueprint", "group", "flow", "python"})


def load_module_spec(module: str) -> NodeSpec:
    spec = importlib.import_module(f"atomiton.nodes.{module}").SPEC
    assert isinstance(spec, NodeSpec)
    return spec


@cache
def _all_specs() -> dict[str, NodeSpec]:
    specs: dict[str, NodeSpec] = {}
    for name, module in _MODULES.items():
        try:
            spec = load_module_spec(module)
        except ModuleNotFoundError as exc:
            if exc.name == f"atomiton.nodes.{module}":
                continue  # a node type not written yet
            raise
        specs[name] = spec
        for alias in spec.aliases:
            specs[alias] = spec
    return specs


def get(type_name: str) -> NodeSpec | None:
    """The spec of ``type_name`` (or one of its aliases), or None if there is no such type."""
    return _all_specs().get(type_name)


def type_names() -> list[str]:
    """Every known node type name, sorted, including the compiler's builtin ones."""
    return sorted({*(_all_specs()), *BUILTIN_TYPES})
