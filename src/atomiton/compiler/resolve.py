"""The include tree: every blueprint file a compilation needs, read once, before anything binds.

``resolve_tree`` reads the blueprint, counts the nodes its whole include tree inlines to (E0012
before anything large is built), then follows every sub-blueprint reference (a group node's
``path``, ``id`` or inline ``nodes``; a loop body or parallel branch) relative to the including
file, then the search path, then the store by id. Each file is read and validated once, however
often it is included; cycles (E0502), too-deep chains (E0013) and missing files are found here
and recorded with the reference, for ``bind`` to report where the reference is bound. What the
files mean (node types, ports, edges) is left to ``bind``; splicing children in, to ``inline``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import codes
from ..blueprint_paths import BLUEPRINT_KINDS, BLUEPRINT_SUFFIXES, display_path
from ..diagnostics import Diagnostic, DiagnosticSink, Span
from .ir import BlueprintDoc, NodeDef
from .naming import module_name_for
from .options import CompileOptions, Limits
from .schema import parse_document
from .source import SourceFile, parse_source, read_source

# What a reference without a suffix may be completed with, in the order tried.
_REFERENCE_SUFFIXES = (*BLUEPRINT_SUFFIXES, *(f"{kind}.yaml" for kind in BLUEPRINT_KINDS))
# A top-level ``id:`` line, read without parsing the whole file when a store is searched by id.
_TOP_LEVEL_ID = re.compile(r"""^id:[ \t]*(["']?)(?P<id>[^"'#\s]+)\1[ \t]*(?:#.*)?$""", re.MULTILINE)
# Node types that name a sub-blueprint.
_GROUP_TYPES = frozenset({"blueprint", "group", "flow"})
# Longest reference shown in a message: a path too long for the OS can be thousands of bytes.
_SHOWN = 80
# Which sub-blueprint of a node an include is: ``GROUP`` for a group node's own, else the index
# of a loop body or parallel branch in ``NodeDef.subflows``.
GROUP = -1

_Parsed = tuple[BlueprintDoc | None, tuple[Diagnostic, ...]]


def is_group(definition: NodeDef) -> bool:
    """Whether a node stands for a sub-blueprint that is inlined in its place."""
    return definition.type in _GROUP_TYPES or definition.inline is not None


@dataclass(frozen=True, slots=True)
class IncludeChain:
    """The files being compiled, outermost first, and the nodes that included them."""

    files: tuple[Path, ...]
    labels: tuple[str, ...]
    spans: tuple[Span, ...] = ()  # innermost first

    @classmethod
    def root(cls, doc: BlueprintDoc, key: Callable[[Path], Path]) -> IncludeChain:
        return cls((key(doc.path),), (doc.display,))

    def enter(
        self, node: NodeDef, child: BlueprintDoc, key: Callable[[Path], Path]
    ) -> IncludeChain:
        """The chain inside ``child``; ``key`` resolves its path (``_Reader.key`` remembers)."""
        inline = child.path == self.files[-1] and child.display == self.labels[-1]
        files = self.files if inline else (*self.files, key(child.path))
        labels = self.labels if inline else (*self.labels, child.display)
        return IncludeChain(files, labels, (node.span, *self.spans))


@dataclass(frozen=True, slots=True)
class Include:
    """One sub-blueprint reference of a document, followed.

    ``diagnostics`` are what finding and reading it reported, for the including document (a
    problem inside the included file already carries its ``included from`` note); ``tree`` is
    None when it could not be had.
    """

    node: NodeDef
    index: int  # ``GROUP`` or the subflow's index
    tree: ResolvedDoc | None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def is_subflow(self) -> bool:
        return self.index != GROUP


@dataclass(frozen=True, slots=True)
class ResolvedDoc:
    """A document with each of its sub-blueprint references followed, to any depth.

    ``includes`` is keyed by (position of the node in ``doc.nodes``, ``GROUP`` or subflow index).
    """

    doc: BlueprintDoc
    chain: IncludeChain
    includes: Mapping[tuple[int, int], Include]


@dataclass(frozen=True, slots=True)
class IncludeTree:
    """The result of the stage: the root document resolved, and every file read, root first."""

    root: ResolvedDoc
    files: tuple[Path, ...]


def _resolved(path: Path) -> Path | None:
    """``path`` resolved (asking the file system), None when it cannot be."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a name too long, a symlink loop
        return None


def resolve_tree(path: Path, options: CompileOptions) -> IncludeTree:
    """Read the blueprint at ``path`` and every file it includes, each once.

    Raises:
        BlueprintError: the blueprint itself cannot be read or validated, or its include tree
            inlines to more than ``Limits.max_nodes`` nodes.
    """
    reader = _Reader(options)
    sink = DiagnosticSink()
    doc = reader.read(path, sink)
    sink.raise_if_errors()
    assert doc is not None
    _check_tree_size(doc, reader)
    root = reader.resolve(doc, IncludeChain.root(doc, reader.key))
    return IncludeTree(root, tuple(dict.fromkeys(resolved for resolved, _ in reader.files)))


class _Reader:
    """Reads files for one compilation, each once, and follows references between them."""

    def __init__(self, options: CompileOptions) -> None:
        self.options = options
        # Keyed by (resolved path, display name), in the order first read.
        self.files: dict[tuple[Path, str], _Parsed] = {}
        # A path -> (resolved, display name): each asks the file system, and a file is named
        # by every node that includes it, twice (counting nodes, then following them).
        self.names: dict[Path, tuple[Path, str]] = {}
        # The folder display names are relative to, resolved once (``display_path`` resolves
        # it per call); None when it cannot be resolved, and names are then written as given.
        try:
            self.base: Path | None = (options.root or Path.cwd()).resolve()
        except (OSError, RuntimeError):
            self.base = None

    def key(self, path: Path) -> Path:
        """``path`` resolved, as files are told apart (asked of the file system once)."""
        return self._names(path)[0]

    def _names(self, path: Path) -> tuple[Path, str]:
        names = self.names.get(path)
        if names is None:
            names = self.names[path] = self._name(path)
        return names

    def _name(self, path: Path) -> tuple[Path, str]:
        """``path`` resolved, and named as ``display_path`` names it (from the same resolve)."""
        resolved = _resolved(path)
        if resolved is None:
            return path.absolute(), path.as_posix()
        if self.base is None or not resolved.is_relative_to(self.base):
            return resolved, path.as_posix()
        return resolved, resolved.relative_to(self.base).as_posix()

    def read(self, path: Path, sink: DiagnosticSink) -> BlueprintDoc | None:
        """The validated document at ``path``; its problems go to ``sink`` on every call."""
        key = self._names(path)
        if key not in self.files:
            own = DiagnosticSink()
            self.files[key] = (_parse(path, key[1], own, self.options.limits), tuple(own.items))
        doc, diagnostics = self.files[key]
        sink.extend(diagnostics)
        return doc

    def resolve(self, doc: BlueprintDoc, chain: IncludeChain) -> ResolvedDoc:
        """``doc`` with every group node's and every loop body's or branch's file followed."""
        includes: dict[tuple[int, int], Include] = {}
        for position, node in enumerate(doc.nodes):
            if is_group(node):
                includes[position, GROUP] = self._follow(node, GROUP, node, doc, chain)
                continue
            for index, (subflow, span) in enumerate(node.subflows):
                if isinstance(subflow, str):
                    reference = NodeDef(
                        node.id,
                        "blueprint",
                        span,
                        params={"path": subflow},
                        param_spans={"path": span},
                    )
                    includes[position, index] = self._follow(node, index, reference, doc, chain)
                else:
                    # Written inline: no file to find, and its depth is the YAML's.
                    tree = self.resolve(subflow, chain.enter(node, subflow, self.key))
                    includes[position, index] = Include(node, index, tree)
        return ResolvedDoc(doc, chain, includes)

    def _follow(
        self,
        node: NodeDef,
        index: int,
        reference: NodeDef,
        parent: BlueprintDoc,
        chain: IncludeChain,
    ) -> Include:
        sink = DiagnosticSink()
        child = self._load_child(reference, parent, chain, sink)
        tree = None if child is None else self.resolve(child, chain.enter(node, child, self.key))
        return Include(node, index, tree, tuple(sink.items))

    def _load_child(
        self, node: NodeDef, parent: BlueprintDoc, chain: IncludeChain, sink: DiagnosticSink
    ) -> BlueprintDoc | None:
        """The blueprint a group node refers to, or None after reporting why it can't be had."""
        options = self.options
        limit = options.limits.max_include_depth
        if len(chain.spans) >= limit:
            sink.error(
                codes.INCLUDES_TOO_DEEP,
                node.span,
                limit=limit,
                hint=f"the limit is Limits.max_include_depth = {limit}; the chain starts at "
                f"{' -> '.join(chain.labels[:3])}{' -> ...' if len(chain.labels) > 3 else ''}; "
                "flatten it, or raise the limit in CompileOptions",
            )
            return None
        if node.inline is not None:
            return node.inline
        reference = node.params.get("path")
        by_id = node.params.get("id", node.params.get("blueprintId"))
        span = node.param_spans.get("path") or node.param_spans.get("id") or node.span
        if isinstance(reference, str) and reference:
            label = reference
        elif isinstance(by_id, str) and by_id:
            label = f"id {by_id}"
        else:
            sink.error(codes.SUB_BLUEPRINT_WITHOUT_SOURCE, node.span, node=node.id)
            return None
        try:
            found = _locate(node, parent, options)
        except (OSError, ValueError) as exc:
            reason = "it contains a NUL character" if isinstance(exc, ValueError) else exc.strerror
            sink.error(
                codes.UNUSABLE_INCLUDE_PATH,
                span,
                node=node.id,
                reason=f"{_shorten(label)}: {reason or exc}",
                hint="give the path of an existing blueprint file; each name in it must be short "
                "enough for the file system (usually 255 bytes)",
            )
            return None
        if found is None:
            places = [str(parent.path.parent or ".")] + [str(p) for p in options.search_path]
            if not isinstance(reference, str):
                places = [str(p) for p in _id_folders(options)]
            sink.error(
                codes.SUB_BLUEPRINT_NOT_FOUND,
                span,
                ref=_shorten(label),
                node=node.id,
                hint=f"looked in {', '.join(places)}",
            )
            return None
        key = self.key(found)
        if key in chain.files:
            start = chain.files.index(key)
            loop = [*chain.labels[start:], display_path(found, options.root)]
            sink.error(
                codes.INCLUDE_CYCLE,
                span,
                chain=" -> ".join(loop),
                hint="a blueprint cannot contain itself; move the shared nodes into a third file",
            )
            return None
        # Problems reading the child are in the child's file: they get the "included from" note.
        child_sink = DiagnosticSink()
        doc = self.read(found, child_sink)
        sink.extend(included_from(child_sink.items, node.span))
        return doc


def _parse(path: Path, display: str, sink: DiagnosticSink, limits: Limits) -> BlueprintDoc | None:
    source = read_source(path, display, sink, limits)
    if source is None or _too_many_nodes(source, sink, limits):
        return None
    return parse_document(source, sink, default_id=module_name_for(path))


def _too_many_nodes(source: SourceFile, sink: DiagnosticSink, limits: Limits) -> bool:
    """A file with more nodes than the whole include tree may have, before validating them."""
    nodes = source.data.get("nodes") if isinstance(source.data, dict) else None
    if not isinstance(nodes, list) or len(nodes) <= limits.max_nodes:
        return False
    sink.error(
        codes.TOO_MANY_NODES,
        source.positions.span(("nodes",), key=True),
        count=len(nodes),
        limit=limits.max_nodes,
        hint=f"the limit is Limits.max_nodes = {limits.max_nodes:,}; split the flow, or raise "
        "the limit in CompileOptions",
    )
    return True


def _check_tree_size(doc: BlueprintDoc, reader: _Reader) -> None:
    """Count the nodes ``doc`` has once every sub-blueprint is inlined, each inclusion counted,
    and raise ``BlueprintError`` (E0012) past ``Limits.max_nodes``.

    A file included ten times, which includes its child ten times, and so on six levels down,
    makes a million nodes from a few small files; counting first, with each file's total
    remembered, turns that into a diagnostic before anything is followed or built. Problems in
    the files (not found, cycles, bad YAML) are left to ``_Reader.resolve``, which records them
    with their reference.
    """
    limit = reader.options.limits.max_nodes
    counter = _TreeCounter(reader)
    total = 0
    # Resolving the path touches the file system: once, not once per node.
    open_files = frozenset({reader.key(doc.path)})
    for node in doc.nodes:
        size = counter.node(node, doc, open_files, 0)
        total += size
        if total > limit:
            whole = total + sum(
                counter.node(n, doc, open_files, 0) for n in doc.nodes[doc.nodes.index(node) + 1 :]
            )
            sink = DiagnosticSink()
            sink.error(
                codes.TOO_MANY_NODES,
                node.span,
                count=whole,
                limit=limit,
                hint=f"node {node.id!r} brings {size:,} of them; the limit is "
                f"Limits.max_nodes = {limit:,}: include fewer copies, or raise the limit in "
                "CompileOptions",
            )
            sink.raise_if_errors()


class _TreeCounter:
    """Nodes per node and per file once inlined; each file's total is computed once."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.options = reader.options
        self.files: dict[Path, int] = {}

    def node(
        self, node: NodeDef, doc: BlueprintDoc, open_files: frozenset[Path], depth: int
    ) -> int:
        if depth > self.options.limits.max_include_depth:
            return 1  # the build reports E0013 here
        size = 1
        if node.inline is not None:
            size += self.doc(node.inline, open_files, depth + 1)
        elif node.type in _GROUP_TYPES:
            size += self.child(node, doc, open_files, depth)
        for subflow, span in node.subflows:
            if isinstance(subflow, str):
                reference = NodeDef(node.id, "blueprint", span, params={"path": subflow})
                size += self.child(reference, doc, open_files, depth)
            else:
                size += self.doc(subflow, open_files, depth + 1)
        return size

    def doc(self, doc: BlueprintDoc, open_files: frozenset[Path], depth: int) -> int:
        return sum(self.node(n, doc, open_files, depth) for n in doc.nodes)

    def child(
        self, node: NodeDef, doc: BlueprintDoc, open_files: frozenset[Path], depth: int
    ) -> int:
        try:
            found = _locate(node, doc, self.options)
        except (OSError, ValueError):
            return 0
        if found is None:
            return 0
        key = self.reader.key(found)
        if key in open_files:
            return 0  # a cycle: the build reports it
        if key not in self.files:
            child = self.reader.read(found, DiagnosticSink())
            self.files[key] = 0 if child is None else self.doc(child, open_files | {key}, depth + 1)
        return self.files[key]


def _locate(node: NodeDef, parent: BlueprintDoc, options: CompileOptions) -> Path | None:
    """The file a group node names by ``path`` or ``id``; OSError or ValueError when the OS
    cannot use the name (too long, a NUL character)."""
    reference = node.params.get("path")
    by_id = node.params.get("id", node.params.get("blueprintId"))
    if isinstance(reference, str) and reference:
        return _find_path(reference, parent.path.parent, options.search_path)
    if isinstance(by_id, str) and by_id:
        return _find_id(by_id, _id_folders(options), options.limits)
    return None


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text):,} characters)"


def included_from(diagnostics: Iterable[Diagnostic], span: Span) -> list[Diagnostic]:
    """``diagnostics`` found in an included file, each with a note naming the including node.

    Called once per level while the include stack unwinds, so the notes read innermost first,
    the way C compilers print ``In file included from``.
    """
    return [d.with_note(f"included from {span}") for d in diagnostics]


def _id_folders(options: CompileOptions) -> tuple[Path, ...]:
    """Where a reference by ``id`` is looked for: the store, then the search path."""
    store = () if options.store is None else (options.store,)
    return (*store, *options.search_path)


def _find_path(reference: str, base: Path, search_path: tuple[Path, ...]) -> Path | None:
    candidate = Path(reference)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for folder in (base, *search_path):
        path = folder / candidate
        if path.is_file():
            return path
        for suffix in _REFERENCE_SUFFIXES:
            with_suffix = folder / f"{reference}{suffix}"
            try:
                if with_suffix.is_file():
                    return with_suffix
            except OSError:
                continue  # the name with a suffix is too long; the name itself was not
    return None


def _find_id(blueprint_id: str, folders: tuple[Path, ...], limits: Limits) -> Path | None:
    """A file named after the id, else a file whose top-level ``id:`` is the id, folder by folder.

    Atomiton's store names files after the blueprint's id, but a renamed file keeps its ``id:``;
    candidates are scanned in name order so that the choice is reproducible.
    """
    if "/" in blueprint_id or "\\" in blueprint_id or blueprint_id.startswith("."):
        return None
    for folder in folders:
        for suffix in _REFERENCE_SUFFIXES:
            path = folder / f"{blueprint_id}{suffix}"
            if path.is_file():
                return path
        try:
            if not folder.is_dir():
                continue
            entries = sorted(folder.iterdir())
        except OSError:
            continue  # an unreadable store folder holds nothing we can use
        for path in entries:
            if (
                path.name.endswith(BLUEPRINT_SUFFIXES)
                and path.is_file()
                and _declared_id(path, limits) == blueprint_id
            ):
                return path
    return None


def _declared_id(path: Path, limits: Limits) -> str | None:
    try:
        with path.open("rb") as stream:
            raw = stream.read(limits.max_file_bytes + 1)
    except OSError:
        return None
    if len(raw) > limits.max_file_bytes:
        return None
    text = raw.decode("utf-8", errors="replace")
    match = _TOP_LEVEL_ID.search(text)
    if match:
        return match["id"]
    # Flow style (``{id: x, ...}``) or JSON: parse it, within the same limits as a blueprint,
    # and take no chances on broken files.
    source = parse_source(text, path, path.name, DiagnosticSink(), limits)
    data = source.data if source is not None else None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None
