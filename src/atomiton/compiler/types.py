"""The port type vocabulary: parsing, Python spellings and which types fit which.

Vocabulary: Atomiton's dataType names (string, number, integer, boolean, array, object, buffer
or binary, path, any) plus element types ``array<T>`` and nullable types ``T?`` (``T | None``). The rules here are the ones mypy applies
to the generated module's annotations, so that a blueprint the compiler accepts also passes
``mypy --strict``; docs/types.md explains them to blueprint authors. This module decides types
only: ``validate`` walks the edges and reports mismatches.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
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
# How deeply ``array<...>`` may nest. Deeper types are not data anyone writes; they would only
# exhaust the parser's recursion (and mypy's) on hostile input.
MAX_TYPE_DEPTH: Final = 32


class TypeTooDeepError(ValueError):
    """A port type nests ``array<...>`` more than ``MAX_TYPE_DEPTH`` levels deep."""


@dataclass(frozen=True, slots=True)
class PortType:
    """A parsed port type: a base name, for arrays the element type (None: any element), and
    whether ``None`` is also a value of it (``integer?``)."""

    name: str
    item: PortType | None = None
    nullable: bool = False
    # A parameter typed ``Literal[...]`` takes only these values: no port type says "one of",
    # so only ``any`` fits it (mypy rejects a ``str`` there too).
    choices: tuple[object, ...] = ()

    def __str__(self) -> str:
        text = f"array<{self.item}>" if self.item is not None else self.name
        return f"{text}?" if self.nullable else text


ANY: Final = PortType("any")


def type_depth(text: str) -> int:
    """How deeply ``text`` nests ``array<...>`` (or ``[]``), counted without parsing it."""
    return text.count("<") + text.count("[]")


def parse_type(text: str) -> PortType | None:
    """Parse a vocabulary type such as ``integer``, ``array<object>``, ``string[]`` or ``integer?``.

    Args:
        text: the type as written in YAML; empty means ``any``.

    Returns:
        The parsed type, or None if ``text`` is not in the vocabulary.

    Raises:
        TypeTooDeepError: arrays nest deeper than ``MAX_TYPE_DEPTH``.
    """
    if text and type_depth(text) > MAX_TYPE_DEPTH:
        raise TypeTooDeepError(text)
    return _parse(text)


@lru_cache(maxsize=1024)  # a flow spells few types, each many times
def _parse(text: str) -> PortType | None:
    cleaned = text.strip().lower() if text else "any"
    nullable = cleaned.endswith("?")
    if nullable:
        cleaned = cleaned[:-1].rstrip()
        if cleaned.endswith("?") or not cleaned:
            return None
    parsed = _parse_plain(cleaned)
    if parsed is None or not nullable or parsed.name == "any":
        return parsed  # ``any?`` is ``any``: None is already one of its values
    return PortType(parsed.name, parsed.item, nullable=True)


def _parse_plain(cleaned: str) -> PortType | None:
    if cleaned.endswith("[]"):
        cleaned = f"array<{cleaned[:-2]}>"
    match = _ARRAY_OF.match(cleaned)
    if match:
        item = _parse(match.group(1))
        if item is None:
            return None
        return PortType("array", None if item == ANY else item)
    cleaned = _ALIASES.get(cleaned, cleaned)
    return PortType(cleaned) if cleaned in _PYTHON else None


def python_type(port_type: PortType) -> str:
    """The annotation a generated module uses for values of this type (``list[dict[str, Any]]``)."""
    if port_type.name == "array" and port_type.item is not None:
        text = f"list[{python_type(port_type.item)}]"
    else:
        text = _PYTHON[port_type.name]
    return f"{text} | None" if port_type.nullable else text


def fits(source: PortType, target: PortType) -> bool:
    """Whether a value of ``source`` type may flow into a port of ``target`` type.

    ``any`` fits everything and everything fits ``any`` (the receiving node checks the value at
    run time); ``integer`` fits ``number`` but not the reverse; ``string`` and ``path`` fit each
    other. Arrays are lists, which mypy treats invariantly, so element types must be the same
    Python type unless one side's elements are ``any``. ``T`` fits ``T?`` but ``T?`` does not
    fit ``T``: the value may be None (mypy says the same of ``int | None`` and ``int``).
    """
    if source.name == "any" or target.name == "any":
        return True
    if source.nullable and not target.nullable:
        return False
    if target.choices:
        return False
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
    if a.nullable != b.nullable:
        return False
    if a.name == "array" and b.name == "array":
        if a.item is None or b.item is None:
            return True
        return _same_python_type(a.item, b.item)
    return _PYTHON[a.name] == _PYTHON[b.name]


def from_annotation(annotation: object) -> PortType:
    """The vocabulary type of a Python annotation (a parameter field fed by an edge).

    Optional types (``X | None``) count as ``X?``. Anything the
    vocabulary can't say (unions, Literals of mixed types, classes) is ``any``, so the compiler
    never rejects what it can't judge; mypy on the module still sees the real annotation.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        if len(kept) != 1:
            return ANY
        inner = from_annotation(kept[0])
        if len(kept) == len(args) or inner.name == "any":
            return inner
        return PortType(inner.name, inner.item, nullable=True)
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1:
            return ANY
        return PortType(from_annotation(kinds.pop()).name, choices=tuple(args))
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


def value_fits(value: object, port_type: PortType) -> bool:
    """Whether a YAML value (an interface input's default) is a value of ``port_type``.

    Checked the way pydantic validates the generated ``Inputs`` field in strict spirit: ``1.5``
    and ``"one"`` are not integers, ``true`` is not a number, and every element of a list must
    fit the element type.
    """
    if value is None:
        return True  # the generated field becomes ``X | None`` (docs/types.md)
    name = port_type.name
    if name == "any":
        return True
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name in ("string", "path"):
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "buffer":
        return isinstance(value, (bytes, str))
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        if not isinstance(value, list):
            return False
        item = port_type.item
        return item is None or all(_item_fits(v, item) for v in value)
    return False


def _item_fits(value: object, port_type: PortType) -> bool:
    # Inside a list, None is only an element of a nullable element type.
    if value is None:
        return port_type.nullable or port_type.name == "any"
    return value_fits(value, port_type)


def describe_value(value: object) -> str:
    """``'one'`` (a string), ``1.5`` (a number): how a message names a YAML value."""
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    kind = of_value(value)
    return f"{shown} ({kind})" if kind.name != "any" else shown
