"""The two kinds of code a blueprint may hold: ``{{ templates }}`` and Python functions.

Templates are parsed here into a root name and a path (the grammar is deliberately small: dotted
names, ``[0]`` and ``['key']``); binding the root to a value is ``parameters``' job. Python
source is parsed with ``ast`` and re-emitted with ``ast.unparse``, so what reaches the generated
module is exactly one well-formed expression or function body, never raw text.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SEGMENT = re.compile(
    r"""\s*(?:\.\s*(?P<name>[A-Za-z_$][\w$-]*)|\[\s*(?:(?P<index>-?\d+)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\s*\])"""
)
_ROOT = re.compile(r"\s*(?P<root>\$?[A-Za-z_][\w-]*)")
_FILTER = re.compile(r"\s*\|\s*(?P<name>[A-Za-z_]\w*)\s*")
# Filters a template may apply to its value (``{{ inputs.v | shquote }}``), each rendered by the
# runtime function of the same name.
FILTERS: Final = ("shquote",)


_MODES: Final = {"expression": "eval", "body": "exec"}
# Words whose presence in node code makes the tree worth walking (``_needs_scan``).
_SCANNED_WORDS: Final = ("inputs", "variables", "yield", "await")

# Limits on code written in a blueprint. Real node code is far below both; beyond them the
# parser, the code generator, mypy and CPython's own compiler recurse per level and would crash
# (RecursionError, MemoryError) instead of reporting a position.
MAX_CODE_CHARS: Final = 100_000
MAX_CODE_DEPTH: Final = 100


class ExpressionError(ValueError):
    """A template or a piece of Python that cannot be compiled; the message says why."""


class CodeLimitError(ExpressionError):
    """Code too long or too deeply nested to compile; the message names the limit."""


@dataclass(frozen=True, slots=True)
class ParsedExpr:
    """``{{ inputs.user['name'] | shquote }}`` -> root ``inputs``, path ``("user", "name")``,
    filters ``("shquote",)``."""

    text: str
    root: str
    path: tuple[str | int, ...]
    filters: tuple[str, ...] = ()


def split_template(text: str) -> list[str | ParsedExpr]:
    """Split a string into literal text and parsed ``{{ }}`` expressions."""
    parts: list[str | ParsedExpr] = []
    position = 0
    for match in _TEMPLATE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(parse_expr(match.group(1)))
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        raise ExpressionError("'{{' is never closed by '}}'")
    if rest:
        parts.append(rest)
    return parts


def parse_expr(source: str) -> ParsedExpr:
    text = source.strip()
    if not text:
        raise ExpressionError("empty expression")
    root = _ROOT.match(text)
    if root is None:
        raise ExpressionError(f"expected a name such as 'inputs.x', found {text!r}")
    path: list[str | int] = []
    filters: list[str] = []
    position = root.end()
    while position < len(text):
        applied = _FILTER.match(text, position)
        if applied is not None:
            if applied["name"] not in FILTERS:
                raise ExpressionError(
                    f"unknown filter {applied['name']!r}; templates know "
                    + ", ".join(repr(f) for f in FILTERS)
                )
            filters.append(applied["name"])
            position = applied.end()
            continue
        if filters:
            raise ExpressionError(f"cannot read {text[position:].strip()!r} after a filter")
        segment = _SEGMENT.match(text, position)
        if segment is None:
            raise ExpressionError(
                f"cannot read {text[position:].strip()!r}: templates hold a path such as "
                "'inputs.user.name' or 'data[0]', not arbitrary code"
            )
        if segment.group("name") is not None:
            path.append(segment.group("name"))
        elif segment.group("index") is not None:
            path.append(int(segment.group("index")))
        else:
            path.append(
                segment.group("sq") if segment.group("sq") is not None else segment.group("dq")
            )
        position = segment.end()
    return ParsedExpr(text, root.group("root"), tuple(path), tuple(filters))


def _parse_code(source: str, mode: str) -> ast.AST:
    """``ast.parse`` within the length limit: a syntax error is an ``ExpressionError``."""
    if len(source) > MAX_CODE_CHARS:
        raise CodeLimitError(f"{len(source):,} characters; the limit is {MAX_CODE_CHARS:,}")
    try:
        return ast.parse(source, mode=mode)
    except SyntaxError as exc:
        if "too many nested" in exc.msg:
            raise CodeLimitError(f"{exc.msg}; the limit is {MAX_CODE_DEPTH} levels") from None
        raise ExpressionError(_syntax_message(exc)) from None
    except (RecursionError, MemoryError):
        raise CodeLimitError(f"nested beyond the limit of {MAX_CODE_DEPTH} levels") from None


def code_depth(tree: ast.AST) -> int:
    """How deeply ``tree`` nests, counted without recursion (``1+1+1`` is two levels)."""
    return _scan(tree).depth


@dataclass(slots=True)
class _Scan:
    """What one walk over node code finds."""

    depth: int = 0
    suspends: bool = False  # ``yield``, ``yield from`` or ``await`` somewhere
    reads: list[str] = field(default_factory=list)
    reads_whole: bool = False


def _needs_scan(text: str) -> bool:
    """Whether walking the tree of ``text`` can find anything: most node code is a short line
    that names no input and cannot nest past the limit (each level of an expression or a
    statement takes at least one character of source, plus three for module, statement and
    context), and a tree walk in Python costs more than parsing it did. Identifiers outside
    ASCII are normalised by the parser (``ｉnputs`` is ``inputs``), so such text is walked."""
    return (
        len(text) > MAX_CODE_DEPTH - 4
        or not text.isascii()
        or any(word in text for word in _SCANNED_WORDS)
    )


def _scan(tree: ast.AST) -> _Scan:
    """Depth, suspension points and input reads of ``tree`` in one breadth-first walk (the
    order ``ast.walk`` visits in, so reads come in the order of first use it gives)."""
    found = _Scan()
    attribute_roots: set[int] = set()
    queue: deque[tuple[ast.AST, int]] = deque([(tree, 1)])
    while queue:
        node, depth = queue.popleft()
        if depth > found.depth:
            found.depth = depth
        if isinstance(node, ast.Attribute):
            value = node.value
            if isinstance(value, ast.Name) and value.id in INPUT_NAMES:
                attribute_roots.add(id(value))
                if node.attr not in found.reads:
                    found.reads.append(node.attr)
        elif isinstance(node, ast.Name):
            if node.id in INPUT_NAMES and id(node) not in attribute_roots:
                found.reads_whole = True
        elif isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            found.suspends = True
        queue.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return found


@dataclass(frozen=True, slots=True)
class NodeCode:
    """Python code from a node, parsed once: its normalised text, its tree (of that text) and
    the flow inputs it reads."""

    source: str
    tree: ast.Module | ast.Expression
    # Names read as ``inputs.<name>`` / ``variables.<name>``, in order of first use, and whether
    # ``inputs`` is also used bare (passed around whole).
    reads: tuple[str, ...]
    reads_whole: bool


def parse_node_code(source: str, kind: Literal["expression", "body"]) -> NodeCode:
    """Parse node code once and walk it once: check it, normalise it, find what it reads.

    A body that is a single expression is turned into ``return <expression>``.

    Raises:
        CodeLimitError: the code is too long or too deeply nested.
        ExpressionError: it is not one expression (``kind="expression"``) or a function body.
    """
    text = source.strip() if kind == "expression" else _dedent(source)
    tree = _parse_code(text, _MODES[kind])
    scan = _scan(tree) if _needs_scan(text) else _Scan()
    if scan.depth > MAX_CODE_DEPTH:
        raise CodeLimitError(f"nested {scan.depth} levels deep; the limit is {MAX_CODE_DEPTH}")
    if isinstance(tree, ast.Expression):
        normalized = ast.unparse(tree.body)
    else:
        assert isinstance(tree, ast.Module)
        if not tree.body:
            raise ExpressionError("the code is empty")
        if scan.suspends:
            raise ExpressionError("'yield' and 'await' are not allowed in node code")
        first = tree.body[0]
        if len(tree.body) == 1 and isinstance(first, ast.Expr):
            tree.body[0] = ast.copy_location(ast.Return(first.value), first)
        normalized = ast.unparse(tree)
    if not text.isascii():
        _check_round_trip(normalized, _MODES[kind])
    return NodeCode(normalized, tree, tuple(scan.reads), scan.reads_whole)


def _check_round_trip(normalized: str, mode: str) -> None:
    """The parser folds identifiers to NFKC (``ªs`` is ``as``), so non-ASCII code can come out
    as something Python would not read back; refuse it rather than write a broken module."""
    try:
        ast.parse(normalized, mode=mode)
    except SyntaxError:
        raise ExpressionError(
            "a name in this code reads as a Python keyword once Python normalises it (NFKC): "
            f"it comes out as {normalized!r}"
        ) from None


def normalize_expression(source: str) -> str:
    """Check that ``source`` is one Python expression and return it re-emitted by ``ast``."""
    return parse_node_code(source, "expression").source


def normalize_body(source: str) -> str:
    """Check that ``source`` is a Python function body and return it re-emitted by ``ast``.

    A body that is a single expression is turned into ``return <expression>``.
    """
    return parse_node_code(source, "body").source


def _dedent(source: str) -> str:
    import textwrap

    return textwrap.dedent(source).strip("\n")


def _syntax_message(exc: SyntaxError) -> str:
    where = f" (line {exc.lineno}, column {exc.offset})" if exc.lineno else ""
    return f"{exc.msg}{where}"


INPUT_NAMES = ("inputs", "variables")


def input_reads(source: str) -> tuple[list[str], bool]:
    """The names read as ``inputs.<name>`` / ``variables.<name>`` in normalised ``source``.

    Returns the names in order of first use, and whether ``inputs`` is also used bare (passed
    around whole), which an included blueprint's code cannot do.
    """
    scan = _scan(ast.parse(source))
    return scan.reads, scan.reads_whole


def substitute_reads(source: str, replacements: dict[str, str]) -> str:
    """``source`` with each ``inputs.<name>`` replaced by the expression ``replacements[name]``."""
    tree = ast.parse(source)

    class Replace(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            if (
                isinstance(node.value, ast.Name)
                and node.value.id in INPUT_NAMES
                and node.attr in replacements
            ):
                return ast.parse(replacements[node.attr], mode="eval").body
            return self.generic_visit(node)

    return ast.unparse(ast.fix_missing_locations(Replace().visit(tree)))
