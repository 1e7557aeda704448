"""Printing a run's outputs: the values a flow returned, made into JSON-able data first.

A flow may return what JSON has no word for: a stream (a generator, a streaming spreadsheet read),
bytes, a path, a date. Streams are read into lists up to ``STREAM_LIMIT`` items and closed; a
longer one (or an endless one) is described instead of printed, with a warning, so ``run --json``
always prints JSON and never a Python repr of an iterator. Nothing here catches ``MemoryError``:
running out of memory while printing is a failure, reported by the caller.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Final

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python
from rich.console import Console

# Enough for any listing a person reads; an endless generator stops here instead of filling memory.
STREAM_LIMIT: Final = 100_000


def _leaf(value: object) -> object:
    """A value that is not a container, as JSON data (pydantic's rules, then a description)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None  # as pydantic's JSON mode does: NaN and infinities are not JSON
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode("ascii"), "bytes": len(raw)}
    try:
        return to_jsonable_python(value, by_alias=True)
    except (PydanticSerializationError, TypeError, ValueError):
        return f"<{type(value).__name__} object>"


def jsonable(value: object, *, name: str, warn: Callable[[str], None]) -> object:
    """``value`` as data ``json.dumps`` accepts, reading streams (up to ``STREAM_LIMIT`` items).

    Args:
        value: an output value, as the flow returned it.
        name: where the value is, for warnings (``items[3].rows``).
        warn: called with a message when a stream is too long to print.
    """
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, BaseModel):
        value = {k: getattr(value, k) for k in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, name=f"{name}.{k}", warn=warn) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, name=f"{name}[{i}]", warn=warn) for i, v in enumerate(value)]
    if isinstance(value, Iterator):
        return _drain(value, name=name, warn=warn)
    return _leaf(value)


def _drain(stream: Iterator[object], *, name: str, warn: Callable[[str], None]) -> object:
    items: list[object] = []
    try:
        for item in stream:
            if len(items) == STREAM_LIMIT:
                warn(
                    f"output {name!r} is a stream of more than {STREAM_LIMIT} items; "
                    "not printed (write it to a file in the flow instead)"
                )
                return f"<stream of more than {STREAM_LIMIT} items, not printed>"
            items.append(jsonable(item, name=f"{name}[{len(items)}]", warn=warn))
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()  # a generator stopped early releases what it holds (an open file)
    return items


def outputs_data(outputs: BaseModel, warn: Callable[[str], None]) -> dict[str, object]:
    """Every output by its name in the blueprint, as JSON data."""
    data: dict[str, object] = {}
    for field_name, info in type(outputs).model_fields.items():
        shown = info.alias or field_name
        data[shown] = jsonable(getattr(outputs, field_name), name=shown, warn=warn)
    return data


def print_outputs(
    data: Mapping[str, object], *, as_json: bool, console: Console, out: IO[str]
) -> None:
    """Print outputs: one JSON object on ``out``, or one ``name: value`` block each on ``console``."""
    if as_json:
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
        out.flush()
        return
    for name, value in data.items():
        if isinstance(value, str) and "\n" not in value.rstrip("\n"):
            console.print(f"{name}: {value.rstrip(chr(10))}", markup=False)
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False)
            console.print(f"{name}:", markup=False)
            console.print("\n".join(f"  {line}" for line in text.splitlines()), markup=False)
