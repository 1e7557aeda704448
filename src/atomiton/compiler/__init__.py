"""The compiler: blueprint YAML -> checked graph -> plan -> one typed Python module.

``compile_blueprint`` is a thin public function over named stages, each a module that hands plain
data to the next: ``source`` (YAML with positions), ``schema`` (the file as written), ``resolve``
(sub-blueprints inlined), ``build`` (the checked graph), ``plan`` (tasks), ``codegen`` with
``node_code``, ``layout`` and ``module_text``, written through ``writer``, which records the
source map as it writes; ``postprocess`` is black over the whole module, for checking);
``typecheck`` runs mypy on the result for ``atomiton check``.
"""

from __future__ import annotations

import gc
import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType

from ..diagnostics import Diagnostic
from . import build, codegen, plan, postprocess, resolve
from .ir import Graph
from .naming import module_name_for
from .options import CompileOptions, Limits
from .writer import LineMap

__all__ = [
    "CompileOptions",
    "CompiledModule",
    "Limits",
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
            first), so that a cache of the result can tell when it is stale.
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
    """``load_graph``, and the files the read session read (in the order they were read)."""
    options = options or CompileOptions()
    with resolve.read_session():
        document = resolve.load_document(Path(path), options)
        resolve.check_include_tree(document, options)
        graph = build.build_graph(document, options)
        session = resolve._SESSION.get() or {}
        files = tuple(dict.fromkeys(resolved for resolved, _ in session))
    return graph, files


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
    # The emitter lays the module out as black would (see ``layout``); running black over the
    # whole module is only for checking that, and costs seconds on large flows.
    code = postprocess.format_code(rendered.code) if options.format else rendered.code
    line_map = rendered.line_map
    return CompiledModule(
        module_name=module_name_for(Path(path), graph.id),
        source=Path(path),
        code=code,
        line_map=line_map,
        warnings=graph.warnings,
        graph=graph,
        files=files,
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
    more on larger ones. What compiling builds holds few cycles; the next collection after it
    takes those.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_module(compiled: CompiledModule) -> ModuleType:
    """Execute a compiled module in memory and return it (``atomiton run`` uses this).

    The module is registered in ``sys.modules`` under a name unique to its code, because pydantic
    and pickling look models up there.
    """
    digest = hashlib.sha256(compiled.code.encode()).hexdigest()[:12]
    name = f"atomiton_flow_{compiled.module_name}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    module = ModuleType(name)
    module.__file__ = f"<{compiled.source}>"
    sys.modules[name] = module
    try:
        exec(compile(compiled.code, module.__file__, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module
