"""The ``transform`` node: array operations (map, filter, reduce, sort, group, ...).

This module owns the operations and their error reporting. The Python code a blueprint writes in
``transformFunction`` is compiled by the compiler into a function of the generated module and
arrives here as a callable; nothing is evaluated from text at run time. An iterator (a streaming
spreadsheet read, a generator) goes through map, filter, limit and skip lazily, so a stream of
any length passes in constant memory.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, Any, Final, Literal, cast

from pydantic import Field

from .spec import Code, NodeParams, Port, node_spec

Operation = Literal[
    "map",
    "filter",
    "reduce",
    "sort",
    "group",
    "flatten",
    "unique",
    "reverse",
    "limit",
    "skip",
    "slice",
]


class TransformError(ValueError):
    """A transform could not be applied; the message names the operation and the item index."""


class Params(NodeParams):
    """Parameters of the ``transform`` node."""

    runtime: Literal["python", "javascript"] = Field(
        default="python",
        description=(
            "The language of `transformFunction`. `javascript` runs it in an embedded "
            "JavaScript engine (the `js` extra; see the javascript-transform node)."
        ),
    )
    operation: Operation = Field(default="map", description="The array operation to apply.")
    transform_function: str | None = Field(
        default=None,
        description=(
            "Python code compiled into the module: an expression over `item` (map, filter, sort, "
            "group, unique), over `acc`, `item`, `index` (reduce), or a `lambda` taking those "
            "arguments. Required for map, filter and reduce; optional key for sort, group, unique."
        ),
    )
    reduce_initial: Any = Field(
        default=None,
        description=(
            "Initial accumulator of reduce. When the key is absent the first item is the initial "
            "value and reducing starts at index 1 (an empty array then fails)."
        ),
    )
    sort_key: str | None = Field(
        default=None,
        description="Field name or dotted path (`customer.name`, `items.0`) to sort by; "
        "otherwise transformFunction, otherwise the items themselves.",
    )
    sort_direction: Literal["asc", "desc"] = Field(
        default="asc", description="Sort order; the sort is stable."
    )
    group_key: str | None = Field(
        default=None,
        description="Field name or dotted path to group by; otherwise transformFunction is the key.",
    )
    flatten_depth: int = Field(
        default=1, ge=0, description="How many levels of nested arrays flatten removes."
    )
    limit_count: int = Field(
        default=10, ge=0, description="How many items limit keeps from the start."
    )
    skip_count: int = Field(
        default=0, ge=0, description="How many items skip drops from the start."
    )
    slice_start: int | None = Field(
        default=None,
        description="Start index of slice (Python slicing; negative counts from the end).",
    )
    slice_end: int | None = Field(
        default=None, description="End index of slice, exclusive (Python slicing)."
    )


@dataclass(frozen=True, slots=True)
class Output:
    """What ``transform`` produces: the result and how many items went in and came out.

    Attributes:
        result: the transformed array (a generator for a lazy operation on an iterator).
        input_count: items that came in; None for a lazy operation (not known in advance).
        output_count: items (or groups) that came out, 1 for reduce; None for a lazy operation.
    """

    result: Annotated[
        Any,
        Port(
            description="The transformed array (group: an object of arrays; reduce: the accumulator)."
        ),
    ]
    # Typed as the ports (integer), so that wiring a count stays checked for list inputs; a lazy
    # result sets both to None (see run), which a typed receiving port rejects at run time.
    input_count: Annotated[int, Port(description="How many items came in.")]
    output_count: Annotated[
        int, Port(description="How many items (or groups) came out; 1 for reduce.")
    ]


def function_args(params: object) -> tuple[str, ...]:
    """The arguments of the compiled ``transformFunction``: reduce takes ``acc, item, index``."""
    if isinstance(params, Params) and params.operation == "reduce":
        return ("acc", "item", "index")
    return ("item",)


def run(
    params: Params,
    *,
    data: Annotated[list[Any], Port(description="The array to transform.")],
    function: Annotated[
        Callable[..., Any] | None, Code("transform_function", args_for=function_args)
    ] = None,
) -> Output:
    """Apply ``params.operation`` to ``data``.

    Args:
        params: the node's parameters.
        data: the input array (a list or tuple). An iterator (a streaming read, a generator) is
            accepted too, though the port's type says array: map, filter, limit and skip then
            return a generator and read ``data`` only as that generator is consumed; the other
            operations read the whole iterator first.
        function: the compiled ``transformFunction``; called as ``function(item)``, or
            ``function(acc, item, index)`` for reduce.

    Returns:
        The result (a list, or a generator for a lazy operation; a dict of lists for group; the
        accumulator for reduce) with the input and output counts (None when lazy).

    Raises:
        TransformError: the input is not an array, a required function or key is missing, or
            the function failed on an item (the original exception is the ``__cause__``). When
            lazy, a failing function raises from the generator, in the node that consumes it.
    """
    source: object = data
    if isinstance(source, Iterator):
        if params.operation in _LAZY:
            lazy = _LAZY[params.operation](params, source, function)
            return Output(result=lazy, input_count=_NOT_COUNTED, output_count=_NOT_COUNTED)
        source = list(source)
    if not isinstance(source, (list, tuple)):
        raise TransformError(f"transform needs an array as data, got {type(source).__name__}")
    items = list(source)
    result = _OPERATIONS[params.operation](params, items, function)
    if isinstance(result, (list, dict)):
        count = len(result)
    else:
        count = 1  # reduce yields one value
    return Output(result=result, input_count=len(items), output_count=count)


# -- operations ---------------------------------------------------------------------------------

_Fn = Callable[..., Any] | None


def _require(params: Params, function: _Fn) -> Callable[..., Any]:
    if function is None:
        raise TransformError(f"operation {params.operation!r} needs a transformFunction")
    return function


def _call(function: Callable[..., Any], index: int, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:
        raise TransformError(
            f"transformFunction failed on item {index}: {type(exc).__name__}: {exc}"
        ) from exc


def _map(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    fn = _require(params, function)
    return [_call(fn, i, item) for i, item in enumerate(items)]


def _filter(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    fn = _require(params, function)
    return [item for i, item in enumerate(items) if _call(fn, i, item)]


def _reduce(params: Params, items: list[Any], function: _Fn) -> Any:
    fn = _require(params, function)
    # An explicit `reduceInitial: null` is a real initial value; only an absent key means
    # "start from the first item", as JavaScript's reduce does.
    if "reduce_initial" in params.model_fields_set:
        acc, start = params.reduce_initial, 0
    elif items:
        acc, start = items[0], 1
    else:
        raise TransformError("reduce of an empty array needs reduceInitial")
    for index in range(start, len(items)):
        acc = _call(fn, index, acc, items[index], index)
    return acc


def _key_function(
    params: Params, path: str | None, function: _Fn, what: str
) -> Callable[[int, Any], Any] | None:
    """A key of (index, item): a field path if given, else the compiled function, else None."""
    if path is not None:
        parts = path.split(".")

        def by_path(index: int, item: Any) -> Any:
            try:
                return lookup_path(item, parts)
            except (KeyError, IndexError, TypeError) as exc:
                raise TransformError(
                    f"{what} {path!r} cannot be read from item {index}: {type(exc).__name__}: {exc}"
                ) from exc

        return by_path
    if function is not None:
        fn = function
        return lambda index, item: _call(fn, index, item)
    return None


def lookup_path(value: Any, parts: list[str]) -> Any:
    """Follow a dotted path through dicts (by key) and lists (by integer index)."""
    for part in parts:
        if isinstance(value, dict):
            value = value[part]
        elif isinstance(value, (list, tuple)):
            if not part.lstrip("-").isdigit():
                raise TypeError(f"an array has no field {part!r}")
            value = value[int(part)]
        else:
            raise TypeError(f"{type(value).__name__} has no field {part!r}")
    return value


def _sort(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    key = _key_function(params, params.sort_key, function, "sortKey")
    keyed = [(key(i, item) if key else item, item) for i, item in enumerate(items)]
    # None sorts last in both directions (as JavaScript's undefined does), so a missing optional
    # value never makes comparison fail; every other mix of types is a real error.
    present = [pair for pair in keyed if pair[0] is not None]
    absent = [item for k, item in keyed if k is None]
    try:
        present.sort(key=lambda pair: pair[0], reverse=params.sort_direction == "desc")
    except TypeError as exc:
        raise TransformError(f"sort cannot compare the keys: {exc}") from exc
    return [item for _, item in present] + absent


def _group(params: Params, items: list[Any], function: _Fn) -> dict[Any, list[Any]]:
    key = _key_function(params, params.group_key, function, "groupKey")
    if key is None:
        raise TransformError("operation 'group' needs a groupKey or a transformFunction")
    groups: dict[Any, list[Any]] = {}
    for i, item in enumerate(items):
        value = key(i, item)
        if not isinstance(value, Hashable):
            raise TransformError(
                f"group key of item {i} is a {type(value).__name__}, which cannot be a key"
            )
        groups.setdefault(value, []).append(item)
    return groups


def _flatten(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    def flatten(values: list[Any], depth: int) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if depth > 0 and isinstance(value, (list, tuple)):
                out.extend(flatten(list(value), depth - 1))
            else:
                out.append(value)
        return out

    return flatten(items, params.flatten_depth)


def _unique(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    key = _key_function(params, None, function, "")
    seen: set[Any] = set()
    # Dicts and lists cannot be hashed; they are compared by equality instead (quadratic, but
    # only over the unhashable keys).
    seen_unhashable: list[Any] = []
    out = []
    for i, item in enumerate(items):
        value = key(i, item) if key else item
        try:
            if value in seen:
                continue
            seen.add(value)
        except TypeError:
            if value in seen_unhashable:
                continue
            seen_unhashable.append(value)
        out.append(item)
    return out


def _reverse(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    return items[::-1]


def _limit(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    return items[: params.limit_count]


def _skip(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    return items[params.skip_count :]


def _slice(params: Params, items: list[Any], function: _Fn) -> list[Any]:
    return items[params.slice_start : params.slice_end]


# -- lazy operations on iterators ------------------------------------------------------------------
# Each checks its parameters at once (so a missing function fails the transform node itself), then
# returns a generator. When the generator finishes or is closed, the source iterator is closed too,
# so a streaming read releases its file as soon as limit has what it needs.


# The counts of a lazy result are not known: None, though the ports are typed integer.
_NOT_COUNTED: Final = cast(int, None)


def _close(source: Iterator[Any]) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


def _lazy_map(params: Params, source: Iterator[Any], function: _Fn) -> Iterator[Any]:
    fn = _require(params, function)

    def mapped() -> Iterator[Any]:
        try:
            for i, item in enumerate(source):
                yield _call(fn, i, item)
        finally:
            _close(source)

    return mapped()


def _lazy_filter(params: Params, source: Iterator[Any], function: _Fn) -> Iterator[Any]:
    fn = _require(params, function)

    def kept() -> Iterator[Any]:
        try:
            for i, item in enumerate(source):
                if _call(fn, i, item):
                    yield item
        finally:
            _close(source)

    return kept()


def _lazy_slice(source: Iterator[Any], start: int, stop: int | None) -> Iterator[Any]:
    # islice never reads past ``stop``: limit 3 reads exactly three items of its source.
    try:
        yield from islice(source, start, stop)
    finally:
        _close(source)


def _lazy_limit(params: Params, source: Iterator[Any], function: _Fn) -> Iterator[Any]:
    return _lazy_slice(source, 0, params.limit_count)


def _lazy_skip(params: Params, source: Iterator[Any], function: _Fn) -> Iterator[Any]:
    return _lazy_slice(source, params.skip_count, None)


_LAZY: Final[dict[str, Callable[[Params, Iterator[Any], _Fn], Iterator[Any]]]] = {
    "map": _lazy_map,
    "filter": _lazy_filter,
    "limit": _lazy_limit,
    "skip": _lazy_skip,
}

_OPERATIONS: Final[dict[str, Callable[[Params, list[Any], _Fn], Any]]] = {
    "map": _map,
    "filter": _filter,
    "reduce": _reduce,
    "sort": _sort,
    "group": _group,
    "flatten": _flatten,
    "unique": _unique,
    "reverse": _reverse,
    "limit": _limit,
    "skip": _skip,
    "slice": _slice,
}

SPEC: Final = node_spec(
    run,
    description="Array operations, with Python functions compiled into the module.",
    weight=50,
    purity="pure",
)
