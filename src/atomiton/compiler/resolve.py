"""Sub-blueprints: finding them, catching include cycles, and inlining them into the parent.

A node of type ``blueprint``/``group`` names another file by ``path`` (relative to the including
file, then the search path), a blueprint by ``id`` in the store, or holds inline ``nodes``. Its
graph is built on its own (by ``build``), then spliced into the parent here: child ids get the
node's id as a prefix (``totals.sum``) and the child's interface bindings are replaced by what
feeds the node. Problems found inside an included file carry one ``included from`` note per level.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path

from ..diagnostics import Diagnostic, DiagnosticSink, Span
from .ir import (
    MISSING,
    Binding,
    BlueprintDoc,
    CodeFunction,
    Constant,
    FromInput,
    FromNode,
    FromTemplate,
    Graph,
    Node,
    NodeDef,
    Output,
    Template,
    TemplateExpr,
)
from .naming import module_name_for
from .options import CompileOptions, Limits
from .schema import parse_document
from .source import SourceFile, parse_source, read_source

_BindingMap = Callable[[Binding], Binding]
_SUFFIXES = (".yaml", ".yml", ".flow.yaml", ".blueprint.yaml")
# A top-level ``id:`` line, read without parsing the whole file when a store is searched by id.
_TOP_LEVEL_ID = re.compile(r"""^id:[ \t]*(["']?)(?P<id>[^"'#\s]+)\1[ \t]*(?:#.*)?$""", re.MULTILINE)
# Node types that name a sub-blueprint (``build`` inlines the same ones).
_GROUP_TYPES = frozenset({"blueprint", "group", "flow"})
# Longest reference shown in a message: a path too long for the OS can be thousands of bytes.
_SHOWN = 80

_Parsed = tuple[BlueprintDoc | None, tuple[Diagnostic, ...]]
# The files read by the compilation in progress, by (resolved path, display name): the check of
# the include tree and the build that follows it read each file once, however often included.
_SESSION: ContextVar[dict[tuple[Path, str], _Parsed] | None] = ContextVar(
    "atomiton_read_session", default=None
)


@dataclass(frozen=True, slots=True)
class IncludeChain:
    """The files being compiled, outermost first, and the nodes that included them."""

    files: tuple[Path, ...]
    labels: tuple[str, ...]
    spans: tuple[Span, ...] = ()  # innermost first

    @classmethod
    def root(cls, doc: BlueprintDoc) -> IncludeChain:
        return cls((_key(doc.path),), (doc.display,))

    def enter(self, node: NodeDef, child: BlueprintDoc) -> IncludeChain:
        inline = child.path == self.files[-1] and child.display == self.labels[-1]
        files = self.files if inline else (*self.files, _key(child.path))
        labels = self.labels if inline else (*self.labels, child.display)
        return IncludeChain(files, labels, (node.span, *self.spans))


def _key(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a name too long, a symlink loop
        return path.absolute()


def display_path(path: Path, options: CompileOptions) -> str:
    """How a file is named in diagnostics and generated modules: relative to the root."""
    root = options.root or Path.cwd()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        return path.as_posix()


@contextmanager
def read_session() -> Iterator[None]:
    """Within this block each blueprint file is read and validated once, however often it is
    included (``load_graph`` wraps a compilation in it)."""
    token = _SESSION.set({})
    try:
        yield
    finally:
        _SESSION.reset(token)


def load_document(path: Path, options: CompileOptions) -> BlueprintDoc:
    """Read and validate the blueprint at ``path``; raise ``BlueprintError`` on any problem."""
    sink = DiagnosticSink()
    doc = _read(path, display_path(path, options), sink, options.limits)
    sink.raise_if_errors()
    assert doc is not None
    return doc


def _read(path: Path, display: str, sink: DiagnosticSink, limits: Limits) -> BlueprintDoc | None:
    session = _SESSION.get()
    key = (_key(path), display)
    if session is not None and key in session:
        doc, diagnostics = session[key]
        sink.extend(diagnostics)
        return doc
    own = DiagnosticSink()
    doc = _parse(path, display, own, limits)
    if session is not None:
        session[key] = (doc, tuple(own.items))
    sink.extend(own.items)
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
        "E0012",
        source.positions.span(("nodes",), key=True),
        count=len(nodes),
        limit=limits.max_nodes,
        hint=f"the limit is Limits.max_nodes = {limits.max_nodes:,}; split the flow, or raise "
        "the limit in CompileOptions",
    )
    return True


def check_include_tree(doc: BlueprintDoc, options: CompileOptions) -> None:
    """Count the nodes ``doc`` has once every sub-blueprint is inlined, each inclusion counted,
    and raise ``BlueprintError`` (E0012) past ``Limits.max_nodes``.

    A file included ten times, which includes its child ten times, and so on six levels down,
    makes a million nodes from a few small files; counting first, with each file's total
    remembered, turns that into a diagnostic before anything is built. Problems in the files
    (not found, cycles, bad YAML) are left to the build, which reports them where they are.
    """
    limit = options.limits.max_nodes
    counter = _TreeCounter(options)
    total = 0
    for node in doc.nodes:
        size = counter.node(node, doc, frozenset({_key(doc.path)}), 0)
        total += size
        if total > limit:
            whole = total + sum(
                counter.node(n, doc, frozenset({_key(doc.path)}), 0)
                for n in doc.nodes[doc.nodes.index(node) + 1 :]
            )
            sink = DiagnosticSink()
            sink.error(
                "E0012",
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

    def __init__(self, options: CompileOptions) -> None:
        self.options = options
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
        key = _key(found)
        if key in open_files:
            return 0  # a cycle: the build reports it
        if key not in self.files:
            child = _read(
                found, display_path(found, self.options), DiagnosticSink(), self.options.limits
            )
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


def load_child(
    node: NodeDef,
    parent: BlueprintDoc,
    options: CompileOptions,
    chain: IncludeChain,
    sink: DiagnosticSink,
) -> BlueprintDoc | None:
    """The blueprint a group node refers to, or None after reporting why it can't be had."""
    limit = options.limits.max_include_depth
    if len(chain.spans) >= limit:
        sink.error(
            "E0013",
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
        sink.error("E0503", node.span, node=node.id)
        return None
    try:
        found = _locate(node, parent, options)
    except (OSError, ValueError) as exc:
        reason = "it contains a NUL character" if isinstance(exc, ValueError) else exc.strerror
        sink.error(
            "E0011",
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
            "E0501", span, ref=_shorten(label), node=node.id, hint=f"looked in {', '.join(places)}"
        )
        return None
    key = _key(found)
    if key in chain.files:
        start = chain.files.index(key)
        loop = [*chain.labels[start:], display_path(found, options)]
        sink.error(
            "E0502",
            span,
            chain=" -> ".join(loop),
            hint="a blueprint cannot contain itself; move the shared nodes into a third file",
        )
        return None
    # Problems reading the child are in the child's file: they get the "included from" note.
    child_sink = DiagnosticSink()
    doc = _read(found, display_path(found, options), child_sink, options.limits)
    sink.extend(included_from(child_sink.items, node.span))
    return doc


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
        for suffix in _SUFFIXES:
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
        for suffix in _SUFFIXES:
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
                path.name.endswith(_SUFFIXES)
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


def inline_children(graph: Graph, children: Mapping[str, Graph], sink: DiagnosticSink) -> Graph:
    """Replace each group node of ``graph`` by its child's nodes, prefixed with the node's id.

    A loop body inside a child that reads one of the child's inputs fed by a node's output is
    reported to ``sink`` (a body function reaches the flow's inputs, not other nodes' results).
    """
    if not children:
        return graph
    outputs_of: dict[str, dict[str, Binding]] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        child = children.get(node.id)
        if child is None:
            nodes.append(node)
            continue
        prefix = f"{node.id}."
        feeds: dict[str, Binding] = {}
        for port in child.inputs:
            bound = node.inputs.get(port.name)
            if isinstance(bound, tuple):
                bound = bound[0]
            if bound is not None:
                feeds[port.name] = bound
            elif port.name in node.params:
                value = node.params[port.name]
                if isinstance(value, Template):
                    feeds[port.name] = FromTemplate(value)
                elif isinstance(value, (FromNode, FromInput, Constant, FromTemplate)):
                    feeds[port.name] = value
                else:
                    feeds[port.name] = Constant(value)
            elif port.default is not MISSING:
                feeds[port.name] = Constant(port.default)
        rename = _Renamer(prefix, feeds, node.span, sink=sink)
        nodes.extend(rename.node(n) for n in child.nodes)
        outputs_of[node.id] = {o.port.name: rename.binding(o.binding) for o in child.outputs}
    substitute = _Substitute(outputs_of)
    return replace(
        graph,
        nodes=tuple(substitute.node(n) for n in nodes),
        outputs=tuple(Output(o.port, substitute.binding(o.binding)) for o in graph.outputs),
    )


class _Renamer:
    """Moves a child's node into the parent: prefixed ids, interface inputs replaced."""

    def __init__(
        self,
        prefix: str,
        feeds: Mapping[str, Binding],
        span: Span,
        *,
        keep_inputs: bool = False,
        item: str | None = None,
        blocked: frozenset[str] = frozenset(),
        sink: DiagnosticSink | None = None,
    ) -> None:
        self.prefix = prefix
        self.feeds = feeds
        self.span = span
        # Inside a loop body or parallel branch the item is the body's own, and so is every
        # input no feed replaces: only ids move.
        self.keep_inputs = keep_inputs
        self.item = item
        # What a body may read of the blueprint's inputs once it is inlined: values its
        # function can reach (the flow's own inputs, constants). A body reads no node outside.
        self.body_feeds = {name: feed for name, feed in feeds.items() if _reachable_in_body(feed)}
        self.body_blocked = frozenset(feeds) - frozenset(self.body_feeds) | blocked
        # Inputs a body reads that it cannot reach, and where to report them.
        self.blocked = blocked
        self.sink = sink
        self.current: Node | None = None
        self.reported: set[tuple[str, str]] = set()

    def binding(self, binding: Binding) -> Binding:
        if isinstance(binding, FromNode):
            return FromNode(self.prefix + binding.node, binding.port)
        if isinstance(binding, FromInput):
            if self.keep_inputs:
                if binding.name == self.item:
                    return binding
                current = self.current
                if binding.name in self.blocked and self.sink is not None and current is not None:
                    if (current.id, binding.name) not in self.reported:
                        self.reported.add((current.id, binding.name))
                        found = self.sink.error(
                            "E0305", current.span, node=self.prefix + current.id, name=binding.name
                        )
                        self.sink.items[-1] = found.with_note(f"included from {self.span}")
                return self.feeds.get(binding.name, binding)
            return self.feeds.get(binding.name, Constant(None))
        if isinstance(binding, FromTemplate):
            return FromTemplate(_map_template(binding.template, self.binding))
        return binding

    def node(self, node: Node) -> Node:
        self.current = node
        return replace(
            node,
            id=self.prefix + node.id,
            inputs=_map_inputs(node.inputs, self.binding),
            params=_map_value(node.params, self.binding),  # type: ignore[arg-type]
            code=_map_code(node.code, self.binding),
            # Nested bodies move with their node, so that two loops of the same name in sibling
            # branches (or in two inlined copies of a sub-blueprint) keep distinct node ids.
            bodies=tuple(
                _prefix_body(
                    body, self.prefix, self.body_feeds, self.body_blocked, self.sink, self.span
                )
                for body in node.bodies
            ),
        )


def _reachable_in_body(feed: Binding) -> bool:
    """Whether a body function can compute ``feed``: no node result outside the body in it."""
    if isinstance(feed, (FromInput, Constant)):
        return True
    if isinstance(feed, FromTemplate):
        return all(
            isinstance(part, str) or isinstance(part.root, str) or _reachable_in_body(part.root)
            for part in feed.template.parts
        )
    return False


def _prefix_body(
    body: Graph,
    prefix: str,
    feeds: Mapping[str, Binding],
    blocked: frozenset[str] = frozenset(),
    sink: DiagnosticSink | None = None,
    origin: Span | None = None,
) -> Graph:
    """A loop body or parallel branch with its node ids (and reads of them) prefixed, and the
    enclosing blueprint's inputs it reads replaced by ``feeds`` where they are given.

    ``origin`` is the node that included the blueprint, for diagnostics.
    """
    item = body.inputs[0].name if body.inputs else None
    span = origin if origin is not None else Span(body.display)
    rename = _Renamer(prefix, feeds, span, keep_inputs=True, item=item, blocked=blocked, sink=sink)
    return replace(
        body,
        nodes=tuple(rename.node(n) for n in body.nodes),
        outputs=tuple(Output(o.port, rename.binding(o.binding)) for o in body.outputs),
    )


class _Substitute:
    """Points the parent's reads of a group node's outputs at the child's inner values."""

    def __init__(self, outputs_of: Mapping[str, Mapping[str, Binding]]) -> None:
        self.outputs_of = outputs_of

    def binding(self, binding: Binding) -> Binding:
        # A group's output may pass another group's output through (its input, fed by that
        # group): follow the chain to a real node.
        while isinstance(binding, FromNode) and binding.node in self.outputs_of:
            binding = self.outputs_of[binding.node].get(binding.port, Constant(None))
        if isinstance(binding, FromTemplate):
            return FromTemplate(_map_template(binding.template, self.binding))
        return binding

    def node(self, node: Node) -> Node:
        return replace(
            node,
            inputs=_map_inputs(node.inputs, self.binding),
            params=_map_value(node.params, self.binding),  # type: ignore[arg-type]
            code=_map_code(node.code, self.binding),
        )


def _map_inputs(
    inputs: Mapping[str, Binding | tuple[Binding, ...]], fn: _BindingMap
) -> dict[str, Binding | tuple[Binding, ...]]:
    return {
        port: tuple(fn(b) for b in value) if isinstance(value, tuple) else fn(value)
        for port, value in inputs.items()
    }


def _map_code(code: tuple[CodeFunction, ...], fn: _BindingMap) -> tuple[CodeFunction, ...]:
    return tuple(
        (
            replace(function, reads=tuple((name, fn(binding)) for name, binding in function.reads))
            if function.reads
            else function
        )
        for function in code
    )


def _map_template(template: Template, fn: _BindingMap) -> Template:
    parts: list[str | TemplateExpr] = []
    for part in template.parts:
        if isinstance(part, TemplateExpr) and not isinstance(part.root, str):
            part = replace(part, root=fn(part.root))
        parts.append(part)
    return Template(tuple(parts))


def _map_value(value: object, fn: _BindingMap) -> object:
    if isinstance(value, (FromNode, FromInput, Constant, FromTemplate)):
        return fn(value)
    if isinstance(value, Template):
        return _map_template(value, fn)
    if isinstance(value, dict):
        return {k: _map_value(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_value(v, fn) for v in value]
    return value


def prefixed(graph: Graph, prefix: str) -> Graph:
    """``graph`` with every node id (and every read of a node) prefixed, e.g. ``loop.body.``."""
    rename = _Renamer(
        prefix, {p.name: FromInput(p.name) for p in graph.inputs}, Span(graph.display)
    )
    return replace(
        graph,
        nodes=tuple(rename.node(n) for n in graph.nodes),
        outputs=tuple(Output(o.port, rename.binding(o.binding)) for o in graph.outputs),
    )
