"""The generated module's text: the views codegen decided, written line by line in their place.

This is the module's fixed frame (imports, the ``Inputs``/``Outputs`` models, the state classes,
task and body functions, ``run``/``arun``) and each node's block (timing calls, ``try``, the
``onError: branch`` guard), written through a ``CodeWriter`` that records, as each line is
written, the blueprint position it stands for. Every statement arrives laid out already
(``layout``); what a statement says, and which nodes take which path, is decided before this
(``codegen``, ``plan``). The stored map itself is appended by ``write_source_map``, followed by
the script entry (``if __name__ == "__main__"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import layout
from .writer import CodeWriter, Origin


@dataclass(frozen=True, slots=True)
class FunctionText:
    """A node's code function, laid out, with the origin of each of its lines."""

    text: str
    origins: tuple[Origin | None, ...]


@dataclass(slots=True)
class NodeView:
    """One node's block: its marker comment, code functions and the laid-out call."""

    index: int
    origin: Origin
    comment: str
    functions: list[FunctionText]
    statement: str
    policy: bool
    skipped: bool
    # ``onError: branch`` upstream: the node runs only when this holds, else it is skipped.
    guard: str | None = None
    # Statements after the call (a branch node records its error).
    after: list[str] = field(default_factory=list)
    # Where the call's value is kept (``s.total``): handed to ``node_completed`` for hooks.
    target: str = ""
    # ``if not (ex.supplying and ex.serve(...)):``, laid out: the call runs unless its value is
    # supplied (``Execution.serve``: pins, fails, a cache).
    serve: str = ""


@dataclass(slots=True)
class TaskView:
    name: str
    nodes: list[NodeView]
    # A long task is written as parts called one after another.
    parts: list[str] = field(default_factory=list)
    reads_inputs: bool = False


@dataclass(slots=True)
class BodyView:
    """A loop body or parallel branch: a function running its nodes in order per item."""

    name: str
    state: str
    slots: str
    fields: list[str]
    nodes: list[NodeView]
    result: str


@dataclass(slots=True)
class ModuleView:
    """Everything the module says, each statement already laid out."""

    docstring: str
    imports: list[str]
    user_imports: list[str]
    blueprint: str
    inputs: list[str]
    outputs: list[str]
    inputs_required: bool
    state_slots: str
    state: list[str]
    constants: list[str]
    bodies: list[BodyView]
    tasks: list[TaskView]
    tasks_tuple: str
    outputs_return: str
    uses_field: bool
    # An input is ``secret: true`` (a ``SecretStr`` field).
    uses_secret: bool = False
    # ``Pins``/``Fails``: node id -> output type / exception, for ``run(pins=..., fail=...)``.
    pin_types: list[tuple[str, str]] = field(default_factory=list)
    # ``ex.run_tasks(...)`` naming the slots the outputs read (gathered from a cluster).
    run_tasks: str = "ex.run_tasks(_TASKS, s)"


