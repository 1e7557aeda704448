"""What Python would refuse when it imports a generated module, found before it is written.

``codegen`` calls these: values from YAML nested past the parser's limits (E0701), the whole
module compiled and its import-time names resolved (E0702), and ``compile_problem`` for each
piece of node code. Each finding is a diagnostic at the YAML position it comes from.
"""

from __future__ import annotations

import builtins
import symtable
import warnings
from typing import Final

from .. import codes
from ..diagnostics import Diagnostic, Span
from ..errors import BlueprintError
from .ir import MISSING, Constant, Graph, Node
from .writer import LineMap, origin_of

# Values from YAML nested deeper than this are refused: Python's parser takes at most 200
# nested brackets in a statement, and the node call around a value adds a few of its own.
MAX_VALUE_DEPTH: Final = 100


def compile_problem(text: str) -> tuple[str, str] | None:
    """Why Python will not compile ``text`` (message, offending line), or None if it will."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings reappear on import; not ours
            compile(text, "<node code>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc.msg, (exc.text or "").strip()
    except (ValueError, RecursionError, MemoryError) as exc:
        return str(exc) or type(exc).__name__, ""
    return None


def param_key(node: Node, param: str) -> str:
    """How the blueprint spells parameter ``param`` (``reduce_initial`` -> ``reduceInitial``)."""
    field_info = node.spec.params.model_fields.get(param) if node.spec is not None else None
    return (field_info.alias if field_info else None) or param


def nesting(value: object) -> int:
    """How deeply lists and mappings nest in ``value`` (without recursion: it may be deep)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in (*item.keys(), *item.values()))
            deepest = max(deepest, level + 1)
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend((v, level + 1) for v in item)
            deepest = max(deepest, level + 1)
    return deepest


def check_values(graph: Graph) -> None:
    """Refuse values nested deeper than ``MAX_VALUE_DEPTH``, each at its YAML position."""
    errors: list[Diagnostic] = []

    def check(what: str, value: object, span: Span, notes: tuple[Span, ...] = ()) -> None:
        depth = nesting(value)
        if depth > MAX_VALUE_DEPTH:
            errors.append(
                Diagnostic(
                    codes.VALUE_TOO_DEEP,
                    codes.VALUE_TOO_DEEP.message(what=what, depth=depth, limit=MAX_VALUE_DEPTH),
                    span,
                    hint="flatten the value, or read it from a file at run time",
                    notes=tuple(f"included from {s}" for s in notes),
                )
            )

    graphs = [graph]
    while graphs:
        current = graphs.pop()
        check("the blueprint's metadata", dict(current.metadata), Span(current.display, 1, 1))
        for port in current.inputs:
            if port.default is not MISSING:
                check(f"the default of input {port.name!r}", port.default, port.span)
        for output in current.outputs:
            if isinstance(output.binding, Constant):
                check(f"output {output.port.name!r}", output.binding.value, output.port.span)
        for node in current.nodes:
            constants = [
                binding.value
                for bound in node.inputs.values()
                for binding in (bound if isinstance(bound, tuple) else (bound,))
                if isinstance(binding, Constant)
            ]
            for name, value in node.params.items():
                what = f"parameter {param_key(node, name)!r} of node {node.id!r}"
                check(what, value, node.span, node.included_from)
            for value in constants:
                check(f"a value of node {node.id!r}", value, node.span, node.included_from)
            graphs.extend(node.bodies)
    if errors:
        raise BlueprintError(errors)


def check_module(code: str, line_map: LineMap, graph: Graph) -> None:
    """Compile the whole module (cheap: nothing runs) and report a failure at its node.

    Besides what ``compile()`` rejects, a name that the module's top level or a class body
    reads but nothing defines (a missing import) would fail the import: that is checked too.
    Everything the module holds was checked on the way in, so a failure here is atomiton's
    own mistake; it is still reported where it comes from, never as a traceback, and nothing
    is written.
    """
    line: int | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<generated module>", "exec", dont_inherit=True)
            undefined = undefined_at_import(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = exc.lineno if isinstance(exc, SyntaxError) else None
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc) or type(exc).__name__
    else:
        if not undefined:
            return
        message = f"{', '.join(map(repr, undefined))} read on import but never defined"
    span = Span(graph.display, 1, 1)
    origin = origin_of(line_map, line) if line is not None else None
    if origin is not None:
        span = origin.span
    where = f" (generated line {line})" if line is not None else ""
    raise BlueprintError(
        [
            Diagnostic(
                codes.MODULE_DOES_NOT_COMPILE,
                codes.MODULE_DOES_NOT_COMPILE.message(message=f"{message}{where}"),
                span,
                hint="this is a bug in atomiton; please report it with the blueprint",
            )
        ]
    )


def undefined_at_import(code: str) -> list[str]:
    """Names the module's top level or its class bodies read that it never defines.

    Those run on import (functions only when called, and node code is the user's to get right:
    mypy reports its names), so any such name would make the import fail with a NameError.
    """
    table = symtable.symtable(code, "<generated module>", "exec")
    defined = {
        symbol.get_name()
        for symbol in table.get_symbols()
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace()
    }
    defined.update(dir(builtins))
    missing: set[str] = set()
    for scope in [table, *(t for t in table.get_children() if t.get_type() == "class")]:
        for symbol in scope.get_symbols():
            local = scope is not table and (symbol.is_assigned() or symbol.is_imported())
            if symbol.is_referenced() and not local and symbol.get_name() not in defined:
                missing.add(symbol.get_name())
    return sorted(missing)
