"""The ``javascript-transform`` node: ``transform`` with a JavaScript ``transformFunction``.

The compiler routes a ``transform`` node with ``runtime: javascript`` here at the schema boundary
(``javascript_compile``). The whole array crosses into the engine in one call: map, filter and
reduce run there, sort, group and unique get their keys from there and order in Python with the
``transform`` node's own rules, and ``script`` hands the code the whole array as ``data``
(Atomiton's ``return data.filter(...)`` bodies). Operations without code are ``transform``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import Field, model_validator

from . import transform
from .javascript_engine import ENGINE_MODULE, EXTRA, JavaScriptError, run_javascript
from .javascript_source import JavaScriptFunction, function_of
from .transform import Output, TransformError

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

__all__ = ["SPEC", "Output", "Params", "arguments", "run"]

# Operations whose transformFunction runs over the items one by one (reduce: acc, item, index).
_PER_ITEM: Final = frozenset({"map", "filter", "sort", "group", "unique"})
_NEEDS_CODE: Final = frozenset({"map", "filter", "reduce", "script"})


class Params(transform.Params):
    """Parameters of the ``javascript-transform`` node: ``transform``'s, in JavaScript."""

    runtime: Literal["javascript"] = Field(
        default="javascript", description="The language of `transformFunction`: JavaScript."
    )
    # transform's operations and ``script``; redeclared to add that one value, which a
    # subclass may not do to a field as far as mypy is concerned.
    operation: Literal[transform.Operation, "script"] = Field(  # type: ignore[assignment]
        default="map",
        description="The array operation to apply; `script`: transformFunction gets the whole "
        "array as `data` and what it returns is the result.",
    )
    transform_function: str | None = Field(
        default=None,
        description=(
            "JavaScript run in an embedded engine, the whole array in one call: an arrow function "
            "(`item => ...`, `(item, index) => ...`; reduce: `(acc, item) => ...` or "
            "`({acc, item}) => ...`), or an expression or function body over `item` and `index` "
            "(reduce: `acc`, `item`, `index`; script: `data`). `inputs.<name>` reads a blueprint "
            "input. Values cross as JSON."
        ),
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "The object the code reads as `inputs`; the compiler fills it with each blueprint "
            "input the code reads as `inputs.<name>`."
        ),
    )

    @model_validator(mode="after")
    def _code_present(self) -> Params:
        if self.operation in _NEEDS_CODE and not (self.transform_function or "").strip():
            raise ValueError(f"operation {self.operation!r} needs a transformFunction")
        return self


def arguments(operation: str) -> tuple[str, ...]:
    """What the code of ``operation`` is called with (``inputs`` comes after them)."""
    if operation == "reduce":
        return ("acc", "item", "index")
    if operation == "script":
        return ("data",)
    return ("item", "index")


def function_for(params: Params) -> JavaScriptFunction | None:
    """The node's ``transformFunction`` as a JavaScript function, or None if it has none."""
    if not params.transform_function:
        return None
    return function_of(
        params.transform_function,
        arguments(params.operation),
        object_form=params.operation == "reduce",
    )


def run(params: Params, *, data: list[Any], context: NodeContext | None = None) -> Output:
    """Apply ``params.operation`` to ``data``, running ``transformFunction`` in JavaScript.

    Args:
        params: the node's parameters.
        data: the input array (an iterator is read whole: JavaScript gets the array at once).
        context: the node's context: the run's engines, and cancellation (a node timeout stops
            the script). None: a one-off engine.

    Returns:
        The result with the input and output counts, as ``transform`` gives them.

    Raises:
        TransformError: the input is not an array, or the operation cannot be applied.
        JavaScriptError: the code threw (with the item index), or a value is not JSON.
        CancelledError: the script was stopped by a timeout or cancellation.
    """
    source: object = data
    if isinstance(source, Iterator):
        source = list(source)
    if not isinstance(source, (list, tuple)):
        raise TransformError(f"transform needs an array as data, got {type(source).__name__}")
    items = list(source)
    function = function_for(params)
    operation = params.operation

    def call(op: str, initial: tuple[object, ...] = ()) -> Any:
        assert function is not None  # the model insists on code for these operations
        return run_javascript(
            function,
            op,
            items,
            params.inputs,
            context=context,
            initial=initial,
            what="transformFunction",
        )

    if operation == "script":
        result = call("call")
        count = len(result) if isinstance(result, (list, dict)) else 1
        return Output(result=result, input_count=len(items), output_count=count)
    if operation in ("map", "filter"):
        result = call(operation)
        return Output(result=result, input_count=len(items), output_count=len(result))
    if operation == "reduce":
        if "reduce_initial" in params.model_fields_set:
            initial: tuple[object, ...] = (params.reduce_initial,)
        elif items:
            initial = ()
        else:
            raise TransformError("reduce of an empty array needs reduceInitial")
        return Output(result=call("reduce", initial), input_count=len(items), output_count=1)
    python = _python_params(params)
    keyed = (
        function is not None
        and operation in _PER_ITEM
        and not (operation == "sort" and params.sort_key)
        and not (operation == "group" and params.group_key)
    )
    if not keyed:
        return transform.run(python, data=items)
    # The keys come from JavaScript in one call; transform orders, groups or dedupes the item
    # indexes by them, so its rules (stable sort, None last, hashable keys) hold here too.
    keys = call("map")
    if not isinstance(keys, list) or len(keys) != len(items):
        raise JavaScriptError("transformFunction gave no key for every item")
    indexed = transform.run(python, data=list(range(len(items))), function=keys.__getitem__)
    if isinstance(indexed.result, dict):
        grouped = {k: [items[i] for i in v] for k, v in indexed.result.items()}
        return replace(indexed, result=grouped)
    return replace(indexed, result=[items[i] for i in indexed.result])


def _python_params(params: Params) -> transform.Params:
    """The same settings as ``transform``'s parameters (its operations do the work)."""
    own = set(transform.Params.model_fields)
    values = {k: getattr(params, k) for k in params.model_fields_set if k in own}
    values["operation"] = params.operation
    return transform.Params.model_validate(values)


SPEC: Final = replace(
    transform.SPEC,
    type="javascript-transform",
    module=__name__,
    params=Params,
    description="Array operations with JavaScript functions, run in an embedded V8 engine "
    "('transform' with runtime: javascript).",
    code_params={},
    aliases=(),
    needs_context=True,
    requires=(ENGINE_MODULE,),
    extra=EXTRA,
)
