"""The ``merge`` node: fan-in, several arrays into one (n8n's Merge).

Its ``data`` input is a ``multiple`` port: every edge into it delivers one array, and ``run`` gets
them as a list in edge order. This module owns the three ways of combining them (append, by
position, by key) and their errors; which edges feed the port is the compiler's business.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Annotated, Any, Final, Literal

from pydantic import Field, ValidationInfo, field_validator

from .spec import NodeParams, Port, node_spec
from .transform import lookup_path

Mode = Literal["append", "byPosition", "byKey"]


class MergeError(ValueError):
    """The inputs cannot be merged as asked; the message names the input and the item."""


class Params(NodeParams):
    """Parameters of the ``merge`` node."""

    mode: Mode = Field(
        default="append",
        description=(
            "append: the arrays one after another, in edge order. byPosition: the objects at the "
            "same index merged into one (zip). byKey: objects whose `key` values are equal "
            "joined into one (a join, `join` says which kind)."
        ),
    )
    key: str | None = Field(
        default=None,
        validate_default=True,
        description="byKey: the field name or dotted path (`customer.id`) to match on.",
    )
    right_key: str | None = Field(
        default=None,
        description="byKey: the field to match on in the second and later inputs, when it is "
        "named differently there; default `key`.",
    )
    join: Literal["inner", "left"] = Field(
        default="inner",
        description="byKey: inner keeps only matched objects; left also keeps the first input's "
        "objects that match nothing, unchanged.",
    )
    include_unpaired: bool = Field(
        default=False,
        description="byPosition: true continues to the end of the longest array (missing items "
        "are left out); false stops at the end of the shortest.",
    )

    @field_validator("key")
    @classmethod
    def _key_for_by_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode == "byKey" and not value:
            raise ValueError("mode byKey needs `key`, the field to match on")
        if mode is not None and mode != "byKey" and value is not None:
            raise ValueError(f"`key` is used by mode byKey only, and the mode is {mode}")
        return value

    # Validators run only on values given in the blueprint (these have no validate_default),
    # so a setting that the chosen mode would silently ignore is reported instead.
    @field_validator("right_key", "join", "include_unpaired")
    @classmethod
    def _setting_for_mode(cls, value: object, info: ValidationInfo) -> object:
        wanted = "byPosition" if info.field_name == "include_unpaired" else "byKey"
        mode = info.data.get("mode")
        if mode is not None and mode != wanted:
            raise ValueError(f"this setting is used by mode {wanted} only, and the mode is {mode}")
        return value


def run(
    params: Params,
    *,
    data: Annotated[
        list[list[Any]],
        Port(
            multiple=True,
            description="The arrays to merge: one per incoming edge, in edge order.",
        ),
    ],
) -> list[Any]:
    """Combine the arrays in ``data`` (one per incoming edge, in edge order).

    Args:
        params: the node's parameters.
        data: the arrays to merge. A stream (an iterator) is read whole first.

    Returns:
        A new array: the items of every input (append), or new objects made by merging objects
        field by field, later inputs winning a field both have (byPosition, byKey).

    Raises:
        MergeError: an input is not an array, or byPosition/byKey met an item that is not an
            object, or a key value that cannot be compared for equality (a list, an object).
    """
    arrays = [_array(value, index) for index, value in enumerate(data, start=1)]
    if params.mode == "append":
        return [item for array in arrays for item in array]
    if params.mode == "byPosition":
        return _by_position(arrays, params.include_unpaired)
    return _by_key(arrays, params)


def _array(value: object, index: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, Iterator):
        return list(value)
    raise MergeError(f"input {index} is {type(value).__name__}, not an array")


def _object(item: object, index: int, position: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise MergeError(
            f"input {index} item {position} is {type(item).__name__}, not an object; "
            "byPosition and byKey merge objects (use mode append for other values)"
        )
    return item


def _by_position(arrays: list[list[Any]], include_unpaired: bool) -> list[Any]:
    lengths = [len(a) for a in arrays] or [0]
    count = max(lengths) if include_unpaired else min(lengths)
    result: list[Any] = []
    for position in range(count):
        merged: dict[str, Any] = {}
        for index, array in enumerate(arrays, start=1):
            if position < len(array):
                merged.update(_object(array[position], index, position))
        result.append(merged)
    return result


_MISSING: Final = object()


def _key_of(item: dict[str, Any], parts: list[str], index: int, position: int) -> object:
    """The item's key value, ``_MISSING`` when it has none; a usable (hashable) value otherwise."""
    try:
        value = lookup_path(item, parts)
    except (KeyError, IndexError, TypeError):
        return _MISSING
    if value is None:
        return _MISSING  # a null key matches nothing, as in SQL
    if not isinstance(value, Hashable):
        raise MergeError(
            f"input {index} item {position}: the key is {type(value).__name__}; keys must be "
            "text, numbers or booleans"
        )
    return value


def _by_key(arrays: list[list[Any]], params: Params) -> list[Any]:
    assert params.key is not None  # the model's validator guarantees it for byKey
    left_parts = params.key.split(".")
    right_parts = (params.right_key or params.key).split(".")
    if not arrays:
        return []
    rows: list[dict[str, Any]] = [
        _object(item, 1, position) for position, item in enumerate(arrays[0])
    ]
    for index, array in enumerate(arrays[1:], start=2):
        by_key: dict[object, list[dict[str, Any]]] = {}
        for position, item in enumerate(array):
            key = _key_of(_object(item, index, position), right_parts, index, position)
            if key is not _MISSING:
                by_key.setdefault(key, []).append(item)
        rows = list(_join(rows, by_key, left_parts, params.join))
    return rows


def _join(
    rows: Iterable[dict[str, Any]],
    by_key: dict[object, list[dict[str, Any]]],
    parts: list[str],
    join: str,
) -> Iterator[dict[str, Any]]:
    for position, row in enumerate(rows):
        key = _key_of(row, parts, 1, position)
        matches = by_key.get(key, []) if key is not _MISSING else []
        for match in matches:
            yield {**row, **match}
        if not matches and join == "left":
            yield dict(row)


SPEC: Final = node_spec(
    run,
    description="Fan-in: merge several arrays into one (append, by position, or by key).",
    output=Port(description="The merged array."),
    weight=30,
    purity="pure",
)
