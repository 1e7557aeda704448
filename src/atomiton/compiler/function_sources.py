"""The source a ``python`` node's behaviour comes from: its function and what that calls, read
with ``ast`` (never run).

``function_source(module, name)`` finds the function as ``user_functions`` does (the current
folder, then ``sys.path``), takes the source of the statements that define it, and follows the
names those statements read to module-level definitions of the same top-level package:
functions, classes and assignments of the same module, names imported from its other modules
(``from .helpers import clean``) and attributes of its imported modules (``helpers.clean``).
This is best effort (docs/versions.md says what it cannot see): a name bound only at run time,
a method found through an object, a module without Python source, another package. How the
source becomes a version is ``versions``' business.
"""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from .user_functions import find_module

# Definitions followed from one function at most: a bound on the work, far above real helpers.
MAX_DEFINITIONS: Final = 2000

_DEFINES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BLOCKS = (ast.If, ast.Try, ast.With, ast.For, ast.While)


@dataclass(frozen=True, slots=True)
class FunctionSource:
    """What was read of a function and the definitions it reaches.

    Attributes:
        definitions: (``module:name``, source of the statements binding it), sorted by name;
            empty when the function's own source could not be read.
        files: the module files read, in the order first read.
        problem: why the function's own source could not be read (None: it was).
    """

    definitions: tuple[tuple[str, str], ...]
    files: tuple[Path, ...] = ()
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class _Module:
    """One module's source, with the top-level statements that bind each name."""

    lines: tuple[str, ...]
    bindings: dict[str, tuple[ast.stmt, ...]]
    # Names may also come from ``from x import *`` or a module ``__getattr__``.
    open_ended: bool


def function_source(module: str, name: str) -> FunctionSource:
    """The sources ``module:name`` runs, as far as they can be read without running anything."""
    reader = _Reader(module.split(".")[0])
    reader.queued.add((module, name))
    problem = reader.follow(module, name, entry=True)
    if problem is not None:
        return FunctionSource((), tuple(reader.files), problem)
    while reader.pending and len(reader.found) < MAX_DEFINITIONS:
        reader.follow(*reader.pending.popleft(), entry=False)
    return FunctionSource(tuple(sorted(reader.found.items())), tuple(reader.files))


class _Reader:
    def __init__(self, package: str) -> None:
        # Helpers are followed into the function's own top-level package (and the one a
        # re-exported function is defined in), not into libraries.
        self.packages = {package}
        self.found: dict[str, str] = {}
        self.files: dict[Path, None] = {}
        self.pending: deque[tuple[str, str]] = deque()
        self.queued: set[tuple[str, str]] = set()
        self.modules: dict[str, bool] = {}

    def follow(self, module: str, name: str, *, entry: bool) -> str | None:
        """Record the statements binding ``module:name`` and queue what they read; for the
        entry function, say why its source cannot be read (None: it was)."""
        source = self._module(module)
        if source is None:
            return f"module {module!r} has no readable .py file"
        statements = source.bindings.get(name)
        if not statements:
            if self._is_module(f"{module}.{name}"):
                return f"{module}:{name} is a module, not a function"
            if source.open_ended:
                return f"{module!r} defines {name!r} only when it runs"
            return f"{module!r} does not define {name!r} at its top level"
        self.found[f"{module}:{name}"] = _text(source, statements)
        if entry and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statements):
            # A re-exported function: its source is where it is defined, maybe another package.
            target = self._imported(module, name, statements[-1])
            if target is None or self._is_module(".".join(target)):
                return f"{module}:{name} is an imported module, not a function"
            self.packages.add(target[0].split(".")[0])
            self.queued.add(target)
            return self.follow(*target, entry=True)
        for statement in statements:
            self._read_names(module, source, statement, name)
        return None

    def _module(self, module: str) -> _Module | None:
        spec = find_module(module)
        origin = spec.origin if spec is not None else None
        if not origin or not origin.endswith(".py"):
            return None
        path = Path(origin)
        try:
            stat = path.stat()
        except OSError:
            return None
        parsed = _parse(str(path), stat.st_mtime_ns, stat.st_size)
        if parsed is not None:
            self.files.setdefault(path.resolve(), None)
        return parsed

    def _queue(self, module: str, name: str) -> None:
        key = (module, name)
        if key not in self.queued and self._ours(module):
            self.queued.add(key)
            self.pending.append(key)

    def _ours(self, module: str) -> bool:
        return module.split(".")[0] in self.packages

    def _is_module(self, module: str) -> bool:
        known = self.modules.get(module)
        if known is None:
            known = self.modules[module] = find_module(module) is not None
        return known

    def _read_names(self, module: str, source: _Module, statement: ast.stmt, name: str) -> None:
        """Queue the module-level definitions ``statement`` (which binds ``name``) reads."""
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            target = self._imported(module, name, statement)
            if target is not None and self._ours(target[0]):
                if not self._is_module(".".join(target)):
                    self._queue(*target)
            return
        for node in _walk_values(statement):
            if isinstance(node, ast.Attribute):
                chain = _attribute_chain(node)
                if chain is not None and chain[0] in source.bindings:
                    target_module = self._module_alias(module, chain[0], source)
                    if target_module is not None and self._ours(target_module):
                        self._attribute(target_module, chain[1:])
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in source.bindings:  # else a builtin, a local or a parameter
                    self._queue(module, node.id)

    def _attribute(self, module: str, attributes: tuple[str, ...]) -> None:
        """``module.a.b``: the deepest module the chain names, then its attribute."""
        for attribute in attributes:
            inner = f"{module}.{attribute}"
            if not self._is_module(inner):
                self._queue(module, attribute)
                return
            module = inner

    def _module_alias(self, module: str, name: str, source: _Module) -> str | None:
        """The module that ``name`` stands for in ``module`` (``import pkg.x as name``,
        ``from pkg import x``), or None when it is not a module."""
        for statement in source.bindings[name]:
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    if alias.asname == name:
                        return alias.name
                    if alias.asname is None and alias.name.split(".")[0] == name:
                        return name
            elif isinstance(statement, ast.ImportFrom):
                target = self._imported(module, name, statement)
                if target is not None and self._is_module(".".join(target)):
                    return ".".join(target)
        return None

    def _imported(self, module: str, name: str, statement: ast.stmt) -> tuple[str, str] | None:
        """(module, attribute) that ``from ... import`` binds to ``name`` in ``module``."""
        if not isinstance(statement, ast.ImportFrom):
            return None
        base = _absolute(module, statement.module, statement.level, self._is_package(module))
        if base is None:
            return None
        for alias in statement.names:
            if (alias.asname or alias.name) == name:
                return base, alias.name
        return None

    def _is_package(self, module: str) -> bool:
        spec = find_module(module)
        return spec is not None and spec.submodule_search_locations is not None


