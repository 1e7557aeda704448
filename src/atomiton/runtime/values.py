"""Template values at run time: ``text`` (rendering), ``lookup`` (paths), ``now`` and ``env``.

The compiler turns ``"Hello, {{ inputs.name }}!"`` into ``text("Hello, ", inputs.name, "!")``
and ``{{ inputs.user.name }}`` into ``lookup(inputs, ("user", "name"), "inputs.user.name")``
once it cannot prove the path statically. Rendering rules:

* ``str`` parts are used as they are; ``None`` renders as ``"None"`` and booleans as
  ``"True"``/``"False"`` - the same as Python's ``str()``, because generated code and the
  blueprint's own functions are Python. A missing value is never rendered: ``lookup`` raises.
* ``dict``, ``list`` and ``tuple`` parts (and pydantic models, dataclasses) render as JSON, so a
  template that embeds an object produces text another program can parse.
* ``bytes`` are decoded as UTF-8 (bad bytes become U+FFFD).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel


class TemplateKeyError(KeyError):
    """A template path names a key, index or attribute that the value does not have.

    Unlike ``KeyError`` its ``str()`` is the plain message, so a ``NodeError`` built from it
    reads well.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def text(*parts: object) -> str:
    """Render the parts of a template and join them.

    Args:
        parts: literal text and expression values, in order.

    Returns:
        The rendered text (see the module docstring for how each kind of value renders).
    """
    out: list[str] = []
    for part in parts:
        if type(part) is str:
            out.append(part)
        else:
            out.append(_render(part))
    return "".join(out)


def shquote(value: object) -> str:
    """A template's ``| shquote`` filter: the rendered value as one shell word (``shlex.quote``)."""
    return shlex.quote(text(value))


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json.dumps(dataclasses.asdict(value), ensure_ascii=False, default=_json_default)
    return str(value)


def _json_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def lookup(value: object, path: tuple[str | int, ...], name: str) -> Any:
    """Follow ``path`` through mappings, sequences and attributes, starting at ``value``.

    A ``str`` step reads a mapping key, else an attribute (a pydantic model also answers to its
    fields' aliases, so YAML spellings like ``outPath`` work); an ``int`` step indexes a
    sequence (negative counts from the end) or reads an int mapping key.

    Args:
        value: where the path starts (``inputs``, a node's output).
        path: the steps after the root.
        name: the template expression as written, used in error messages.

    Returns:
        The value at the end of the path.

    Raises:
        TemplateKeyError: a step does not exist; the message names the full path and the step,
            e.g. ``template 'inputs.user.nmae': no key 'nmae'``.
    """
    current: Any = value
    for step in path:
        current = _step(current, step, name)
    return current


_MISSING: Any = object()


def _step(current: Any, step: str | int, name: str) -> Any:
    if isinstance(current, Mapping):
        if step in current:
            return current[step]
        raise TemplateKeyError(f"template {name!r}: no key {step!r}{_known(current)}")
    if isinstance(step, int):
        if isinstance(current, Sequence) and not isinstance(current, (str, bytes)):
            try:
                return current[step]
            except IndexError:
                raise TemplateKeyError(
                    f"template {name!r}: index {step} is out of range (length {len(current)})"
                ) from None
        raise TemplateKeyError(
            f"template {name!r}: cannot index {type(current).__name__} with [{step}]"
        )
    if current is None:
        raise TemplateKeyError(f"template {name!r}: no key {step!r} (the value before it is None)")
    found = getattr(current, step, _MISSING)
    if found is not _MISSING:
        return found
    if isinstance(current, BaseModel):
        for field_name, info in type(current).model_fields.items():
            if step in (info.alias, info.validation_alias, info.serialization_alias):
                return getattr(current, field_name)
    raise TemplateKeyError(f"template {name!r}: no key {step!r}")


def _known(mapping: Mapping[Any, Any]) -> str:
    keys = [repr(k) for k in list(mapping)[:8]]
    if not keys:
        return " (the object is empty)"
    more = ", ..." if len(mapping) > 8 else ""
    return f" (keys: {', '.join(keys)}{more})"


def now() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. ``2025-01-31T12:00:00.123Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def env(name: str) -> str:
    """The value of environment variable ``name`` (``$env.NAME`` in a template).

    Raises:
        TemplateKeyError: the variable is not set (an empty value is returned as is).
    """
    value = os.environ.get(name)
    if value is None:
        raise TemplateKeyError(f"environment variable {name!r} is not set")
    return value


def error_value(error: BaseException | None) -> dict[str, Any] | None:
    """What a node with ``onError: branch`` sends out of its ``error`` port (None: no error).

    ``message`` and ``type`` describe the cause; a ``NodeError`` also names the node.
    """
    if error is None:
        return None
    cause = error.__cause__ if error.__cause__ is not None else error
    value: dict[str, Any] = {"message": str(cause), "type": type(cause).__name__}
    for name in ("node_id", "node_type"):
        if hasattr(error, name):
            value[name] = getattr(error, name)
    return value
