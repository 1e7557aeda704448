"""Node type name -> ``NodeSpec``: built-in node modules found by their file, others by entry point.

A built-in node type is one module of ``atomiton.nodes`` that defines ``SPEC`` at its top level;
its type name is the module's name with ``-`` for ``_`` (``file_system`` -> ``file-system``). A
node package declares its types under the ``atomiton.nodes`` entry-point group, one entry per
type: ``slugify = "atomiton_slug.slugify"`` (the module's ``SPEC``) or ``"pkg.mod:NAME"``.

Nothing is imported to list the types: a module is imported the first time its spec is asked
for. Node modules import their third-party libraries (httpx, Pillow, openpyxl) only inside
``run``, so loading a spec works even when an extra is not installed; the compiler then reports
which ``pip install`` the blueprint needs. A package that declares a built-in type name, or one
another package declares too, is never loaded under that name: asking for it gives None and
``problem(name)`` says why, so a plugin can neither silently replace a built-in node nor be
silently ignored. Describing a spec is ``catalogue``'s business; the spec's shape is ``spec``'s.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .. import codes
from ..codes import ErrorCode
from ..naming import kebab_case

if TYPE_CHECKING:
    from .spec import NodeSpec

ENTRY_POINT_GROUP: Final = "atomiton.nodes"
BUILTIN_PACKAGE: Final = __name__.rpartition(".")[0]
# Types the compiler handles itself instead of calling a node module: sub-blueprints are inlined
# and ``python`` nodes call the user's own function.
BUILTIN_TYPES: Final[frozenset[str]] = frozenset({"blueprint", "group", "flow", "python"})
# Modules of this package that are not node types.
_NOT_NODES: Final = frozenset({"spec", "registry", "catalogue"})
# A node module assigns its spec at the top level (``SPEC: Final = node_spec(...)``).
_DEFINES_SPEC: Final = re.compile(r"^SPEC\b\s*(:[^=]*)?=", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class NodeSource:
    """Where a node type comes from, known without importing it."""

    type: str
    module: str
    # The name of the module's attribute that holds the spec.
    attribute: str = "SPEC"
    # The distribution that declares the type; None for a built-in one.
    package: str | None = None


@dataclass(frozen=True, slots=True)
class NodeProblem:
    """Why a declared node type cannot be used: a name clash (E0240) or a failed load (E0241)."""

    code: ErrorCode
    type: str
    package: str
    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class _Found:
    sources: dict[str, NodeSource]
    problems: dict[str, NodeProblem]


def builtin_sources(folder: Path, package: str = BUILTIN_PACKAGE) -> dict[str, NodeSource]:
    """The node modules in ``folder`` (a package's files), by type name, without importing them.

    A module is a node type when it assigns ``SPEC`` at its top level; private modules (``_x``)
    and this package's own machinery are not.
    """
    sources: dict[str, NodeSource] = {}
    for file in sorted(folder.glob("*.py")):
        name = file.stem
        if name.startswith("_") or name in _NOT_NODES:
            continue
        if _DEFINES_SPEC.search(file.read_text(encoding="utf-8")):
            type_name = kebab_case(name)
            sources[type_name] = NodeSource(type_name, f"{package}.{name}")
    return sources


@cache
def _found() -> _Found:
    sources = builtin_sources(Path(__file__).parent)
    problems: dict[str, NodeProblem] = {}
    declared: dict[str, NodeSource] = {}
    for source in _entry_point_sources():
        if source.type in sources or source.type in BUILTIN_TYPES:
            problems[source.type] = _clash(source, None)
        elif source.type in declared:
            problems[source.type] = _clash(source, declared[source.type].package)
        else:
            declared[source.type] = source
    sources.update(declared)
    # A clashing name is nobody's: whichever node a blueprint meant, it is told, not guessed.
    for type_name in problems:
        sources.pop(type_name, None)
    return _Found(sources, problems)


def _may_declare_nodes() -> bool:
    """Whether an installed distribution's ``entry_points.txt`` names the group at all.

    A plain look at the metadata folders on ``sys.path``: importing ``importlib.metadata``
    (email, zipfile, csv...) would double the time ``atomiton nodes`` takes when, as usual, no
    node package is installed. A folder that cannot be read counts as "maybe".
    """
    marker = f"[{ENTRY_POINT_GROUP}]"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # a missing folder, or a zip archive: nothing installed there by pip
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                points = os.path.join(entry or ".", name, "entry_points.txt")
                try:
                    with open(points, encoding="utf-8") as file:
                        if marker in file.read():
                            return True
                except FileNotFoundError:
                    continue
                except OSError:
                    return True
    return False


def _entry_point_sources() -> list[NodeSource]:
    if not _may_declare_nodes():
        return []
    from importlib.metadata import entry_points  # only when a package declares node types

    found = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        module, _, attribute = entry.value.partition(":")
        package = entry.dist.name if entry.dist is not None else entry.value
        found.append(NodeSource(entry.name, module.strip(), attribute.strip() or "SPEC", package))
    return found


def _clash(source: NodeSource, owner: str | None) -> NodeProblem:
    if owner is None:
        where = "atomiton itself"
        hint = f'rename the entry point in {source.package}\'s [project.entry-points."{ENTRY_POINT_GROUP}"]'
    else:
        where = f"package {owner!r}"
        hint = f"uninstall one of {owner!r} and {source.package!r}, or rename one entry point"
    return NodeProblem(
        codes.NODE_TYPE_CLASH,
        source.type,
        source.package or "",
        f"package {source.package!r} declares node type {source.type!r}, which {where} declares too",
        hint,
    )


@cache
def _load(type_name: str) -> NodeSpec | NodeProblem | None:
    from .spec import NodeSpec, NodeSpecError

    source = _found().sources.get(type_name)
    if source is None:
        return _found().problems.get(type_name)
    if source.package is None:
        spec = getattr(importlib.import_module(source.module), source.attribute)
        if not isinstance(spec, NodeSpec) or spec.type != type_name:
            # atomiton's own mistake, found by its tests: a built-in's type is its file's name.
            raise NodeSpecError(
                f"{source.module}.{source.attribute} must be the NodeSpec of type {type_name!r} "
                "(a built-in node's type is its module's name; keep an old name in aliases=)"
            )
        return spec
    # A third-party module may fail in any way while it imports: that is its package's problem,
    # reported as such, never a crash of the compiler.
    try:
        spec = getattr(importlib.import_module(source.module), source.attribute)
    except Exception as exc:  # noqa: BLE001 - reported as E0241 with the exception's text
        return _unloadable(source, f"{type(exc).__name__}: {exc}")
    if not isinstance(spec, NodeSpec):
        return _unloadable(source, f"{source.module}.{source.attribute} is not a NodeSpec")
    if not all(part.isidentifier() for part in spec.module.split(".")):
        # Generated modules import it by this name, so it must be a plain dotted name.
        return _unloadable(source, f"its spec names module {spec.module!r}, not an importable name")
    if spec.type != type_name:
        return _unloadable(
            source, f"its spec is for type {spec.type!r} (give node_spec type={type_name!r})"
        )
    return spec


def _unloadable(source: NodeSource, problem: str) -> NodeProblem:
    return NodeProblem(
        codes.BROKEN_NODE_PACKAGE,
        source.type,
        source.package or "",
        f"node type {source.type!r} of package {source.package!r} cannot be loaded: {problem}",
        f"fix or reinstall {source.package!r}; the entry point names {source.module}:{source.attribute}",
    )


def get(type_name: str) -> NodeSpec | None:
    """The spec of ``type_name`` (or one of its aliases), or None if there is no usable such type."""
    loaded = _load(type_name)
    if loaded is None and type_name not in _found().problems:
        return _aliases().get(type_name)
    return None if isinstance(loaded, NodeProblem) else loaded


def problem(type_name: str) -> NodeProblem | None:
    """Why ``type_name`` is declared but cannot be used, or None."""
    loaded = _load(type_name)
    return loaded if isinstance(loaded, NodeProblem) else None


def problems() -> list[NodeProblem]:
    """Every declared node type that cannot be used (clashing or failing to load), by name.

    Loads the types of node packages to find out (a built-in module is loaded only when asked
    for: it is part of atomiton, tested with it).
    """
    found = _found()
    packaged = [name for name, source in found.sources.items() if source.package is not None]
    loaded = [problem(name) for name in packaged]
    every = [*found.problems.values(), *(p for p in loaded if p is not None)]
    return sorted(every, key=lambda p: p.type)


def sources() -> dict[str, NodeSource]:
    """Every usable-looking node type's source, by type name (imports nothing)."""
    return dict(_found().sources)


def package_of(type_name: str) -> str | None:
    """The distribution that declares ``type_name``; None for a built-in (or unknown) one."""
    source = _found().sources.get(type_name)
    return source.package if source is not None else None


@cache
def _aliases() -> dict[str, NodeSpec]:
    by_alias: dict[str, NodeSpec] = {}
    for name in _found().sources:
        loaded = _load(name)
        if isinstance(loaded, NodeProblem) or loaded is None:
            continue
        for alias in loaded.aliases:
            by_alias.setdefault(alias, loaded)
    return by_alias


def type_names() -> list[str]:
    """Every usable node type name, sorted, including aliases and the compiler's own types."""
    usable = [name for name in _found().sources if get(name) is not None]
    return sorted({*usable, *_aliases(), *BUILTIN_TYPES})


def summary(type_name: str) -> str:
    """The first line of a type's description, read from its source without importing it.

    ``atomiton nodes`` lists types with this, so that listing imports no node module (nor
    pydantic). The description is the ``description=`` text of the module's ``SPEC`` call when
    it is written as a literal, else the first line of the module's docstring.
    """
    source = _found().sources.get(type_name)
    path = _module_file(source.module) if source is not None else None
    if source is None or path is None:
        return ""
    text = path.read_text(encoding="utf-8")
    # Parsing only the spec's own statement keeps listing fast (a module is hundreds of lines).
    found = re.search(rf"^{re.escape(source.attribute)}\b[^\n]*=", text, re.MULTILINE)
    statement = _statement_at(text, found.start()) if found is not None else None
    value = statement.value if isinstance(statement, (ast.Assign, ast.AnnAssign)) else None
    if isinstance(value, ast.Call):
        for keyword in value.keywords:
            if keyword.arg == "description" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value).strip().split("\n", 1)[0]
    docstring = ast.get_docstring(ast.parse(text)) or ""
    return docstring.strip().split("\n", 1)[0]


def _statement_at(text: str, start: int) -> ast.stmt | None:
    """The top-level statement that starts at ``start``: it ends before the next line that
    starts a statement of its own (in column 0, not a closing bracket or a comment)."""
    lines = text[start:].split("\n")
    end = next(
        (i for i, line in enumerate(lines[1:], 1) if line[:1] not in ("", " ", ")", "]", "#")),
        len(lines),
    )
    try:
        body = ast.parse("\n".join(lines[:end])).body
    except SyntaxError:
        return None
    return body[0] if body else None


def _module_file(module: str) -> Path | None:
    from importlib.util import find_spec

    try:
        found = find_spec(module)  # imports the parent packages only
    except (ImportError, ValueError):
        return None
    origin = found.origin if found is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None
