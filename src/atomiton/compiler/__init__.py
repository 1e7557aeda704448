"""The compiler: blueprint YAML -> checked graph -> plan -> one typed Python module.

``compile_blueprint`` is a thin public function over named stages, each a module that hands plain
data to the next: ``resolve`` (the include tree, every file read once through ``source`` and
``schema``), then for each document, innermost first, ``bind`` (with ``parameters``: types,
ports, edges, templates, code), ``validate`` (read-only checks) and ``inline`` (sub-blueprints
spliced in with prefixed ids); then ``plan`` (tasks, guards, the policy path) and ``codegen``
with ``node_code``, ``layout`` and ``module_text``, written through ``writer``, which records the
source map as it writes (``postprocess`` is black over the whole module, for checking).
``typecheck`` runs mypy on the result for ``atomiton check``.
"""

from __future__ import annotations

import gc
import hashlib
import linecache
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import CodeType, ModuleType

from ..diagnostics import Diagnostic, DiagnosticSink
from . import (
    bind,
    cache_policy,
    codegen,
    inline,
    parameters,
    pickling,
    plan,
    postprocess,
    resolve,
    validate,
)
from .bound import Child, body_prefix, item_document
from .ir import Graph, PortDef
from .reads import mark_skipped
from .naming import module_name_for
from .options import CompileOptions, Limits
from .writer import LineMap

__all__ = [
    "CompileOptions",
    "CompiledModule",
    "Limits",
    "build_graph",
    "compile_blueprint",
    "load_graph",
    "load_module",
    "module_from_code",
    "module_name_for",
]


@dataclass(frozen=True, slots=True)
class CompiledModule:
    """The result of compiling one blueprint.

    Attributes:
        module_name: the Python module name (from the blueprint's file stem).
        source: the blueprint file.
        code: the generated module, black-formatted; byte-identical for identical input.
        line_map: (first generated line of a run, its ``Origin`` or None), sorted by line, as
            the writer recorded it: mypy findings and tracebacks are mapped back through it
            (the module keeps the same map as ``_SOURCE_MAP``).
        warnings: diagnostics of warning severity (errors raise ``BlueprintError`` instead).
        graph: the checked, inlined graph the module was generated from.
        files: every blueprint file the compilation read (resolved paths, the blueprint itself
            first), then the Python sources the nodes' code versions were read from, so that a
            cache of the result can tell when it is stale.
    """

    module_name: str
    source: Path
    code: str
    line_map: LineMap
    warnings: tuple[Diagnostic, ...]
    graph: Graph
    files: tuple[Path, ...] = ()


def load_graph(path: str | Path, *, options: CompileOptions | None = None) -> Graph:
    """Read, resolve and check a blueprint; raise ``BlueprintError`` with every problem found."""
    return _load_graph(path, options)[0]


def _load_graph(path: str | Path, options: CompileOptions | None) -> tuple[Graph, tuple[Path, ...]]:
    """``load_graph``, and the files the compilation read (in the order they were read)."""
    options = options or CompileOptions()
    tree = resolve.resolve_tree(Path(path), options)
    return build_graph(tree, options), tree.files


def build_graph(tree: resolve.IncludeTree, options: CompileOptions) -> Graph:
    """The checked, inlined graph of a resolved include tree (no file is read here).

    Raises:
        BlueprintError: the blueprint or a file it includes has errors; all of them are listed.
    """
    sink = DiagnosticSink()
    graph = _graph(tree.root, options, sink)
    sink.raise_if_errors()
    assert graph is not None
    cache_warnings = cache_policy.check(graph)
    return replace(graph, warnings=graph.warnings + cache_warnings) if cache_warnings else graph


def _graph(
    resolved: resolve.ResolvedDoc,
    options: CompileOptions,
    sink: DiagnosticSink,
    outer_inputs: tuple[PortDef, ...] | None = None,
) -> Graph | None:
    """One document through bind, validate and inline, its sub-blueprints first; None when it
    has errors that leave no graph to include (all of them are in ``sink``)."""
    # A loop body or branch sees the flow's inputs, the item first (as ``bind`` gives them).
    inputs = item_document(resolved.doc, outer_inputs).inputs
    children = {
        key: _child(include, resolved, inputs, options)
        for key, include in resolved.includes.items()
    }
    bound = bind.bind_document(resolved, children, options, sink, outer_inputs=outer_inputs)
    parameters.bind_params(bound, sink)
    sink.extend(validate.check_bound(bound, options))
    failed = sink.has_errors
    # Code is checked either way, so a mis-typed edge and a syntax error in the same node are
    # reported together; errors in code alone still leave a graph for the including flow.
    parameters.bind_code(bound, sink)
    if failed:
        return None
    order, cycle = validate.sort_nodes(bind.finish_nodes(bound))
    sink.extend(cycle)
    if order is None:
        return None
    doc = bound.doc
    graph = Graph(
        id=doc.id,
        name=doc.name,
        version=doc.version,
        description=doc.description,
        display=doc.display,
        sha256=doc.sha256,
        metadata=doc.metadata,
        inputs=doc.inputs,
        outputs=bind.graph_outputs(bound, order, sink),
        nodes=tuple(order),
        concurrency=doc.concurrency,
        timeout=doc.timeout,
        cache=doc.cache,
        executor=doc.executor,
    )
    groups = {node_id: node.child for node_id, node in bound.nodes.items() if node.child}
    graph = mark_skipped(inline.inline_children(graph, groups, sink), sink)
    return replace(graph, warnings=tuple(d for d in sink.items if not d.is_error))


