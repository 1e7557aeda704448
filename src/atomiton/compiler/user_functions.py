"""Where a ``python`` node's function lives: its module found as ``python -m`` would find it.

The search path is the current directory, then ``sys.path``: the same places ``atomiton run``
imports from and mypy reads in ``atomiton check``. Modules are found with the import system's
path finder, one dotted component at a time, so no package ``__init__`` runs; the function's
name is then looked up in the module's source with ``ast``. User code is never executed by the
compiler, except a module that has no Python source (a compiled extension), which can only be
inspected by importing it. What a module defines only at run time (a module ``__getattr__``,
``from x import *``) cannot be judged here and is accepted; mypy judges it in ``atomiton check``.
``python_nodes`` turns the answers into diagnostics.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib.machinery import ModuleSpec
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Missing:
    """Why a function reference cannot be resolved: no module, or no such name in it."""

    module_found: bool
    # Names the module does define (for a "did you mean" hint); empty when the module is missing.
    names: tuple[str, ...] = ()


def search_path() -> list[str]:
    """The folders searched for user modules: the current directory first, as ``python -m``."""
    cwd = os.getcwd()
    return [cwd, *(p if p else cwd for p in sys.path if p != cwd)]


def check_function(module: str, name: str) -> Missing | None:
    """Whether ``module`` can be found and defines ``name``; None means it does (or may).

    Args:
        module: a dotted module name (``mypkg.cleaning``), already checked for its shape.
        name: the attribute the node calls.

    Returns:
        None when the reference is fine or cannot be judged without running the module;
        otherwise what is missing.
    """
    spec = find_module(module)
    if spec is None:
        return Missing(module_found=False)
    names = _names(spec)
    if names is None or name in names:
        return None
    if spec.submodule_search_locations is not None and find_module(f"{module}.{name}"):
        return None  # ``from pkg import submodule`` also works
    return Missing(module_found=True, names=tuple(sorted(n for n in names if n != "*")))


def process_problem(module: str, name: str) -> str | None:
    """Why a worker process could not get ``module:name`` by importing it; None if it can.

    A function crosses to a worker as a reference (its module and qualified name) that the worker
    imports. ``__main__`` is a different module in the worker, and a lambda bound to a name is
    pickled under its own name ``<lambda>``, which the worker cannot look up. Other problems (a
    missing module or name) are ``check_function``'s; what only running the module can tell (a
    factory's nested function) is caught when the call is sent.
    """
    if module == "__main__":
        return "functions of __main__ are not importable by name in a worker process"
    spec = find_module(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin)
    if not path.is_file():
        return None
    stat = path.stat()
    if name in _lambda_names(str(path), stat.st_mtime_ns, stat.st_size):
        return f"{name!r} is a lambda, which a worker cannot import by name"
    return None


@lru_cache(maxsize=256)
def _lambda_names(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    """Names whose last top-level assignment is a lambda (``mtime_ns``/``size`` key the cache)."""
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return frozenset()
    bound: dict[str, bool] = {}
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[statement.name] = False
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            is_lambda = isinstance(statement.value, ast.Lambda)
            for target in targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = is_lambda
    return frozenset(n for n, is_lambda in bound.items() if is_lambda)


def find_module(module: str) -> ModuleSpec | None:
    """The spec of ``module`` on ``search_path()``, without importing any part of it."""
    if module in sys.modules:
        found = getattr(sys.modules[module], "__spec__", None)
        if isinstance(found, ModuleSpec):
            return found
    parts = module.split(".")
    spec: ModuleSpec | None = None
    locations: list[str] | None = search_path()
    for index in range(len(parts)):
        full = ".".join(parts[: index + 1])
        if index == 0:
            spec = importlib.machinery.BuiltinImporter.find_spec(full)
            spec = spec or importlib.machinery.FrozenImporter.find_spec(full)
        else:
            spec = None
        if spec is None and locations is not None:
            spec = importlib.machinery.PathFinder.find_spec(full, locations)
        if spec is None:
            return None
        locations = (
            list(spec.submodule_search_locations)
            if spec.submodule_search_locations is not None
            else None
        )
        if index + 1 < len(parts) and locations is None:
            return None  # a plain module has no submodules
    return spec


def _names(spec: ModuleSpec) -> frozenset[str] | None:
    """Top-level names of the module; None when they cannot be known without running it."""
    origin = spec.origin
    if origin and origin.endswith(".py") and Path(origin).is_file():
        stat = Path(origin).stat()
        return _source_names(origin, stat.st_mtime_ns, stat.st_size)
    if spec.origin is None or spec.loader is None:
        return frozenset()  # a namespace package: only submodules can be imported from it
    try:
        loaded = importlib.import_module(spec.name)  # no source: compiled or frozen
    except Exception:  # importing it fails: the import at run time will say why
        return None
    return frozenset(dir(loaded))


@lru_cache(maxsize=256)
def _source_names(path: str, mtime_ns: int, size: int) -> frozenset[str] | None:
    """Names bound at the top level of a module's source (``mtime_ns``/``size`` key the cache)."""
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return None  # not readable as Python: left to mypy and the import at run time
    names: set[str] = set()
    statements: list[ast.stmt] = list(tree.body)
    while statements:
        statement = statements.pop()
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(statement, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            # Definitions under ``if TYPE_CHECKING``/``try: import x`` count as defined.
            for field in ("body", "orelse", "finalbody"):
                statements.extend(getattr(statement, field, []))
            for handler in getattr(statement, "handlers", []):
                statements.extend(handler.body)
    if "__getattr__" in names:
        return None  # names decided at run time (PEP 562)
    return frozenset(names)
