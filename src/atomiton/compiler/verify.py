"""What Python would refuse when it imports a generated module, found before it is written.

``codegen`` calls these: values from YAML nested past the parser's limits (E0701), the whole
module compiled and its import-time names resolved (E0702), and ``compile_problem`` for each
piece of node code. Each finding is a diagnostic at the YAML position it comes from.
"""

from __future__ import annotations

import __future__
import builtins
import dis
import functools
import inspect
import operator
import warnings
from collections.abc import Sequence
from types import CodeType
from typing import Final

from .. import codes
from ..diagnostics import Diagnostic, Span
from ..errors import BlueprintError
from .ir import MISSING, Constant, Graph, Node
from .writer import LineMap, origin_of

# The code flags of ``from __future__`` imports: what the first part of a module compiled in
# parts hands on to the others.
_FUTURE_FLAGS: Final = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)
)

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


def check_module(code: str | Sequence[tuple[int, str]], line_map: LineMap, graph: Graph) -> None:
    """Compile the whole module (cheap: nothing runs) and report a failure at its node.

    ``code`` is the module's text, or its parts split where top-level statements start
    ((first line, text) each, as ``CodeWriter.parts`` gives them). Parts are compiled one by
    one, under the ``__future__`` features the first one (which holds the module's future
    import) turns on: that is what compiling the whole text checks, since every scope but the
    module's lies within one part and the module's own statements are the emitter's, and it
    costs far less on a large module (compiling 200,000 lines at once is slower per line than
    compiling them in parts). A future import past the first part, which only the whole text
    would refuse, sends the whole text to ``compile()``.

    Besides what ``compile()`` rejects, a name that the module's top level or a class body
    reads but nothing defines (a missing import) would fail the import: that is checked too,
    on the bytecode of the same compilation (parsing the module again would double the cost).
    Everything the module holds was checked on the way in, so a failure here is atomiton's
    own mistake; it is still reported where it comes from, never as a traceback, and nothing
    is written.
    """
    parts = [(1, code)] if isinstance(code, str) else list(code)
    if any("from __future__" in text for _, text in parts[1:]):
        parts = [(1, "".join(text for _, text in parts))]
    line: int | None = None
    compiled: list[CodeType] = []
    first = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flags = 0
            for first, text in parts:
                compiled.append(
                    compile(text, "<generated module>", "exec", flags=flags, dont_inherit=True)
                )
                flags = compiled[0].co_flags & _FUTURE_FLAGS
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        if isinstance(exc, SyntaxError) and exc.lineno is not None:
            line = exc.lineno + first - 1
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc) or type(exc).__name__
    else:
        undefined = undefined_at_import(compiled)
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


# Instructions that name a variable of a module or class body (``co_names[arg]``), and those
# that read a global from a class body after a ``global`` declaration (``co_names[arg >> 1]``
# since Python 3.11, whose low bit says something else).
_LOAD_NAME: Final = dis.opmap["LOAD_NAME"]
_STORE_NAME: Final = dis.opmap["STORE_NAME"]
_LOAD_GLOBAL: Final = dis.opmap["LOAD_GLOBAL"]
_STORE_GLOBAL: Final = dis.opmap["STORE_GLOBAL"]
_IMPORT_STAR: Final = dis.opmap.get("IMPORT_STAR", -1)
_EXTENDED_ARG: Final = dis.EXTENDED_ARG
# Functions (comprehensions and lambdas included) get fresh locals; module and class bodies
# do not.
_NEW_LOCALS: Final = inspect.CO_NEWLOCALS
# Names every module namespace holds besides the builtins' (annotations land in the first).
_MODULE_NAMES: Final = frozenset(
    {"__annotations__", "__builtins__", "__file__", "__cached__", "__loader__", "__spec__"}
)


def undefined_at_import(module: CodeType | str | Sequence[CodeType]) -> list[str]:
    """Names the module's top level or its class bodies read that it never defines.

    Those run on import (functions only when called, and node code is the user's to get right:
    mypy reports its names), so any such name would make the import fail with a NameError.
    ``module`` is the compiled module (or its text, or its parts compiled one by one); the
    module's and its class bodies' bytecode say what they read and store.
    """
    if isinstance(module, str):
        module = compile(module, "<generated module>", "exec")
    units = [module] if isinstance(module, CodeType) else list(module)
    loads: set[str] = set()
    stores: set[str] = set()
    for code in units:
        read, stored, star = _names(code)
        if star:  # ``from x import *`` may define anything
            return []
        loads |= read
        stores |= stored
    defined = stores | _MODULE_NAMES | set(dir(builtins))
    missing = {name for name in loads if name not in defined}
    classes = [c for code in units for c in code.co_consts if isinstance(c, CodeType)]
    while classes:
        body = classes.pop()
        if body.co_flags & _NEW_LOCALS:
            continue
        loads, own, star = _names(body)
        if not star:
            missing.update(name for name in loads if name not in own and name not in defined)
        classes.extend(c for c in body.co_consts if isinstance(c, CodeType))
    return sorted(missing)


def _names(code: CodeType) -> tuple[set[str], set[str], bool]:
    """(names read, names stored, whether ``import *`` runs) by ``code``'s own instructions."""
    raw = code.co_code
    # Every instruction is two bytes (opcode, argument; inline caches are opcode 0): the
    # opcodes apart, each of the few wanted is found by ``bytes.find``, not a Python loop.
    ops, args = raw[0::2], raw[1::2]
    names = code.co_names
    found: dict[int, set[str]] = {}
    for op in (_LOAD_NAME, _STORE_NAME, _STORE_GLOBAL, _LOAD_GLOBAL):
        values = found.setdefault(op, set())
        at = ops.find(op)
        while at >= 0:
            arg, before, shift = args[at], at - 1, 8
            while before >= 0 and ops[before] == _EXTENDED_ARG:
                arg |= args[before] << shift
                before, shift = before - 1, shift + 8
            values.add(names[arg >> 1 if op == _LOAD_GLOBAL else arg])
            at = ops.find(op, at + 1)
    loads = found[_LOAD_NAME] | found[_LOAD_GLOBAL]
    stores = found[_STORE_NAME] | found[_STORE_GLOBAL]
    return loads, stores, _IMPORT_STAR >= 0 and ops.find(_IMPORT_STAR) >= 0
