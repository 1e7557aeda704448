"""Python source for YAML data: the only ways a value, a comment or a docstring from the blueprint
enters a generated module (``repr`` of plain data, in black's quoting). Which values go where is
codegen's; how statements are laid out is ``layout``'s.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

from . import layout
from .ir import FromInput, FromNode, FromTemplate, Template


def literal(value: object) -> str:
    """Python source for a plain YAML value; the only way YAML data enters a module."""
    if isinstance(value, str):
        return layout.string(value)
    if value is None or isinstance(value, (bool, int, bytes)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return layout.string(value.isoformat())
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "[" + ", ".join(literal(v) for v in sorted(value, key=repr)) + "]"
    raise TypeError(f"cannot put a {type(value).__name__} into a generated module")


def comment_text(text: str) -> str:
    """Text safe inside a ``#`` comment: no line breaks or control characters."""
    if text.isprintable():  # the usual case, without a look at each character
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def docstring_text(text: str) -> str:
    """Text safe inside a triple-quoted docstring."""
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in escaped)


def is_immutable(params: object) -> bool:
    """Whether no value below the top-level mapping of ``params`` can be changed in place."""
    values = list(params.values()) if isinstance(params, dict) else [params]
    while values:
        value = values.pop()
        if isinstance(value, (list, dict, set, bytearray)):
            return False
        if isinstance(value, tuple):
            values.extend(value)
    return True


def is_static(value: object) -> bool:
    if isinstance(value, (FromNode, FromInput, FromTemplate, Template)):
        return False
    if isinstance(value, dict):
        return all(is_static(v) for v in value.values())
    if isinstance(value, list):
        return all(is_static(v) for v in value)
    return True