def write_module(view: ModuleView, out: CodeWriter) -> None:
    """Write the module of ``view`` (all but the source map) into ``out``."""
    out.at(None)
    out.write(view.docstring)
    out.blank()
    out.write("from __future__ import annotations")
    out.blank()
    out.write("from typing import Any, Final, TypedDict")
    out.blank()
    names = ["BaseModel", "ConfigDict", *(["Field"] if view.uses_field else [])]
    names += ["SecretStr"] if view.uses_secret else []
    out.write(f"from pydantic import {', '.join(names)}")
    out.blank()
    out.write("from atomiton import runtime as _rt")
    for line in view.imports:
        out.write(line)
    if view.user_imports:
        out.blank()
        out.write("# The blueprint's own functions (python nodes).")
        for line in view.user_imports:
            out.write(line)
    out.blank()
    out.write('__all__ = ["BLUEPRINT", "Fails", "Inputs", "Outputs", "Pins", "arun", "run"]')
    out.blank()
    out.top_level()  # the module is compiled in parts split at these marks (verify)
    out.write(view.blueprint)
    _model(out, "Inputs", "The flow's inputs.", _INPUTS_CONFIG, view.inputs)
    _model(out, "Outputs", "The flow's outputs.", _OUTPUTS_CONFIG, view.outputs)
    out.blank(2)
    # Typed names of the nodes, for ``run(pins=..., fail=...)``: mypy checks keys and values.
    out.top_level()
    _typed_dict(out, "Pins", view.pin_types)
    out.blank()
    out.top_level()
    _typed_dict(out, "Fails", [(key, "BaseException") for key, _ in view.pin_types])
    out.blank(2)
    out.top_level()
    out.write("class _State:")
    out.write('"""Node results, shared by the tasks of one run."""', 4)
    out.blank()
    out.write(view.state_slots, 4)
    _fields(out, view.state)
    out.blank()
    out.write("def __init__(self, inputs: Inputs) -> None:", 4)
    out.write("self.inputs = inputs", 8)
    out.top_level()
    for line in view.constants:
        out.blank(2)
        out.write(line)
    for body in view.bodies:
        _body(out, body)
    for task in view.tasks:
        out.blank(2)
        out.top_level()
        out.write(f"def {task.name}(ex: _rt.Execution, s: _State) -> None:")
        for part in task.parts:
            out.write(f"{part}(ex, s)", 4)
        if task.reads_inputs:
            out.write("inputs = s.inputs", 4)
        _nodes(out, task.nodes)
    out.blank(2)
    out.top_level()
    out.write(view.tasks_tuple)
    out.blank(2)
    out.top_level()
    out.write("def _execute(ex: _rt.Execution, inputs: Inputs) -> Outputs:")
    out.write("s = _State(inputs)", 4)
    out.write(view.run_tasks, 4)
    out.write(view.outputs_return, 4)
    optional = "" if view.inputs_required else " | None = None"
    value = "inputs" if view.inputs_required else "Inputs() if inputs is None else inputs"
    out.top_level()
    out.write(_RUN.format(optional=optional, value=value))


_INPUTS_CONFIG = 'model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)'
_OUTPUTS_CONFIG = "model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)"


def _model(out: CodeWriter, name: str, doc: str, config: str, fields: list[str]) -> None:
    out.blank(2)
    out.top_level()
    out.write(f"class {name}(BaseModel):")
    out.write(f'"""{doc}"""', 4)
    out.blank()
    out.write(config, 4)
    _fields(out, fields)


def _typed_dict(out: CodeWriter, name: str, items: list[tuple[str, str]]) -> None:
    """``name = TypedDict(name, {...}, total=False)``, always exploded (black keeps it so)."""
    if not items:
        out.write(f'{name} = TypedDict("{name}", {{}}, total=False)')
        return
    out.write(f"{name} = TypedDict(")
    out.write(f'"{name}",', 4)
    out.write("{", 4)
    for key, annotation in items:
        out.write(layout.dict_item(key, annotation, 8), 8)
    out.write("},", 4)
    out.write("total=False,", 4)
    out.write(")")


def _fields(out: CodeWriter, fields: list[str]) -> None:
    if fields:
        out.blank()
        for line in fields:
            out.write(line, 4)


def _body(out: CodeWriter, body: BodyView) -> None:
    out.blank(2)
    out.top_level()
    out.write(f"class {body.state}:")
    out.write('"""Node results of one run of a sub-blueprint."""', 4)
    out.blank()
    out.write(body.slots, 4)
    _fields(out, body.fields)
    out.blank(2)
    out.top_level()
    out.write(f"def {body.name}(ex: _rt.Execution, inputs: Inputs, item: Any) -> Any:")
    out.write(f"s = {body.state}()", 4)
    _nodes(out, body.nodes)
    out.blank()
    out.write(body.result, 4)


def _nodes(out: CodeWriter, nodes: list[NodeView]) -> None:
    for position, node in enumerate(nodes):
        if position or node.functions:
            out.blank()
        _node_block(out, node)
    out.at(None)


def _node_block(out: CodeWriter, node: NodeView) -> None:
    out.at(node.origin)
    out.write(node.comment, 4)
    if node.skipped:
        out.write("if ex.slow:", 4)
        out.write(f"ex.node_skipped({node.index})", 8)
    elif node.guard:
        out.write(f"if {node.guard}:", 4)
        _node_call(out, node, 4)
        out.write("elif ex.slow:", 4)
        out.write(f'ex.node_skipped({node.index}, "its onError branch was not taken")', 8)
    else:
        _node_call(out, node, 0)


