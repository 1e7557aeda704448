"""The port type vocabulary: parsing, Python spellings and which types fit which.

Vocabulary: Atomiton's dataType names (string, number, integer, boolean, array, object, buffer
or binary, path, any) plus element types ``array<T>``. The rules here are the ones mypy applies
to the generated module's annotations, so that a blueprint the compiler accepts also passes
``mypy --strict``; docs/types.md explains them to blueprint authors. This module decides types
only: the builder walks the edges and reports mismatches.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Final

# Vocabulary name -> the annotation generated modules use.
_PYTHON: Final[dict[str, str]] = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "buffer": "bytes",
    # A path travels as text (Atomiton passes paths as strings), so string and path fit each
    # other both in this checker and for mypy.
    "path": "str",
    "any": "Any",
    "object": "dict[str, Any]",
    "array": "list[Any]",
}
# Spellings Atomiton flows (and people) use for the same types.
_ALIASES: Final[dict[str, str]] = {
    "binary": "buffer",
    "bytes": "buffer",
    "str": "string",
    "text": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
    "json": "any",
    "unknown": "any",
    "function": "any",
    "file": "path",
}
_ARRAY_OF = re.compile(r"^array\s*<\s*(.+?)\s*>$")


@dataclass(frozen=True, slots=True)
class PortType:
    """A parsed port type: a base name and, for arrays, the element type (None: any element)."""

    name: str
    item: PortType | None = None

    def __str__(self) -> str:
        return f"array<{self.item}>" if self.item is not None else self.name


ANY: Final = PortType("any")


def parse_type(text: str) -> PortType | None:
    """Parse a vocabulary type such as ``integer``, ``array<object>`` or ``string[]``.

    Args:
        text: the type as written in YAML; empty means ``any``.

    Returns:
        The parsed type, or None if ``text`` is not in the vocabulary.
    """
    cleaned = text.strip().lower() if text else "any"
    if cleaned.endswith("[]"):
        cleaned = f"array<{cleaned[:-2]}>"
    match = _ARRAY_OF.match(cleaned)
    if match:
        item = parse_type(match.group(1))
        if item is None:
            return None
        return PortType("array", None if item == ANY else item)
    cleaned = _ALIASES.get(cleaned, cleaned)
    return PortType(cleaned) if cleaned in _PYTHON else None


def python_type(port_type: PortType) -> str:
    """The annotation a generated module uses for values of this type (``list[dict[str, Any]]``)."""
    if port_type.name == "array" and port_type.item is not None:
        return f"list[{python_type(port_type.item)}]"
    return _PYTHON[port_type.name]


def fits(source: PortType, target: PortType) -> bool:
    """Whether a value of ``source`` type may flow into a port of ``target`` type.

    ``any`` fits everything and everything fits ``any`` (the receiving node checks the value at
    run time); ``integer`` fits ``number`` but not the reverse; ``string`` and ``path`` fit each
    other. Arrays are lists, which mypy treats invariantly, so element types must be the same
    Python type unless one side's elements are ``any``.
    """
    if source.name == "any" or target.name == "any":
        return True
    if source.name == "array" and target.name == "array":
        if source.item is None or target.item is None:
            return True
        return _same_python_type(source.item, target.item)
    if source.name == "integer" and target.name == "number":
        return True
    return _PYTHON[source.name] == _PYTHON[target.name]


def _same_python_type(a: PortType, b: PortType) -> bool:
    if a.name == "any" or b.name == "any":
        return True
    if a.name == "array" and b.name == "array":
        if a.item is None or b.item is None:
            return True
        return _same_python_type(a.item, b.item)
    return _PYTHON[a.name] == _PYTHON[b.name]


def from_annotation(annotation: object) -> PortType:
    """The vocabulary type of a Python annotation (a parameter field fed by an edge).

    Optional types (``X | None``) count as ``X``: the edge brings a value. Anything the
    vocabulary can't say (unions, Literals of mixed types, classes) is ``any``, so the compiler
    never rejects what it can't judge; mypy on the module still sees the real annotation.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        return from_annotation(kept[0]) if len(kept) == 1 else ANY
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        return from_annotation(kinds.pop()) if len(kinds) == 1 else ANY
    if origin is typing.Annotated:
        return from_annotation(args[0])
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        item = from_annotation(args[0]) if origin is list and args else ANY
        return PortType("array", None if item == ANY else item)
    if origin is dict or annotation is dict:
        return PortType("object")
    simple: dict[Any, str] = {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        bytes: "buffer",
    }
    name = simple.get(annotation)
    return PortType(name) if name is not None else ANY


def of_value(value: object) -> PortType:
    """The vocabulary type of a plain YAML value (a constant filling a sub-blueprint's input)."""
    if isinstance(value, bool):
        return PortType("boolean")
    if isinstance(value, int):
        return PortType("integer")
    if isinstance(value, float):
        return PortType("number")
    if isinstance(value, str):
        return PortType("string")
    if isinstance(value, bytes):
        return PortType("buffer")
    if isinstance(value, dict):
        return PortType("object")
    if isinstance(value, list):
        return PortType("array")
    return ANY
