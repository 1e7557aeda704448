"""The ``code`` node: a Python function body written in the blueprint.

The compiler turns the ``code`` parameter into a real function of the generated module (so mypy
checks it and nothing is evaluated from text at run time); this module only calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from pydantic import Field

from .spec import CodeParam, NodeParams, NodeSpec, Port


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


def run(params: Params, *, data: Any = None, function: Callable[[Any], Any]) -> Any:
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


SPEC: Final = NodeSpec(
    type="code",
    module=__name__,
    params=Params,
    inputs=(Port("data", "any", description="The value the code reads as `data`."),),
    outputs=(Port("result", "any", description="What the code returns."),),
    description="A Python function body written in the blueprint, compiled into the module.",
    execution="inline",
    weight=100,
    code_params={"code": CodeParam(kwarg="function", kind="body", args=("data",), required=True)},
)
