"""The ``code`` node: a Python function body written in the blueprint.

The compiler turns the ``code`` parameter into a real function of the generated module (so mypy
checks it and nothing is evaluated from text at run time); this module only calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from pydantic import Field

from .spec import Code, NodeParams, Port, node_spec


class Params(NodeParams):
    """Parameters of the ``code`` node."""

    runtime: Literal["python", "javascript"] = Field(
        default="python",
        description=(
            "The language of `code`. `javascript` runs it in an embedded JavaScript engine "
            "(the `js` extra; see the javascript-code node)."
        ),
    )
    code: str = Field(
        default="",
        description=(
            "Python statements compiled into the module as the body of a function of `data` "
            "(the node's input); they `return` the node's result. A single expression is "
            "returned as is."
        ),
    )


def run(
    params: Params,
    *,
    data: Annotated[Any, Port(description="The value the code reads as `data`.")] = None,
    function: Annotated[Callable[[Any], Any], Code("code", kind="body", args=("data",))],
) -> Any:
    """Call the compiled ``code`` with the input and return what it returns.

    Args:
        params: the node's parameters (``code`` is only read by the compiler).
        data: the node's input, any value.
        function: the compiled body, a function of ``data``.

    Returns:
        The function's return value, unchanged.

    Raises:
        Exception: whatever the code raises propagates unchanged, so its traceback points into
            the generated module at the line the blueprint's code came from.
    """
    return function(data)


SPEC: Final = node_spec(
    run,
    description="A Python function body written in the blueprint, compiled into the module.",
    output=Port(description="What the code returns."),
    purity="pure",
)
