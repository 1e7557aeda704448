"""Node code (a ``code:`` block, a transform's function) as functions of the generated module.

This module owns three things about each piece of code: the function's text (arguments, the
camelCase aliases, ``inputs.<name>`` reads replaced where an included blueprint's input is fed
by something else), its layout, and the blueprint line each of its lines comes from, so that a
failing statement on line 4 of a block starting on YAML line 30 is placed at line 33. It also
says why Python would refuse code that ``ast`` accepted (E0302, E0703). Where the function goes
in the module, and the expressions substituted into it, are codegen's.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .. import codes
from ..codes import ErrorCode
from ..diagnostics import Diagnostic, Span
from ..naming import camel_case
from .expressions import substitute_reads
from .ir import Binding, CodeFunction, Node
from . import layout, verify
from .module_text import FunctionText
from .naming import identifier, is_safe_identifier
from .writer import Origin


@dataclass(frozen=True, slots=True)
class _Code:
    """One node's code function: laid out and ``placed`` as it stands in the module (only
    indented, at module scope), or the ``problem`` that kept it from being laid out, or
    ``too_deep`` to even be written."""

    node: Node
    function: CodeFunction
    text: str
    placed: str | None = None
    problem: tuple[str, str] | None = None
    too_deep: bool = False


class NodeCode:
    """Writes node code as functions, and collects what Python would refuse in it."""

    def __init__(self, absolute: Callable[[str], Path]) -> None:
        self.errors: list[Diagnostic] = []
        self._code: list[_Code] = []  # node code in order, for ``check``
        self._absolute = absolute
        self._files: dict[str, list[str] | None] = {}

    def function(
        self,
        node: Node,
        function: CodeFunction,
        name: str,
        value: Callable[[Binding], str],
        origin: Origin,
        indent: int,
    ) -> FunctionText | None:
        """The code as a function ``name`` laid out at ``indent``, or None when it cannot be.

        ``ast`` accepts some code that only the compiler rejects (``break`` outside a loop,
        ``import *`` in a function, ``nonlocal`` with nothing to bind, an argument declared
        ``global``): that is E0302. The function is compiled as laid out, on its own at module
        scope, so ``nonlocal`` cannot reach the variables of the generated code around it
        either. Code that compiles as written but not laid out was taken past Python's limits
        by black's brackets (E0703). Compiling waits for ``check``, which compiles every
        node's code at once.
        """
        try:
            text, prologue = self._text(function, name, value)
        except RecursionError:
            self._code.append(_Code(node, function, "", too_deep=True))
            return None
        try:
            laid = layout.fit(text, indent, force=True)
        except (RecursionError, ValueError) as exc:  # black's InvalidInput is a ValueError
            self._code.append(
                _Code(node, function, text, problem=(str(exc) or type(exc).__name__, ""))
            )
            return None
        # Compiled where it stands, indented; ``if`` blocks keep it at module scope.
        blocks = "".join(f"{' ' * level}if True:\n" for level in range(0, indent, 4))
        self._code.append(_Code(node, function, text, placed=f"{blocks}{' ' * indent}{laid}"))
        return FunctionText(laid, self._origins(node, function, laid, prologue, origin))

    def _text(
        self, function: CodeFunction, name: str, value: Callable[[Binding], str]
    ) -> tuple[str, int]:
        """The function's source, and how many statements precede the blueprint's own."""
        # Code reads ``inputs.<name>``; where that is not the flow's own input of that name
        # (an included blueprint's input, fed by a node or a parameter), the read is replaced
        # by the value's expression, so the code sees what its own blueprint was given.
        # ``variables.<name>`` (Atomiton's spelling) is rewritten too: the module has no
        # ``variables``, only ``inputs``.
        replacements = {
            read: expression
            for read, binding in function.reads
            if (expression := value(binding)) != f"inputs.{read}" or "variables" in function.source
        }
        if replacements:
            function = replace(function, source=substitute_reads(function.source, replacements))
        args = ", ".join(f"{identifier(a, reserved=frozenset())}: Any" for a in function.args)
        # Atomiton spells arguments in camelCase (lastResult): offer that spelling too.
        aliases = [
            f"    {camel_case(a)} = {a}\n"
            for a in function.args
            if camel_case(a) != a and is_safe_identifier(camel_case(a))
        ]
        if function.kind == "body":
            source = function.source
            # One line (most code) needs no walk over lines to be indented.
            indented = f"    {source}" if "\n" not in source else textwrap.indent(source, "    ")
            body = "".join(aliases) + indented
        elif function.source.startswith("lambda"):
            call_args = ", ".join(identifier(a, reserved=frozenset()) for a in function.args)
            body = f"    return ({function.source})({call_args})"
            aliases = []
        else:
            body = "".join(aliases) + f"    return {function.source}"
        return f"def {name}({args}) -> Any:\n{body}", len(aliases)

    # -- where each line comes from ---------------------------------------------------------------

    def _origins(
        self, node: Node, function: CodeFunction, laid: str, prologue: int, node_origin: Origin
    ) -> tuple[Origin | None, ...]:
        """The blueprint position of each line of ``laid`` (None: the node's own)."""
        count = laid.count("\n") + 1
        source = node.params.get(function.param)
        if function.span is None or not isinstance(source, str):
            return (None,) * count
        first, column, exact = self._first_line(function.span)
        # Lines the parsed code drops in front (blank lines; ``strip`` of an expression).
        multiline = function.kind == "body" and "\n" in source
        stripped = textwrap.dedent(source) if multiline else source
        skipped = stripped[: len(stripped) - len(stripped.lstrip())].count("\n")

        path = function.span.path

        def origin(code_line: int) -> Origin:
            line = first + skipped + code_line - 1 if exact else first
            span = Span(path, line, self._column(path, line, column))
            return Origin(span, node_origin.node, node_origin.included_from)

        start = origin(1)
        if count == 1 or "\n" not in source.strip():
            return (start,) * count
        lines = _code_lines(source, function.kind, laid, prologue)
        if lines is None:
            return (start,) * count
        return tuple(start if line is None else origin(line) for line in lines)

    def _first_line(self, span: Span) -> tuple[int, int, bool]:
        """(line, column, lines kept) of a code value whose key is at ``span``.

        A literal block (``code: |``) starts on the next line and keeps every line as written;
        a value on the key's own line starts there (quoted or folded lines do not map one to
        one: they are all placed at the start).
        """
        lines = self._lines(span.path)
        if lines is None or not 0 < span.line <= len(lines):
            return span.line, span.column, False
        text = lines[span.line - 1]
        colon = text.find(":", max(0, span.column - 1))
        rest = text[colon + 1 :] if colon >= 0 else ""
        value = rest.lstrip()
        if value.startswith("|"):
            return span.line + 1, 0, True
        if colon < 0 or not value or value.startswith("#"):
            return span.line, span.column, False
        column = colon + 2 + len(rest) - len(value)
        return span.line, column, not value.startswith(("'", '"', ">"))

    def _column(self, path: str, line: int, column: int) -> int:
        """``column`` when known, else where the text of the file's ``line`` starts."""
        if column:
            return column
        lines = self._lines(path) or []
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        return len(text) - len(text.lstrip()) + 1

    def _lines(self, display: str) -> list[str] | None:
        if display not in self._files:
            try:
                raw = self._absolute(display).read_bytes()
                self._files[display] = raw.decode("utf-8-sig", errors="replace").splitlines()
            except OSError:
                self._files[display] = None
        return self._files[display]

    # -- what Python refuses ----------------------------------------------------------------------

    def check(self, module_compiles: bool = False) -> None:
        """Record why Python would not compile node code, at the code's YAML position.

        The functions are independent at module scope, so compiling them together fails
        exactly when one of them does; only then is each compiled alone, to say which.
        ``module_compiles``: the whole module, which holds every function, compiled, so only
        a ``nonlocal`` can still fail here (there it found the task function's variables).
        """
        placed = [
            code.placed
            for code in self._code
            if code.placed is not None and (not module_compiles or "nonlocal" in code.placed)
        ]
        together_ok = not placed or verify.compile_problem("\n".join(placed)) is None
        if together_ok and not any(code.problem or code.too_deep for code in self._code):
            return
        for code in self._code:
            problem: tuple[str, str] | None
            if code.too_deep:
                self._error(
                    code.node,
                    code.function,
                    codes.UNWRITABLE_CODE,
                    "its expressions nest too deeply",
                )
                continue
            if code.problem is not None:
                problem = code.problem
            elif together_ok or code.placed is None:
                continue
            else:
                problem = verify.compile_problem(code.placed)
                if problem is None:
                    continue
            # Which it is: the code as written (E0302), or only as laid out (E0703).
            written = verify.compile_problem(code.text)
            if written is not None:
                self._error(code.node, code.function, codes.INVALID_CODE, *written)
            else:
                self._error(code.node, code.function, codes.UNWRITABLE_CODE, problem[0])

    def _error(
        self, node: Node, function: CodeFunction, code: ErrorCode, message: str, line: str = ""
    ) -> None:
        key = verify.param_key(node, function.param)
        hint = f"at: {line}" if line else None
        if code == codes.UNWRITABLE_CODE:
            hint = "split long or deeply nested expressions into several statements"
        self.errors.append(
            Diagnostic(
                code,
                code.message(node=node.id, param=key, message=message),
                function.span or node.span,
                hint=hint,
                notes=tuple(f"included from {s}" for s in node.included_from),
            )
        )


def _code_lines(source: str, kind: str, laid: str, prologue: int) -> list[int | None] | None:
    """For each line of the laid-out function, the line of ``source`` it comes from.

    Normalising (``ast.unparse``) and layout keep the code's statements, in the same order and
    nesting, so the two are walked side by side: a generated line takes the source line of the
    innermost statement covering it. None when they do not match (nothing is guessed then).
    """
    try:
        if kind == "body":
            written: list[ast.stmt] = ast.parse(textwrap.dedent(source).strip("\n")).body
        else:
            expression = ast.parse(source.strip(), mode="eval").body
            written = [ast.Expr(expression, lineno=expression.lineno)]
        generated = ast.parse(laid).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(generated) != 1 or not isinstance(generated[0], ast.FunctionDef):
        return None
    ours = _statements(generated[0].body)[prologue:]
    theirs = _statements(written)
    if kind != "body":
        theirs, ours = theirs[:1], ours[-1:]
    if len(ours) != len(theirs):
        return None
    lines: list[int | None] = [None] * (laid.count("\n") + 1)
    for mine, original in zip(ours, theirs):
        for number in range(mine.lineno, (mine.end_lineno or mine.lineno) + 1):
            lines[number - 1] = original.lineno
    return lines


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Every statement under ``body``, outer before inner (breadth first, as ``ast.walk``)."""
    found: list[ast.stmt] = []
    for top in body:
        found.extend(n for n in ast.walk(top) if isinstance(n, ast.stmt))
    return found