def _node_call(out: CodeWriter, node: NodeView, pad: int) -> None:
    if pad and node.functions:
        out.blank()
    for function in node.functions:
        lines = function.text.split("\n")
        for number, (line, origin) in enumerate(zip(lines, function.origins)):
            out.at(origin or node.origin)
            # The first line carries no indentation yet; the others are laid out in place.
            out.write(line, pad + 4 if number == 0 else 0)
        out.at(node.origin)
        out.blank()
    index = node.index
    if node.policy:
        out.write(node.serve, pad + 4)
        out.write(node.statement, pad + 8)
    else:
        out.write("if ex.slow:", pad + 4)
        out.write(f"ex.node_started({index})", pad + 8)
        out.write("try:", pad + 4)
        out.write(node.serve, pad + 8)
        out.write(node.statement, pad + 12)
        out.write("except Exception as exc:", pad + 4)
        out.write(f"ex.node_failed({index}, exc)", pad + 8)
        out.write("if ex.slow:", pad + 4)
        out.write(layout.fit(f"ex.node_completed({index}, {node.target})", pad + 8), pad + 8)
    for line in node.after:
        out.write(line, pad + 4)


def write_source_map(out: CodeWriter, files: list[str], chunks: list[str]) -> None:
    """The map from generated lines to blueprint positions, as the module's last statement.

    It comes last so that every line it describes is already written; ``files`` and ``chunks``
    are the literals of its file table and of its runs (``writer.encode``). Only the script entry
    follows it.
    """
    out.at(None)
    out.blank(2)
    out.top_level()
    out.write("# Generated line -> blueprint position, for errors (atomiton.runtime.debug).")
    out.write("_SOURCE_MAP: Final = (")
    out.write(layout.exploded("(", files, ")", 4, trailing=","), 4)
    for chunk in chunks:
        out.write(f"{chunk},", 4)
    out.write(")")
    _write_entry(out)


def _write_entry(out: CodeWriter) -> None:
    """``python -m app.flows.x --input name=value``: the runtime parses, runs, prints JSON.

    It follows the source map, so that a node failing in a script finds ``_SOURCE_MAP`` defined.
    """
    out.at(None)
    out.blank(2)
    out.top_level()
    out.write('if __name__ == "__main__":')
    out.write("_rt.main(BLUEPRINT, run, Inputs)", 4)


_RUN = '''

def run(
    inputs: Inputs{optional},
    *,
    hooks: _rt.HooksArg = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    cancel: _rt.CancelToken | None = None,
    allow_paths: _rt.AllowPaths = None,
    http_client: object | None = None,
    pins: Pins | None = None,
    fail: Fails | None = None,
    cache: _rt.CacheArg = None,
    executor: object = None,
) -> Outputs:
    """Run the flow and return its outputs.

    ``pins`` gives nodes' values instead of running them (every call of a node in a loop),
    ``fail`` makes nodes fail with the given exception (to test ``onError`` and retries).
    ``executor``: where its tasks run: None (the blueprint's setting, else threads),
    ``"threads"``, ``"dask"``, ``"dask-threads"``, a scheduler address or a
    ``distributed.Client``.

    Raises:
        NodeError: a node failed; it names the node and its place in the blueprint.
        CancelledError: the run was cancelled through ``cancel``.
        RunTimeoutError: the run took longer than ``timeout`` seconds.
        PinError: ``pins`` or ``fail`` name an unknown node, or a pin does not fit its type.
    """
    return _rt.run(
        BLUEPRINT,
        _execute,
        {value},
        hooks=hooks,
        concurrency=concurrency,
        timeout=timeout,
        cancel=cancel,
        allow_paths=allow_paths,
        http_client=http_client,
        pins=pins,
        fail=fail,
        cache=cache,
        pin_types=Pins,
        executor=executor,
    )


async def arun(
    inputs: Inputs{optional},
    *,
    hooks: _rt.HooksArg = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    cancel: _rt.CancelToken | None = None,
    allow_paths: _rt.AllowPaths = None,
    http_client: object | None = None,
    pins: Pins | None = None,
    fail: Fails | None = None,
    cache: _rt.CacheArg = None,
    executor: object = None,
) -> Outputs:
    """Run the flow from asyncio; cancelling the awaiting task cancels the run."""
    return await _rt.arun(
        BLUEPRINT,
        _execute,
        {value},
        hooks=hooks,
        concurrency=concurrency,
        timeout=timeout,
        cancel=cancel,
        allow_paths=allow_paths,
        http_client=http_client,
        pins=pins,
        fail=fail,
        cache=cache,
        pin_types=Pins,
        executor=executor,
    )'''