def _child(
    include: resolve.Include,
    parent: resolve.ResolvedDoc,
    parent_inputs: tuple[PortDef, ...],
    options: CompileOptions,
) -> Child:
    """A sub-blueprint built for the document that includes it: its problems carry an
    ``included from`` note unless it is written inline in the same file."""
    if include.tree is None:
        return Child(None, include.diagnostics)
    child_sink = DiagnosticSink()
    outer = parent_inputs if include.is_subflow else None
    graph = _graph(include.tree, options, child_sink, outer)
    child = include.tree.doc
    if child.path == parent.doc.path and child.display == parent.doc.display:
        found = child_sink.items
    else:
        found = resolve.included_from(child_sink.items, include.node.span)
    if graph is not None and include.is_subflow:
        graph = inline.prefixed(graph, body_prefix(include.node, include.index))
    return Child(graph, (*include.diagnostics, *found))


def compile_blueprint(path: str | Path, *, options: CompileOptions | None = None) -> CompiledModule:
    """Compile the blueprint at ``path`` into Python source.

    Args:
        path: the blueprint's YAML file.
        options: compilation settings; the defaults suit command-line use.

    Returns:
        The generated module's text with its line map and warnings.

    Raises:
        BlueprintError: the blueprint has errors; ``.diagnostics`` lists all of them.
    """
    options = options or CompileOptions()
    with _collector_paused():
        graph, files = _load_graph(path, options)
        schedule = plan.plan_graph(graph)
        rendered = codegen.render_module(graph, schedule, options)
        warnings = (*graph.warnings, *pickling.check(graph, schedule))
    # The emitter lays the module out as black would (see ``layout``); running black over the
    # whole module is only for checking that, and costs seconds on large flows.
    code = postprocess.format_code(rendered.code) if options.format else rendered.code
    line_map = rendered.line_map
    versions = rendered.versions
    return CompiledModule(
        module_name=module_name_for(Path(path), graph.id),
        source=Path(path),
        code=code,
        line_map=line_map,
        warnings=(*warnings, *versions.warnings),
        graph=graph,
        files=tuple(dict.fromkeys((*files, *versions.files))),
    )


def module_from_code(compiled: CompiledModule) -> tuple[str, str, CodeType]:
    """The module name, ``__file__`` and bytecode ``load_module`` gives ``compiled``."""
    digest = hashlib.sha256(compiled.code.encode()).hexdigest()[:12]
    name = f"atomiton_flow_{compiled.module_name}_{digest}"
    file = f"<{compiled.source}>"
    return name, file, compile(compiled.code, file, "exec")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while compiling, restored after.

    Compiling allocates many objects that live until it ends (the graph, ASTs, laid-out text),
    so each collection walks a heap that only grows: a fifth of the time of a 5,000-node flow,
    more on larger ones. What compiling builds holds few cycles; a later full collection takes
    those. Turned back on as it was, the collector would at once walk every object compiling
    left alive (the graph it returns, for one: a tenth of a second at 5,000 nodes), so those
    are handed to the oldest generation first, as survivors of a full collection would be.

    The collector is one switch for the whole process, so compilations in several threads count
    themselves in and out: the first one in turns it off, the last one out restores it.
    """
    global _compiling, _collector_was_enabled
    with _collector_lock:
        if _compiling == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _compiling += 1
    try:
        yield
    finally:
        with _collector_lock:
            _compiling -= 1
            if _compiling == 0 and _collector_was_enabled:
                if gc.get_freeze_count() == 0:  # never thaw what the program froze itself
                    gc.freeze()  # every tracked object to the permanent generation...
                    gc.unfreeze()  # ...and from there into the oldest one, walked the least
                gc.enable()


_collector_lock = threading.Lock()
_compiling = 0
_collector_was_enabled = True
# Loading is one step for every thread: a module is in ``sys.modules`` before its body has run.
_load_lock = threading.RLock()


def load_module(compiled: CompiledModule) -> ModuleType:
    """Execute a compiled module in memory and return it (``atomiton run`` uses this).

    The module is registered in ``sys.modules`` under a name unique to its code, because pydantic
    and pickling look models up there.
    """
    digest = hashlib.sha256(compiled.code.encode()).hexdigest()[:12]
    name = f"atomiton_flow_{compiled.module_name}_{digest}"
    with _load_lock:  # another thread never sees the module before its body has run
        if name in sys.modules:
            return sys.modules[name]
        module = ModuleType(name)
        module.__file__ = f"<{compiled.source}>"
        sys.modules[name] = module
        # Its text, where tracebacks and a Dask executor (which sends it to workers) look.
        linecache.cache[module.__file__] = (
            len(compiled.code),
            None,
            compiled.code.splitlines(True),
            module.__file__,
        )
        try:
            exec(compile(compiled.code, module.__file__, "exec"), module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
        return module
