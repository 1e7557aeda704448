"""Blueprint ids -> Python identifiers: validated, collision-free and never a keyword.

Every name a generated module defines from YAML passes through here, so a node called
``"; import os #`` becomes a harmless identifier and everything else reaches the module only
through ``repr()``. Case conversion itself (snake_case, camelCase) is ``atomiton.naming``'s,
which the node library shares; this module adds what generated code needs on top: keywords,
reserved names, uniqueness and module names.
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Final

from pydantic import BaseModel

from ..blueprint_paths import blueprint_stem
from ..naming import snake_case

_NOT_IDENT = re.compile(r"[^0-9a-zA-Z_]+")

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


# The names the generated annotations are spelled with: a class attribute of the same name
# would hide the type from the annotations after it (``int: int`` then ``x: list[int]``).
ANNOTATION_NAMES: Final = frozenset(
    {"int", "str", "float", "bool", "bytes", "list", "dict", "object", "None"}
)
# Names of node results in a run's state object (``s.<node>``).
STATE_RESERVED: Final = RESERVED | ANNOTATION_NAMES

# Names a field of the generated ``Inputs``/``Outputs`` models must not take: pydantic's own
# members (``Config`` is its old-style settings class, ``copy``/``json``/``schema`` are methods),
# the names annotations are spelled with (``int: int`` makes pydantic read the field as its own
# type), and the module's own top-level names. Such a field is renamed (``int`` -> ``int_``) and
# keeps the YAML name as its alias, so users still write the name they declared.
MODEL_RESERVED: Final = (
    RESERVED
    | frozenset(name for name in dir(BaseModel) if not name.startswith("_"))
    | ANNOTATION_NAMES
    | {"Config"}
    | {"Inputs", "Outputs", "BLUEPRINT", "annotations", "Optional", "Union"}
)
# pydantic reserves names that start with this (``model_dump_extra`` warns or fails).
_MODEL_PREFIX: Final = "model_"

# Modules a generated module, the runtime or a node imports, and the standard library: a flow
# module of the same name would shadow them for anything that puts the output folder on
# ``sys.path``. Fixed here (not read from what is installed) so module names are the same on
# every machine; the standard library of every supported Python (3.11 to 3.14) is listed, so
# the name does not change with the interpreter either.
SHADOWED_MODULES: Final = frozenset(sys.stdlib_module_names) | {
    "atomiton",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "httpx",
    "httpcore",
    "anyio",
    "PIL",
    "pil",
    "openpyxl",
    "yaml",
    "jinja2",
    "black",
    "mypy",
    "click",
    "rich",
    # Removed from the standard library in 3.12 and 3.13.
    "asynchat",
    "asyncore",
    "distutils",
    "imp",
    "smtpd",
    "aifc",
    "audioop",
    "cgi",
    "cgitb",
    "chunk",
    "crypt",
    "imghdr",
    "lib2to3",
    "mailcap",
    "msilib",
    "nis",
    "nntplib",
    "ossaudiodev",
    "pipes",
    "sndhdr",
    "spwd",
    "sunau",
    "telnetlib",
    "uu",
    "xdrlib",
    # Added in 3.14.
    "annotationlib",
    "compression",
}
# Appended to a module name that would shadow one of those (``json.yaml`` -> ``json_flow``).
SHADOW_SUFFIX: Final = "_flow"


@lru_cache(maxsize=4096)  # called for every argument and name of every node
def identifier(text: str, *, reserved: frozenset[str] = RESERVED) -> str:
    """A snake_case Python identifier for ``text`` (``read-orders`` -> ``read_orders``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = _NOT_IDENT.sub("_", snake_case(ascii_text)).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name:
        name = "node"
    if name[0].isdigit():
        name = f"n{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in reserved:
        name += "_"
    return name


def is_safe_identifier(text: str, *, reserved: frozenset[str] = RESERVED) -> bool:
    """An ASCII identifier that is no keyword, reserved name or private name."""
    return (
        text.isascii()
        and text.isidentifier()
        and not keyword.iskeyword(text)
        and not keyword.issoftkeyword(text)
        and text not in reserved
        and not text.startswith("_")
    )


def field_name(text: str) -> str:
    """A model field name for ``text`` that pydantic and the module leave alone.

    A safe identifier is kept as written (``outDir``); anything else is snake-cased, and a name
    pydantic or the module owns gets an underscore (``Config`` -> ``config``, ``json`` ->
    ``json_``, ``model_dump_x`` -> ``field_model_dump_x``).
    """
    if is_safe_identifier(text, reserved=MODEL_RESERVED) and not text.startswith(_MODEL_PREFIX):
        return text
    name = identifier(text, reserved=MODEL_RESERVED)
    if name.startswith(_MODEL_PREFIX):
        name = f"field_{name}"
    return name


class Namer:
    """Hands out unique identifiers: a second ``read-orders`` becomes ``read_orders_2``."""

    def __init__(
        self,
        taken: frozenset[str] = frozenset(),
        *,
        keep_identifiers: bool = False,
        fields: bool = False,
        reserved: frozenset[str] = RESERVED,
    ) -> None:
        self._taken: set[str] = set(taken)
        self._by_key: dict[str, str] = {}
        # The counter to try next for a base name: names are only ever added, so a number
        # found taken stays taken, and a thousand ids that share a base cost no rescans.
        self._next: dict[str, int] = {}
        # Keep a key that already is a safe identifier as it is (``outDir`` stays ``outDir``),
        # so code written in the blueprint can use the name it sees in the YAML.
        self._keep = keep_identifiers
        # Names of pydantic model fields (see ``field_name``).
        self._fields = fields
        self._reserved = reserved

    def __call__(self, key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        if self._fields:
            base = field_name(key)
        else:
            keep = self._keep and is_safe_identifier(key, reserved=self._reserved)
            base = key if keep else identifier(key, reserved=self._reserved)
        name, counter = base, self._next.get(base, 2)
        while name in self._taken:
            name, counter = f"{base}_{counter}", counter + 1
        if name != base:
            self._next[base] = counter
        self._taken.add(name)
        self._by_key[key] = name
        return name


def module_name_for(path: Path, blueprint_id: str | None = None) -> str:
    """The generated module's name: from the file stem (``orders.flow.yaml`` -> ``orders``).

    A stem that names a library module gets ``SHADOW_SUFFIX`` (``json.yaml`` -> ``json_flow``),
    so no generated module hides the library it or anything else imports.
    """
    stem = blueprint_stem(path.name)
    name = identifier(stem or blueprint_id or "flow", reserved=frozenset())
    return f"{name}{SHADOW_SUFFIX}" if name in SHADOWED_MODULES else name
