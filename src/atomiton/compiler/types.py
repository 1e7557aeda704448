"""The port type vocabulary: parsing, Python spellings and which types fit which.

Vocabulary: Atomiton's dataType names (string, number, integer, boolean, array, object, buffer
or binary, path, any) plus element types ``array<T>``. ``integer`` fits ``number`` but not the
reverse; ``any`` fits everything and everything fits ``any`` (checked at run time by the node).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCALARS = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "buffer": "bytes",
    "path": "str",
    "any": "Any",
    "object": "dict[str, Any]",
    "array": "list[Any]",
}
_ALIASES = {
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
    """A parsed port type: a base name and, for arrays, the element type."""

    name: str
    item: PortType | None = None

    def __str__(self) -> str:
        return f"array<{self.item}>" if self.item is not None else self.name


ANY = PortType("any")


def parse_type(text: str) -> PortType | None:
    """Parse a vocabulary type; None if it isn't one."""
    cleaned = text.strip().lower() if text else "any"
    if cleaned.endswith("[]"):
        cleaned = f"array<{cleaned[:-2]}>"
    match = _ARRAY_OF.match(cleaned)
    if match:
        item = parse_type(match.group(1))
        return PortType("array", item) if item is not None else None
    cleaned = _ALIASES.get(cleaned, cleaned)
    return PortType(cleaned) if cleaned in _SCALARS else None


def python_type(port_type: PortType) -> str:
    """The annotation a generated module uses for values of this type."""
    if port_type.name == "array" and port_type.item is not None:
        return f"list[{python_type(port_type.item)}]"
    return _SCALARS[port_type.name]


def fits(source: PortType, target: PortType) -> bool:
    """Whether a value of ``source`` type may flow into a port of ``target`` type."""
    if source.name == "any" or target.name == "any":
        return True
    if source.name == "integer" and target.name == "number":
        return True
    if source.name == "path" and target.name == "string" or source.name == "string" and target.name == "path":
        return True
    if source.name != target.name:
        return False
    if source.name == "array":
        if source.item is None or target.item is None:
            return True
        return fits(source.item, target.item)
    return True
