"""JavaScript node code as text: telling it from Python, and the shapes it may take.

This module never imports a JavaScript engine, so the compiler side (the Atomiton dialect, which
decides whether a node's code is JavaScript) may import it freely. Checking the syntax and running
the code is ``javascript_engine``'s job; the node modules are ``javascript_code`` and
``javascript_transform``.
"""

from __future__ import annotations

import re
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
