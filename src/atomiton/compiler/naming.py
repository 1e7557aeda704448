"""Blueprint ids -> Python identifiers: validated, collision-free and never a keyword.

Every name a generated module defines from YAML passes through here, so a node called
``"; import os #`` becomes a harmless identifier and everything else reaches the module only
through ``repr()``.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from pathlib import Path

_NOT_IDENT = re.compile(r"[^0-9a-zA-Z_]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# Names the generated module (or pydantic's BaseModel) already uses.
RESERVED = frozenset(
    {"inputs", "ex", "exc", "s", "run", "arun", "Any", "Final", "BaseModel", "Field", "ConfigDict"}
    | {
        "model_config",
        "model_fields",
        "model_dump",
        "model_validate",
        "model_copy",
        "schema",
        "json",
        "dict",
        "copy",
    }
)


def identifier(text: str, *, reserved: frozenset[str] = RESERVED) -> str:
    """A snake_case Python identifier for ``text`` (``read-orders`` -> ``read_orders``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = _NOT_IDENT.sub("_", _CAMEL.sub("_", ascii_text)).strip("_").lower()
    name = re.sub(r"_+", "_", name)
    if not name:
        name = "node"
    if name[0].isdigit():
        name = f"n{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in reserved:
        name += "_"
    return name


def is_safe_identifier(text: str) -> bool:
    """An ASCII identifier that is no keyword, reserved name or private name."""
    return (
        text.isascii()
        and text.isidentifier()
        and not keyword.iskeyword(text)
        and not keyword.issoftkeyword(text)
        and text not in RESERVED
        and not text.startswith("_")
    )


class Namer:
    """Hands out unique identifiers: a second ``read-orders`` becomes ``read_orders_2``."""

    def __init__(
        self, taken: frozenset[str] = frozenset(), *, keep_identifiers: bool = False
    ) -> None:
        self._taken: set[str] = set(taken)
        self._by_key: dict[str, str] = {}
        # The counter to try next for a base name: names are only ever added, so a number
        # found taken stays taken, and a thousand ids that share a base cost no rescans.
        self._next: dict[str, int] = {}
        # Keep a key that already is a safe identifier as it is (``outDir`` stays ``outDir``),
        # so code written in the blueprint can use the name it sees in the YAML.
        self._keep = keep_identifiers

    def __call__(self, key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        base = key if self._keep and is_safe_identifier(key) else identifier(key)
        name, counter = base, self._next.get(base, 2)
        while name in self._taken:
            name, counter = f"{base}_{counter}", counter + 1
        if name != base:
            self._next[base] = counter
        self._taken.add(name)
        self._by_key[key] = name
        return name


def module_name_for(path: Path, blueprint_id: str | None = None) -> str:
    """The generated module's name: from the file stem (``orders.flow.yaml`` -> ``orders``)."""
    stem = path.name
    for suffix in (".yaml", ".yml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for suffix in (".flow", ".blueprint"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return identifier(stem or blueprint_id or "flow", reserved=frozenset())
