"""Lay out generated statements exactly as black would, without running black on the module.

Black's cost grows faster than the module (a 1,000-node flow took over 10 s), so the emitter
writes black's style directly: string literals with black's quotes, big collections exploded with
magic trailing commas (which black keeps), calls too long for a line split as black splits them,
and node code (re-emitted by ``ast.unparse``) given black's quotes and blank lines by hand. What
remains, a statement whose layout the emitter cannot know cheaply, is laid out by black on its
own, at its own indentation, and cached. The golden tests check that black over the whole module
changes nothing; tests/compiler/test_emit_layout.py checks the hand layout against black.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from typing import Final

import black
from black.mode import TargetVersion
from black.strings import normalize_string_prefix, normalize_string_quotes, str_width

LINE_LENGTH: Final = 88

BLACK_MODE: Final = black.Mode(
    target_versions={TargetVersion.PY311},
    line_length=LINE_LENGTH,
    magic_trailing_comma=True,
)


def string(text: str) -> str:
    """A string literal as black writes it (double quotes unless that needs more escapes)."""
    written = repr(text)
    # ``repr`` chose single quotes with nothing escaped: black only swaps the quotes.
    if written[0] == "'" and '"' not in written and "\\" not in written:
        return f'"{written[1:-1]}"'
    return normalize_string_quotes(written)


def fit(statement: str, indent: int, *, force: bool = False) -> str:
    """``statement`` laid out for ``indent`` spaces; continuation lines carry the indentation.

    Widths are black's (an East Asian wide character counts two). A single line that fits is
    returned as it is (the emitter writes black's spacing already);
    anything else, or anything ``force``d (Python from the blueprint), goes through black.
    """
    if not force and "\n" not in statement:
        if indent + str_width(statement) <= LINE_LENGTH:
            return statement
        split = _split_call(statement, indent, "")
        if split is not None:
            return split
    if force and statement.startswith("def "):
        return _reindent(_black_function(statement, LINE_LENGTH - indent), indent)
    return _reindent(_black(statement, LINE_LENGTH - indent), indent)


def docstring(text: str) -> str:
    """The module's docstring statement ``\"\"\"text\\n\"\"\"`` as black writes it.

    Black leaves a docstring alone when its first line has no whitespace around it, its
    other lines no trailing whitespace and no indentation common to all of them, and it
    neither ends in a quote nor holds a backslash (black pads or re-indents those): the
    usual case, written here as it is; anything else goes to black.
    """
    lines = text.split("\n")
    rest = [line for line in lines[1:] if line]
    if (
        rest
        and "\\" not in text
        and not text.startswith(('"', " "))
        and not text.endswith('"')
        and all(line == line.rstrip() for line in lines)
        and any(not line[0].isspace() for line in rest)
    ):
        return f'"""{text}\n"""'
    return fit(f'"""{text}\n"""', 0, force=True)


def element(expression: str, indent: int) -> str:
    """One element of an exploded collection (one element per line, trailing comma)."""
    line = f"{expression},"
    if "\n" not in expression:
        if indent + str_width(line) <= LINE_LENGTH:
            return line
        split = _split_call(expression, indent, ",") or _split_tuple(expression, indent, ",")
        if split is not None:
            return split
    return _reindent(_black_element(expression, LINE_LENGTH - indent), indent)


def dict_item(key: str, value: str, indent: int) -> str:
    """``key: value,`` as one item of an exploded dict whose items stand at ``indent``."""
    line = f"{key}: {value},"
    if indent + str_width(line) <= LINE_LENGTH:
        return line
    mode = replace(BLACK_MODE, line_length=LINE_LENGTH - indent + 4)
    wrapped = black.format_str(f"_ = {{\n    {line}\n}}\n", mode=mode)
    lines = [item[4:] if item.startswith("    ") else item for item in wrapped.splitlines()[1:-1]]
    return _reindent("\n".join(lines), indent)


def exploded(
    opening: str, items: list[str], closing: str, indent: int, *, trailing: str = ""
) -> str:
    """``opening`` + one element per line + ``closing``, as black keeps a magic trailing comma.

    Black collapses a one-element tuple whose comma it needs anyway, so a single item is laid out
    on one line instead (``("x",)``). ``trailing=","`` makes the whole an element of an
    enclosing exploded collection.
    """
    lay = element if trailing else fit
    if not items:
        return lay(f"{opening}{closing}", indent)
    if len(items) == 1 and closing.startswith(")") and opening.endswith("("):
        return lay(f"{opening}{items[0]},{closing}", indent)
    inner = "\n".join(" " * (indent + 4) + element(item, indent + 4) for item in items)
    return f"{opening}\n{inner}\n{' ' * indent}{closing}{trailing}"


# ``name = pkg.function(``, ``return pkg.Class(`` or a keyword argument's ``name=(``: heads
# whose brackets black splits at, the value's own (invisible) parentheses left out.
_SIMPLE_HEAD = re.compile(
    r"^(?:(?:[A-Za-z_][\w.]*(?:: Final)? = |return )?[A-Za-z_][\w.]*|[A-Za-z_]\w*=)\($"
)


def _split_call(text: str, indent: int, suffix: str) -> str | None:
    """Black's right-hand split of ``head(body)`` when the body fits on one line, done by hand.

    This is the common case (a node call, a ``NodeInfo``) and costs nothing; anything else
    returns None and goes to black.
    """
    opening = _final_call_bracket(text)
    if opening is None:
        return None
    head, body = text[: opening + 1], text[opening + 1 : -1]
    if (
        not body
        or body.rstrip().endswith(",")
        or not _SIMPLE_HEAD.match(head)
        or indent + str_width(head) > LINE_LENGTH
    ):
        return None
    pad = " " * indent
    # A collection literal (``name=(``) that does not fit is always one element per line.
    if not head.endswith("=(") and indent + 4 + str_width(body) <= LINE_LENGTH:
        return f"{head}\n{pad}    {body}\n{pad}){suffix}"
    # Black's next try: one argument per line, with the magic trailing comma it adds; an
    # argument still too long is split in turn (a keyword's tuple, one item per line).
    parts = top_level_parts(body)
    if len(parts) < 2:
        return None
    lines = []
    for part in parts:
        line = f"{part},"
        if indent + 4 + str_width(line) > LINE_LENGTH:
            split = _split_keyword_tuple(part, indent + 4)
            if split is None:
                return None
            line = split
        lines.append(f"{pad}    {line}")
    return f"{head}\n{chr(10).join(lines)}\n{pad}){suffix}"


# ``name=(`` opening a keyword argument's tuple.
_KEYWORD_TUPLE = re.compile(r"[A-Za-z_]\w*=\(")


def _split_keyword_tuple(part: str, indent: int) -> str | None:
    """``name=(a, b, ...)``, an argument too long for its line, one item per line as black
    explodes a tuple it has to split (it adds the magic trailing comma); the argument's own
    comma follows. None for anything else."""
    opening = part.find("(")
    if not _KEYWORD_TUPLE.match(part) or _final_call_bracket(part) != opening:
        return None
    items = top_level_parts(part[opening + 1 : -1])
    if len(items) < 2 or not items[-1]:  # a one-item tuple's comma is not magic
        return None
    if any(indent + 5 + str_width(item) > LINE_LENGTH for item in items):
        return None
    pad = " " * indent
    lines = "\n".join(f"{pad}    {item}," for item in items)
    return f"{part[: opening + 1]}\n{lines}\n{pad}),"


def _split_tuple(text: str, indent: int, suffix: str) -> str | None:
    """A parenthesised tuple too long for its line, one item per line as black explodes it
    (a tuple's brackets always are, once split: the source map's file table holds many)."""
    if not text.startswith("(") or _final_call_bracket(text) != 0:
        return None
    body = text[1:-1]
    if not body or body.rstrip().endswith(","):
        return None
    parts = top_level_parts(body)
    if len(parts) < 2 or any(indent + 5 + str_width(part) > LINE_LENGTH for part in parts):
        return None
    pad = " " * indent
    lines = "\n".join(f"{pad}    {part}," for part in parts)
    return f"(\n{lines}\n{pad}){suffix}"


def top_level_parts(body: str) -> list[str]:
    """``body`` split at its commas outside brackets and strings."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in _code_chars(body):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index].strip())
            start = index + 1
    parts.append(body[start:].strip())
    return parts


def exploded_call(call: str, indent: int) -> str:
    """``f(a, b=(x, y))`` as one element of an exploded collection, laid out as black does:
    on one line if it fits, else its arguments on one line, else one per line, each tuple
    argument split the same way."""
    pad = " " * indent
    if indent + len(call) + 1 <= LINE_LENGTH:
        return f"{pad}{call},\n"
    head, body = call[: call.index("(") + 1], call[call.index("(") + 1 : -1]
    # A call's arguments stay on one line when they fit; a tuple's items (``writes=(...)``)
    # never do: black explodes a collection it has to split, one item per line.
    is_call = head[:-1].rstrip("=") == head[:-1] and head != "("
    if is_call and indent + 4 + len(body) <= LINE_LENGTH:
        return f"{pad}{head}\n{pad}    {body}\n{pad}),\n"
    lines = [f"{pad}{head}\n"]
    # A one-element tuple's trailing comma leaves an empty last part: black writes none.
    for arg in [part for part in top_level_parts(body) if part]:
        if indent + 4 + len(arg) + 1 <= LINE_LENGTH or not arg.endswith(")"):
            lines.append(f"{pad}    {arg},\n")
        else:
            lines.append(exploded_call(arg, indent + 4))
    lines.append(f"{pad}),\n")
    return "".join(lines)


def serve_header(args: str, indent: int) -> str:
    """``if not (ex.supplying and ex.serve(<args>)):`` at ``indent``, laid out as black would.

    Written by hand for the shapes black gives it (one line; the test on its own line; split
    at ``and``; the call's arguments on one line; one per line), as every node has one and
    black costs milliseconds a statement; anything longer still goes to black.
    """
    call = f"ex.serve({args})"
    line = f"if not (ex.supplying and {call}):"
    if indent + str_width(line) <= LINE_LENGTH:
        return line
    pad = " " * indent
    if indent + 4 + str_width(f"ex.supplying and {call}") <= LINE_LENGTH:
        return f"if not (\n{pad}    ex.supplying and {call}\n{pad}):"
    if indent + 4 + str_width(f"and {call}") <= LINE_LENGTH:
        return f"if not (\n{pad}    ex.supplying\n{pad}    and {call}\n{pad}):"
    head = f"if not (\n{pad}    ex.supplying\n{pad}    and ex.serve("
    tail = f"\n{pad}    )\n{pad}):"
    if indent + 8 + str_width(args) <= LINE_LENGTH:
        return f"{head}\n{pad}        {args}{tail}"
    parts = top_level_parts(args)
    if all(indent + 9 + str_width(part) <= LINE_LENGTH for part in parts):
        return head + "".join(f"\n{pad}        {part}," for part in parts) + tail
    return f"if {condition(f'not (ex.supplying and {call})', indent)}:"


# A string literal (closed, or running to the end of the text as an unclosed one does), or a
# bracket or comma outside one: what splitting a statement needs, found without stepping
# through every character in Python.
_STRING_OR_MARK: Final = re.compile(
    r"""'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''|'''.*"""
    r'''|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""|""".*'''
    r"""|'[^'\\]*(?:\\.[^'\\]*)*'|'.*|"[^"\\]*(?:\\.[^"\\]*)*"|".*"""
    r"|[][(){},]",
    re.DOTALL,
)


def _code_chars(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) of each bracket and comma of ``text`` outside string literals."""
    for match in _STRING_OR_MARK.finditer(text):
        mark = match.group()
        if len(mark) == 1 and mark not in "\"'":
            yield match.start(), mark


def _final_call_bracket(text: str) -> int | None:
    """Index of the ``(`` that the final ``)`` of ``text`` closes (string literals skipped)."""
    if not text.endswith(")"):
        return None
    stack: list[int] = []
    for index, char in _code_chars(text):
        if char in "([{":
            stack.append(index)
        elif char in ")]}":
            if not stack:
                return None
            start = stack.pop()
            if index == len(text) - 1:
                return start if not stack else None
    return None


def condition(test: str, indent: int) -> str:
    """The test of an ``if`` at ``indent``, laid out as black would (parenthesised if long)."""
    if indent + len("if :") + str_width(test) <= LINE_LENGTH:
        return test
    laid = _black(f"if {test}:\n    pass", LINE_LENGTH - indent)
    header = laid.rsplit("\n", 1)[0]  # drop "    pass"
    return _reindent(header[len("if ") : -1], indent)


# The head of node code: ``def <name>(<argument>: Any, ...) -> Any:``.
_CODE_DEF = re.compile(
    r"def ([A-Za-z_]\w*)(\((?:[A-Za-z_]\w*: Any(?:, [A-Za-z_]\w*: Any)*)?\) -> Any:\n)", re.ASCII
)
_PLACEHOLDER = "_f"


def _black_function(statement: str, line_length: int) -> str:
    """Node code laid out by black, once for every function with the same arguments and body.

    Nodes often share code (a sub-blueprint included twice, a copied snippet) under different
    names. A ``def`` line that fits stays as written, and nothing else black does to a function
    depends on its name, so the function is formatted under a placeholder name and renamed. A
    body of ``...`` alone is the exception (black may join it to the ``def`` line).
    """
    own = _own_layout(statement, line_length)
    if own is not None:
        return own
    match = _CODE_DEF.match(statement)
    if (
        match is None
        or len("def ") + max(len(match[1]), len(_PLACEHOLDER)) + len(match[2]) - 1 > line_length
        or statement[match.end() :].strip() == "..."
    ):
        return _black(statement, line_length)
    laid = _black(f"def {_PLACEHOLDER}{statement[match.end(1) :]}", line_length)
    head = f"def {_PLACEHOLDER}("
    if not laid.startswith(head):
        return _black(statement, line_length)
    return f"def {match[1]}{laid[len(head) - 1 :]}"


# What black lays out differently from ``ast.unparse``, or what it is not worth predicting:
# nested functions and classes (blank lines around them), ``**`` (hugged when its operands are
# simple), ``match`` (rare), ``yield`` and ``:=`` (black drops some parentheses ``unparse``
# writes around them).
_BLACK_ONLY: Final = (
    ast.NamedExpr,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Match,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
)
_IMPORTS: Final = (ast.Import, ast.ImportFrom)
# Statement lists of a compound statement (``handlers`` hold ``except`` clauses, not statements).
_BLOCKS: Final = ("body", "orelse", "finalbody")


# In ``unparse``'s text of a function body, what may hold something black writes differently
# or that ``_own_layout`` leaves to black: string literals (quotes), ``**``, ``:=``, imports,
# keywords of ``_BLACK_ONLY`` (and ``async``), exponents (a digit then ``e``), an attribute of a
# literal (``(1).real``, ``None.x``). Slices are told by a ``[`` and a ``:`` in the same body.
# Names that merely contain these (``match``, ``x1e``) only cost the parse.
_ANYTHING_TO_CHANGE: Final = re.compile(
    r"""['"]|\*\*|:=|\b(?:import|def|class|match|yield|await|async)\b|\d[eE]"""
    r"|(?:\d[jJ]?|\bTrue|\bFalse|\bNone|\.\.\.)\)?\s?\.\s?[A-Za-z_]"
)


def _own_layout(statement: str, line_length: int) -> str | None:
    """A function re-emitted by ``ast.unparse`` laid out as black would, without black; None
    when black must decide. ``statement`` must be ``unparse``'s text (node code is: see
    ``ir.CodeFunction``); checking that here would cost as much as the rest.

    ``unparse`` already spaces operators, commas and brackets the way black does and never
    writes a trailing comma, a comment or a blank line, so for code whose every line fits,
    black changes only what is done here: string literals get its quotes and prefixes, and an
    import that ends a run of statements gets one blank line after it. Anything else black
    would change (see ``_BLACK_ONLY``; slices of anything but names and literals, which black
    spaces around the colon; exponents ``1e+20``; docstrings) is left to black. The property
    test in tests/compiler/test_emit_layout.py checks this against black on random code.
    """
    body = statement.partition("\n")[2]
    if _ANYTHING_TO_CHANGE.search(body) is None and ("[" not in body or ":" not in body):
        # Nothing here that black writes differently (see ``_ANYTHING_TO_CHANGE``): the text
        # stands as it is, if it fits. Most node code is like this; parsing it is most of the
        # cost of laying it out.
        if all(str_width(line) <= line_length for line in statement.split("\n")):
            return statement
        return None
    return _parsed_layout(statement, line_length)


def _parsed_layout(statement: str, line_length: int) -> str | None:
    """``_own_layout`` from the parsed function: what black changes, found node by node."""
    try:
        tree = ast.parse(statement)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    function = tree.body[0]
    edits: list[tuple[int, int, int]] = []  # string literals: (line, start byte, end byte)
    blank_before: list[int] = []
    skip: set[int] = set()  # nodes inside a literal (an f-string's parts): laid out with it
    for node in ast.walk(function):
        if node is function:
            pass
        elif isinstance(node, _BLACK_ONLY):
            return None
        elif id(node) in skip:
            continue
        elif isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
        ):
            skip.update(id(child) for child in ast.walk(node))
            if node.end_lineno != node.lineno or node.end_col_offset is None:
                return None
            edits.append((node.lineno, node.col_offset, node.end_col_offset))
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, (float, complex)) and "e" in repr(value):
                return None
        elif isinstance(node, ast.Slice):
            bounds = (node.lower, node.upper, node.step)
            if not all(bound is None or _simple_bound(bound) for bound in bounds):
                return None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return None
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Constant):
            return None  # ``0 .real``, which black writes ``(0).real``
        elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Constant, ast.JoinedStr)):
            if not isinstance(node.value, ast.Constant) or isinstance(node.value.value, str):
                return None  # a docstring, or a string black may treat as one
        for block in _BLOCKS:
            statements = getattr(node, block, None)
            if isinstance(statements, list):
                for before, after in zip(statements, statements[1:]):
                    if isinstance(before, _IMPORTS) and not isinstance(after, _IMPORTS):
                        blank_before.append(after.lineno)
    lines = statement.split("\n")
    # Rightmost first, so that earlier offsets (UTF-8 bytes, as ``ast`` counts) stay valid.
    for line_number, start, end in sorted(edits, reverse=True):
        raw = lines[line_number - 1].encode()
        literal = raw[start:end].decode()
        normal = normalize_string_quotes(normalize_string_prefix(literal, BLACK_MODE))
        lines[line_number - 1] = (raw[:start] + normal.encode() + raw[end:]).decode()
    if any(str_width(line) > line_length for line in lines):
        return None
    for line_number in sorted(blank_before, reverse=True):
        lines.insert(line_number - 1, "")
    return "\n".join(lines)


def _simple_bound(bound: ast.expr) -> bool:
    """A slice bound black leaves unspaced: a name, a literal, or a negated one."""
    if isinstance(bound, ast.UnaryOp) and isinstance(bound.op, ast.USub):
        bound = bound.operand
    return isinstance(bound, (ast.Name, ast.Constant))


@lru_cache(maxsize=8192)
def _black(statement: str, line_length: int) -> str:
    mode = replace(BLACK_MODE, line_length=line_length)
    return black.format_str(statement + "\n", mode=mode).rstrip("\n")


@lru_cache(maxsize=8192)
def _black_element(expression: str, line_length: int) -> str:
    # Formatted where it would stand: one level deep inside exploded brackets. A call's
    # brackets take both expressions and keyword arguments (``name=value``).
    mode = replace(BLACK_MODE, line_length=line_length + 4)
    wrapped = black.format_str(f"_(\n    {expression},\n    _=None,\n)\n", mode=mode)
    lines = wrapped.splitlines()[1:-2]
    return "\n".join(line[4:] if line.startswith("    ") else line for line in lines)


def _reindent(text: str, indent: int) -> str:
    pad = " " * indent
    lines = text.split("\n")
    return "\n".join([lines[0], *(pad + line if line else "" for line in lines[1:])])