def _absolute(module: str, target: str | None, level: int, is_package: bool) -> str | None:
    """The absolute name of a ``from`` import's module, written in ``module``."""
    if level == 0:
        return target
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level - 1 > len(parts) or (level - 1 == len(parts) and not target):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, target] if target else base) or None


def _walk_values(statement: ast.stmt) -> list[ast.AST]:
    """The nodes below ``statement`` except annotations, which name types and change nothing a
    call does (with postponed evaluation they are not even run)."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        found.append(node)
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns") or (name == "type_comment"):
                continue
            if isinstance(value, ast.AST):
                pending.append(value)
            elif isinstance(value, list):
                pending.extend(item for item in value if isinstance(item, ast.AST))
    return found


def _attribute_chain(node: ast.Attribute) -> tuple[str, ...] | None:
    """``a.b.c`` as ("a", "b", "c"); None when the chain does not start at a name."""
    names: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        names.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    names.append(current.id)
    return tuple(reversed(names))


def _text(source: _Module, statements: tuple[ast.stmt, ...]) -> str:
    """The source lines of ``statements`` (decorators included), each block dedented."""
    blocks = []
    for statement in statements:
        first = min(
            [statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))]
        )
        last = statement.end_lineno or statement.lineno
        blocks.append(textwrap.dedent("\n".join(source.lines[first - 1 : last])))
    return "\n".join(blocks)


@lru_cache(maxsize=256)
def _parse(path: str, mtime_ns: int, size: int) -> _Module | None:
    """A module's source and bindings (``mtime_ns``/``size`` key the cache); None when it is
    not readable as Python."""
    try:
        text = importlib.util.decode_source(Path(path).read_bytes())
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError, UnicodeDecodeError):
        return None
    bindings: dict[str, list[ast.stmt]] = {}
    open_ended = False
    statements = list(tree.body)
    index = 0
    while index < len(statements):
        statement = statements[index]
        index += 1
        for name in _bound_names(statement):
            if name == "*":
                open_ended = True
            else:
                bindings.setdefault(name, []).append(statement)
        if isinstance(statement, _BLOCKS):
            # Definitions under ``if TYPE_CHECKING`` or ``try: import x`` count as well.
            for field in ("body", "orelse", "finalbody"):
                statements.extend(getattr(statement, field, []))
            for handler in getattr(statement, "handlers", []):
                statements.extend(handler.body)
    open_ended = open_ended or "__getattr__" in bindings
    # ``decode_source`` turned every line ending into "\n": ast's line numbers count those.
    lines = tuple(text.split("\n"))
    return _Module(lines, {n: tuple(s) for n, s in bindings.items()}, open_ended)


def _bound_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, _DEFINES):
        return [statement.name]
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(statement, ast.Import):
        return [alias.asname or alias.name.split(".")[0] for alias in statement.names]
    if isinstance(statement, ast.ImportFrom):
        return [alias.asname or alias.name for alias in statement.names]
    return []
