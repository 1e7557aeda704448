"""The two kinds of code a blueprint may hold: ``{{ templates }}`` and Python functions.

Templates are parsed here into a root name and a path (the grammar is deliberately small: dotted
names, ``[0]`` and ``['key']``); binding the root to a value is the graph builder's job. Python
source is parsed with ``ast`` and re-emitted with ``ast.unparse``, so what reaches the generated
module is exactly one well-formed expression or function body, never raw text.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
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
    """``ast.parse`` within the limits: a syntax error or a limit is an ``ExpressionError``."""
    if len(source) > MAX_CODE_CHARS:
        raise CodeLimitError(f"{len(source):,} characters; the limit is {MAX_CODE_CHARS:,}")
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        if "too many nested" in exc.msg:
            raise CodeLimitError(f"{exc.msg}; the limit is {MAX_CODE_DEPTH} levels") from None
        raise ExpressionError(_syntax_message(exc)) from None
    except (RecursionError, MemoryError):
        raise CodeLimitError(f"nested beyond the limit of {MAX_CODE_DEPTH} levels") from None
    depth = code_depth(tree)
    if depth > MAX_CODE_DEPTH:
        raise CodeLimitError(f"nested {depth} levels deep; the limit is {MAX_CODE_DEPTH}")
    return tree


def code_depth(tree: ast.AST) -> int:
    """How deeply ``tree`` nests, counted without recursion (``1+1+1`` is two levels)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


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
    """Parse node code once: check it, normalise it and find what it reads.

    Raises:
        CodeLimitError: the code is too long or too deeply nested.
        ExpressionError: it is not one expression (``kind="expression"``) or a function body.
    """
    tree = _body_tree(source) if kind == "body" else _expression_tree(source)
    normalized = ast.unparse(tree) if isinstance(tree, ast.Module) else ast.unparse(tree.body)
    names, bare = _reads_of(tree)
    return NodeCode(normalized, tree, tuple(names), bare)


def _expression_tree(source: str) -> ast.Expression:
    tree = _parse_code(source.strip(), "eval")
    assert isinstance(tree, ast.Expression)
    return tree


def _body_tree(source: str) -> ast.Module:
    tree = _parse_code(_dedent(source), "exec")
    assert isinstance(tree, ast.Module)
    if not tree.body:
        raise ExpressionError("the code is empty")
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        tree.body[0] = ast.Return(tree.body[0].value)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            raise ExpressionError("'yield' and 'await' are not allowed in node code")
    return ast.fix_missing_locations(ast.Module(body=tree.body, type_ignores=[]))


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
    return _reads_of(ast.parse(source))


def _reads_of(tree: ast.AST) -> tuple[list[str], bool]:
    names: list[str] = []
    attribute_roots: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in INPUT_NAMES
        ):
            attribute_roots.add(id(node.value))
            if node.attr not in names:
                names.append(node.attr)
    bare = any(
        isinstance(node, ast.Name) and node.id in INPUT_NAMES and id(node) not in attribute_roots
        for node in ast.walk(tree)
    )
    return names, bare


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
