"""How a run's values (inputs, outputs) are stored: JSON where they are JSON, content-addressed
blobs otherwise, and a marker instead of anything over the size cap.

``encode`` turns a value into JSON text plus the blobs it refers to; the caller (the recorder's
writer thread) stores both. A value that cannot be stored as it is becomes a marker object with
one key ``$atomiton``:

* ``{"$atomiton": "blob", "sha256": ..., "kind": "bytes"|"json", "size": n}``: the bytes, or the
  JSON text of a large value, are in the ``blobs`` table under that hash;
* ``{"$atomiton": "omitted", "type": "bytes", "size": n}``: over the cap, not stored at all
  (``size`` is in bytes for bytes and text, in items for containers);
* ``{"$atomiton": "unstorable", "type": "generator", "repr": "..."}``: not data (a stream, a
  handle, an object of a class of one's own); it is never read or consumed.

Measuring a value stops as soon as it passes the cap, so a 1 GB value costs the recorder a walk
of its first few megabytes, never a copy. Reading blobs back is ``runstore.py``'s.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import math
import pathlib
import uuid
from collections.abc import Mapping, Sized
from dataclasses import dataclass
from typing import Final

MARKER: Final = "$atomiton"
# Values whose JSON is at most this long are stored inline in the run's row.
INLINE_LIMIT: Final = 64 * 1024
# Values larger than this (bytes, characters or JSON text) are never stored: a marker instead.
VALUE_CAP: Final = 16 * 1024 * 1024
_REPR_LIMIT: Final = 200


@dataclass(frozen=True, slots=True)
class Blob:
    """Bytes to keep under their sha256: ``kind`` is ``bytes`` or ``json``."""

    sha256: str
    kind: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Encoded:
    """A value ready to store: its JSON text and the blobs that text refers to."""

    text: str
    blobs: tuple[Blob, ...]


class _TooLarge(Exception):
    pass


def encode(value: object, *, inline_limit: int = INLINE_LIMIT, cap: int = VALUE_CAP) -> Encoded:
    """The stored form of ``value`` (a pydantic model counts as the dict of its fields)."""
    blobs: list[Blob] = []
    plain = _plain(value)
    # The cap is per value: one huge output leaves its siblings recorded.
    if isinstance(plain, dict):
        data: object = {str(key): _storable(item, blobs, cap) for key, item in plain.items()}
    else:
        data = _storable(plain, blobs, cap)
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    if len(text) > inline_limit:
        raw = text.encode("utf-8")
        blob = Blob(hashlib.sha256(raw).hexdigest(), "json", raw)
        blobs.append(blob)
        text = json.dumps({MARKER: "blob", "sha256": blob.sha256, "kind": "json", "size": len(raw)})
    return Encoded(text, tuple(blobs))


def decode(text: str | None) -> object:
    """The value stored as ``text`` (markers stay markers; blobs are fetched on demand)."""
    return None if text is None else json.loads(text)


def _plain(value: object) -> object:
    """A pydantic model as its fields (by duck type: the store does not import pydantic)."""
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, Mapping):
        return {name: getattr(value, name) for name in fields}
    return value


def _storable(value: object, blobs: list[Blob], cap: int) -> object:
    """``value`` as JSON-ready data, with bytes moved to blobs and what cannot be stored marked."""
    try:
        _measure(value, cap)
    except _TooLarge:
        return _omitted(value)
    return _convert(value, blobs)


def _convert(value: object, blobs: list[Blob]) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        blob = Blob(hashlib.sha256(raw).hexdigest(), "bytes", raw)
        blobs.append(blob)
        return {MARKER: "blob", "sha256": blob.sha256, "kind": "bytes", "size": len(raw)}
    if isinstance(value, (list, tuple)):
        return [_convert(item, blobs) for item in value]
    if isinstance(value, dict):
        return {str(key): _convert(item, blobs) for key, item in value.items()}
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (pathlib.PurePath, uuid.UUID)):
        return str(value)
    if isinstance(value, enum.Enum):
        return _convert(value.value, blobs)
    plain = _plain(value)
    if plain is not value:
        return _convert(plain, blobs)
    return {
        MARKER: "unstorable",
        "type": type(value).__name__,
        "repr": _short_repr(value),
    }


def _measure(value: object, budget: int) -> int:
    """Roughly how many bytes ``value`` takes as JSON; raises ``_TooLarge`` past ``budget``
    without looking at the rest."""
    used = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, (str, bytes, bytearray, memoryview)):
            used += len(item) + 2
        elif isinstance(item, (list, tuple)):
            used += len(item) + 2
            if used <= budget:
                pending.extend(item)
        elif isinstance(item, dict):
            used += 2 * len(item) + 2
            if used <= budget:
                pending.extend(item.keys())
                pending.extend(item.values())
        else:
            plain = _plain(item)
            if plain is not item:
                pending.append(plain)
            else:
                used += 8
        if used > budget:
            raise _TooLarge
    return used


def _omitted(value: object) -> dict[str, object]:
    size = len(value) if isinstance(value, Sized) else None
    return {MARKER: "omitted", "type": type(value).__name__, "size": size}


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not lose the run's record
        return f"<{type(value).__name__}>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."
