"""The ``javascript-code`` node: a ``code`` node whose code is JavaScript (``runtime: javascript``).

The compiler routes a ``code`` node with ``runtime: javascript`` here at the schema boundary
(``javascript_compile``), checks the code's syntax and fills ``inputs`` with the blueprint inputs
the code reads. This module calls the run's engine (``javascript_engine``) once per run of the
node; the Python ``code`` node stays in ``code``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import Field

from . import code as python_code
from .javascript_engine import ENGINE_MODULE, EXTRA, run_javascript
from .javascript_source import function_of
from .spec import NodeParams

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

# What the code is called with: the node's input (``inputs`` comes after it).
ARGS: Final = ("data",)


class Params(NodeParams):
    """Parameters of the ``javascript-code`` node."""

    runtime: Literal["javascript"] = Field(
        default="javascript", description="The language of `code`: JavaScript."
    )
    code: str = Field(
        min_length=1,
        description=(
            "JavaScript run in an embedded engine: a function body over `data` (the node's input) "
            "and `inputs` that `return`s the result, or one expression (its value is the result), "
            "or a function such as `data => data.length`. Values cross as JSON."
        ),
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "The object the code reads as `inputs`; the compiler fills it with each blueprint "
            "input the code reads as `inputs.<name>`."
        ),
    )


def run(params: Params, *, data: Any = None, context: NodeContext | None = None) -> Any:
    """Run the JavaScript ``code`` with ``data`` and return what it returns.

    Args:
        params: the node's parameters.
        data: the node's input; a JSON value.
        context: the node's context: the run's engines, and cancellation (a node timeout stops
            the script). None: a one-off engine.

    Returns:
        The code's result, decoded from JSON (``undefined`` is None).

    Raises:
        JavaScriptError: the code threw, or a value is not JSON.
        CancelledError: the script was stopped by a timeout or cancellation.
    """
    function = function_of(params.code, ARGS)
    return run_javascript(function, "call", data, params.inputs, context=context)


SPEC: Final = replace(
    python_code.SPEC,
    type="javascript-code",
    module=__name__,
    params=Params,
    description="A JavaScript function body run in an embedded V8 engine "
    "('code' with runtime: javascript).",
    code_params={},
    aliases=(),
    needs_context=True,
    requires=(ENGINE_MODULE,),
    extra=EXTRA,
)
