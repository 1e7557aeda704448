"""JavaScript node code as text: telling it from Python, and the shapes it may take.

This module never imports a JavaScript engine, so the compiler side (the Atomiton dialect, which
decides whether a node's code is JavaScript) may import it freely. Checking the syntax and running
the code is ``javascript_engine``'s job; the node modules are ``javascript_code`` and
``javascript_transform``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

# String literals of both languages (Python's triple quotes first). A template literal is left in
# place on purpose: its backtick is one of the signs of JavaScript.
_STRINGS: Final = re.compile(
    r"'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\""
)
# A Python comment runs to the end of its line; JavaScript has no ``#`` outside private fields.
_HASH_COMMENT: Final = re.compile(r"#[^\n]*")

# Each of these is valid JavaScript and never valid (or never idiomatic) Python outside strings.
_SIGNS: Final = (
    re.compile(r"=>"),  # arrow function (Python writes >=)
    re.compile(r"===|!=="),  # strict equality
    re.compile(r"`"),  # template literal (Python 3 has no backticks)
    re.compile(r"(?m)^\s*//"),  # a line comment (Python's // is division, never at line start)
    re.compile(r"/\*[\s\S]*?\*/"),  # a block comment
    re.compile(r"\b(?:const|let|var)\s+(?:[A-Za-z_$][\w$]*|\{|\[)"),  # declarations
    re.compile(r"\bfunction\s*[A-Za-z_$\w]*\s*\("),  # function expression or declaration
    re.compile(r"&&|\|\|"),  # logical operators (Python: and, or)
    re.compile(r"\b(?:typeof|instanceof|undefined)\b"),
    re.compile(r"\bnew\s+[A-Z][\w$]*\s*\("),  # new Date(...), new Map(...)
    re.compile(r"\.length\b"),  # arrays and strings (Python: len())
    # Atomiton's whole-array bodies: ``return data.filter(...)``.
    re.compile(
        r"\breturn\s+data\s*\.\s*(?:filter|map|reduce|forEach|some|every|find|findIndex|"
        r"flatMap|slice|concat|sort|reverse|join)\s*\("
    ),
)


def looks_like_javascript(text: str) -> bool:
    """Whether ``text`` is node code written in JavaScript rather than Python.

    Looks, outside string literals and Python comments, for what only JavaScript writes: arrow
    functions, ``const``/``let``/``var``, ``===``, template literals, ``//`` comments, ``&&``,
    ``.length``, ``function (...)``, and ``return data.filter(...)``-style bodies. Code valid
    in both languages (``item.price * 2``) is not JavaScript here: Python stays the default.

    Args:
        text: the code as written in the blueprint.

    Returns:
        True when the code shows at least one sign of JavaScript.
    """
    if not text.strip():
        return False
    if "`" in text and "${" in text:  # a template literal, before strings are taken out
        return True
    bare = _HASH_COMMENT.sub("", _STRINGS.sub("''", text))
    return any(sign.search(bare) for sign in _SIGNS)


# -- the shapes of node code ------------------------------------------------------------------------

# Comments, taken out before looking at the code's first token.
_COMMENTS: Final = re.compile(r"/\*[\s\S]*?\*/|//[^\n]*")
# An arrow function or a function expression: the code is the user's own function.
_FUNCTION: Final = re.compile(
    r"^\s*(?:async\s+)?(?:function\b|[A-Za-z_$][\w$]*\s*=>|\((?:[^()]|\([^()]*\))*\)\s*=>)"
)
# ``({acc, item}) => ...``: the function takes one object (Atomiton's reduce).
_ONE_OBJECT: Final = re.compile(r"^\s*(?:async\s+)?\(\s*\{")


@dataclass(frozen=True, slots=True)
class Wrapping:
    """One way to make node code a function: ``new Function(*params, prefix + code + suffix)``.

    ``factory``: that function returns the user's own function (written as an arrow function),
    given ``inputs``; ``spread``: the user's function takes one ``{acc, item, index}`` object.
    """

    params: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""
    factory: bool = False
    spread: bool = False


@dataclass(frozen=True, slots=True)
class JavaScriptFunction:
    """Node code and the wrappings to try in order; the first that parses is the function."""

    code: str
    wrappings: tuple[Wrapping, ...]

    @property
    def key(self) -> str:
        """Identifies the function within an engine (same code and shape, same function)."""
        return json.dumps([self.code, [list(_fields(w)) for w in self.wrappings]])


def _fields(wrapping: Wrapping) -> tuple[object, ...]:
    return (
        list(wrapping.params),
        wrapping.prefix,
        wrapping.suffix,
        wrapping.factory,
        wrapping.spread,
    )


def is_function_expression(code: str) -> bool:
    """Whether ``code`` is an arrow function or a function expression (``item => ...``)."""
    return bool(_FUNCTION.match(_COMMENTS.sub(" ", code)))


def function_of(
    code: str, args: tuple[str, ...], *, object_form: bool = False
) -> JavaScriptFunction:
    """The function node code stands for, called with ``args`` (and ``inputs`` after them).

    An arrow function or function expression is the function itself (it may read ``inputs``).
    Other code is an expression over ``args`` (its value is returned), else a function body that
    ``return``s.

    Args:
        code: the code as written.
        args: what the operation passes: ``("item", "index")``, ``("acc", "item", "index")``,
            ``("data",)``.
        object_form: a function taking one object (``({acc, item}) => ...``) gets
            ``{acc, item, index}`` (reduce).
    """
    if is_function_expression(code):
        spread = object_form and bool(_ONE_OBJECT.match(_COMMENTS.sub(" ", code)))
        return JavaScriptFunction(
            code, (Wrapping(("inputs",), "return (", "\n)", factory=True, spread=spread),)
        )
    params = (*args, "inputs")
    return JavaScriptFunction(code, (Wrapping(params, "return (", "\n)"), Wrapping(params)))


_INPUT_READ: Final = re.compile(r"(?<![\w$.])inputs\s*\.\s*([A-Za-z_$][\w$]*)")
_INPUTS: Final = re.compile(r"(?<![\w$.])inputs(?![\w$])")


Position = tuple[int, int]


def input_reads(code: str) -> tuple[dict[str, Position], Position | None]:
    """The blueprint inputs JavaScript code reads as ``inputs.<name>``.

    Returns:
        Each name with the 1-based (line, column) in the code where it is first read, and where
        ``inputs`` is first used otherwise (``inputs[name]``, ``inputs`` as a whole), or None.
    """
    bare = _blank_strings(code)
    names: dict[str, Position] = {}
    dotted: set[int] = set()
    for match in _INPUT_READ.finditer(bare):
        names.setdefault(match.group(1), _position(bare, match.start()))
        dotted.add(match.start())
    other = next((m.start() for m in _INPUTS.finditer(bare) if m.start() not in dotted), None)
    return names, None if other is None else _position(bare, other)


def _position(text: str, index: int) -> Position:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


_JS_STRINGS: Final = re.compile(
    r"/\*[\s\S]*?\*/|//[^\n]*|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"|`(?:\\.|[^`\\])*`"
)


def _blank_strings(code: str) -> str:
    """``code`` with comments and string literals blanked out, newlines kept (for line numbers).

    The ``${...}`` parts of a template literal are code and stay (one level, without braces).
    """

    def blank(match: re.Match[str]) -> str:
        text = match.group()
        if not text.startswith("`"):
            return _BLANK.sub(" ", text)
        parts = _SUBSTITUTION.split(text)
        # split() with one group: literal text at even indexes, substitutions at odd ones.
        return "".join(part if i % 2 else _BLANK.sub(" ", part) for i, part in enumerate(parts))

    return _JS_STRINGS.sub(blank, code)


_BLANK: Final = re.compile(r"[^\n]")
_SUBSTITUTION: Final = re.compile(r"(?<=\$\{)([^{}`]*)(?=\})")
