"""The compile-time side of JavaScript node code, called by the compiler's schema stage.

A ``code`` or ``transform`` node with the parameter ``runtime: javascript`` becomes a
``javascript-code`` or ``javascript-transform`` node here, so the stages after the schema see a
node type with a plain string parameter and never parse it as Python. Its code is checked for
syntax (an error is reported at the YAML line and column of the failing JavaScript), and each
``inputs.<name>`` it reads becomes a template in its ``inputs`` parameter, bound like any other.
The engine is imported only for a blueprint that has JavaScript and when the ``js`` extra is
installed; without it the graph builder reports the missing extra (E0215, with the
``pip install``). Running the code is ``javascript_engine``'s job.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, MutableMapping
from typing import Final

from .. import codes
from ..diagnostics import DiagnosticSink, Span
from .javascript_engine import ENGINE_MODULE
from .javascript_source import (
    JavaScriptFunction,
    function_of,
    input_reads,
    looks_like_javascript,
)
from .javascript_transform import arguments

# node type -> (the type it becomes with runtime: javascript, its parameter holding the code).
ROUTES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "code": ("javascript-code", ("code",)),
    "transform": ("javascript-transform", ("transformFunction", "transform_function")),
}


def route_javascript(
    node: str,
    node_type: str,
    params: MutableMapping[str, object],
    *,
    value_span: Callable[[str], Span],
    yaml_text: str,
    template_spans: MutableMapping[tuple[str | int, ...], Span],
    sink: DiagnosticSink,
) -> str:
    """The node type a node has once its runtime is taken into account; checks JavaScript code.

    Args:
        node: the node's id, for messages.
        node_type: the type as written.
        params: the node's parameters by their YAML names; ``inputs`` is set here when the code
            reads blueprint inputs.
        value_span: where a parameter's value starts.
        yaml_text: the whole file, to find the lines of a block scalar.
        template_spans: where each template under a parameter is written; the ``inputs``
            templates made here point at the code line that reads them.
        sink: receives E0320 (syntax), E0321 (``inputs`` used whole) and W0320 (JavaScript
            in a node without ``runtime: javascript``).

    Returns:
        ``javascript-code`` or ``javascript-transform`` for code written in JavaScript, else
        ``node_type`` unchanged.
    """
    route = ROUTES.get(node_type)
    if route is None:
        return node_type
    if params.get("runtime") != "javascript":
        if "runtime" not in params:
            _check_not_javascript(node, route[1], params, value_span, sink)
        return node_type
    routed, keys = route
    key = next((k for k in keys if k in params), keys[0])
    code = params.get(key)
    if not isinstance(code, str) or not code.strip() or "{{" in code:
        return routed  # missing, or not text: the parameter model reports it
    function = _function(node_type, code, params)

    def at(line: int, column: int) -> Span:
        return locate(yaml_text, value_span(key), line, column)

    if importlib.util.find_spec(ENGINE_MODULE) is not None:
        from .javascript_engine import check_syntax

        problem = check_syntax(function)
        if problem is not None:
            sink.error(
                codes.INVALID_JAVASCRIPT,
                at(problem.line, problem.column),
                node=node,
                param=key,
                message=f"{problem.message} (line {problem.line} of the code)",
                hint="node code is JavaScript here (runtime: javascript); "
                "remove that parameter for Python",
            )
    names, whole = input_reads(code)
    if whole is not None:
        sink.error(
            codes.WHOLE_INPUTS_IN_JAVASCRIPT,
            at(*whole),
            node=node,
            param=key,
            hint="read each input as inputs.<name>: only the inputs the code names are passed",
        )
    if names:
        given = params.get("inputs")
        bound: dict[str, object] = dict(given) if isinstance(given, dict) else {}
        for name, (line, column) in names.items():
            if name not in bound:
                bound[name] = "{{ inputs.%s }}" % name
                template_spans[("inputs", name)] = at(line, column)
        if given is None or isinstance(given, dict):
            params["inputs"] = bound
    return routed


def _check_not_javascript(
    node: str,
    keys: tuple[str, ...],
    params: MutableMapping[str, object],
    value_span: Callable[[str], Span],
    sink: DiagnosticSink,
) -> None:
    """Warn about JavaScript in a node that runs Python, saying how to run it as JavaScript.

    Only when the code is not Python as well (valid Python is never second-guessed); the graph
    builder then reports the Python syntax error beside the warning.
    """
    key = next((k for k in keys if k in params), keys[0])
    code = params.get(key)
    if not isinstance(code, str) or "{{" in code or not looks_like_javascript(code):
        return
    try:
        ast.parse(code)
        return
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    sink.warning(
        codes.JAVASCRIPT_IN_PYTHON_NODE,
        value_span(key),
        node=node,
        param=key,
        hint="add 'runtime: javascript' under parameters to run it as JavaScript "
        "(pip install 'atomiton[js]'), or write it in Python",
    )


def _function(node_type: str, code: str, params: MutableMapping[str, object]) -> JavaScriptFunction:
    if node_type == "code":
        return function_of(code, ("data",))
    operation = params.get("operation", "map")
    operation = operation if isinstance(operation, str) else "map"
    return function_of(code, arguments(operation), object_form=operation == "reduce")


def locate(yaml_text: str, value: Span, line: int, column: int) -> Span:
    """Where ``line``:``column`` of code written as a YAML scalar starting at ``value`` is.

    A literal block (``|``) keeps the code's lines, so any position maps exactly; in a one-line
    plain or quoted scalar the first line maps; otherwise (folded, multi-line quoted) the value's
    own position is the best there is (the message names the line of the code).
    """
    lines = yaml_text.splitlines()
    if not 1 <= value.line <= len(lines):
        return value
    text = lines[value.line - 1]
    start = text[value.column - 1 : value.column] if value.column >= 1 else ""
    if start == "|":
        first = value.line + line
        if first > len(lines):
            return value
        content = next(
            (lines[i] for i in range(value.line, len(lines)) if lines[i].strip()), lines[first - 1]
        )
        indent = len(content) - len(content.lstrip(" "))
        return Span(value.path, first, indent + column)
    if line == 1 and start not in (">", ""):
        quote = 1 if start in ("'", '"') else 0
        return Span(value.path, value.line, value.column + quote + column - 1)
    return value
