"""Values that cannot travel to another process: warnings for a flow meant for a Dask cluster.

When a blueprint names a distributed executor in ``settings.runtime.executor`` (``dask`` or a
scheduler address; not ``threads``, nor ``dask-threads``, whose workers share this process), every
value that crosses from one planned task to another, or leaves the flow as an output, is pickled
on its way. Some values never pickle: an iterator or generator, an open file, a socket, a lock,
an HTTP client. This module finds, before the flow runs, node outputs known to be such a value
(from the node type's ``run`` annotations, a ``stream: true`` parameter, a ``code`` node that
returns a generator expression or ``open(...)``, a ``python`` node's generator function or annotation) and warns
at the producing node (W0250). Values that stay inside one task are not pickled and not reported
(a task hands on only the slots other tasks or the outputs read: ``task_slots.narrow``); a node's
value is one slot, so when one of its ports travels its other ports travel with it.
The run-time check (a value that fails to pickle is a ``NodeError``) belongs to the executor.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
import typing
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Final

from .. import codes
from ..diagnostics import Diagnostic, DiagnosticSink
from ..naming import camel_case
from .ir import FromNode, Graph, Node
from .plan import Plan
from .reads import bindings_of
from .user_functions import find_module

# Executors whose tasks share this process: nothing is pickled between them.
_IN_PROCESS: Final = frozenset({"threads", "dask-threads"})

# Names of types whose values do not pickle -> how the warning describes them.
_KINDS: Final[dict[str, str]] = {
    "Iterator": "an iterator",
    "Generator": "a generator",
    "AsyncIterator": "an async iterator",
    "AsyncGenerator": "an async generator",
    "IO": "an open file",
    "TextIO": "an open file",
    "BinaryIO": "an open file",
    "IOBase": "an open file",
    "TextIOWrapper": "an open file",
    "BufferedReader": "an open file",
    "BufferedWriter": "an open file",
    "FileIO": "an open file",
    "socket": "a socket",
    "Lock": "a lock",
    "RLock": "a lock",
    "Condition": "a lock",
    "Semaphore": "a lock",
    "Client": "an HTTP client",
    "AsyncClient": "an HTTP client",
    "Connection": "a database connection",
}

_HINT: Final = (
    "read it into a list or bytes inside the node (stream: false, no yield), or keep its consumer "
    "in the same chain; executor: threads or dask-threads passes it without pickling"
)


def check(graph: Graph, plan: Plan) -> list[Diagnostic]:
    """W0250 for each node output that cannot be pickled yet crosses tasks or leaves the flow."""
    if graph.executor is None or graph.executor in _IN_PROCESS:
        return []
    sink = DiagnosticSink()
    index = {node.id: i for i, node in enumerate(graph.nodes)}
    crossing: dict[tuple[str, str], str] = {}
    for consumer in graph.nodes:
        for binding in bindings_of(consumer):
            if not isinstance(binding, FromNode) or binding.node not in index:
                continue
            if plan.task_of[index[binding.node]] != plan.task_of[index[consumer.id]]:
                crossing.setdefault((binding.node, binding.port), f"node {consumer.id!r}")
    for output in graph.outputs:
        if isinstance(output.binding, FromNode):
            key = (output.binding.node, output.binding.port)
            crossing.setdefault(key, f"the caller as output {output.port.name!r}")
    # A node's value travels whole (one state slot): a port read elsewhere takes the others along.
    slot_crossing: dict[str, str] = {}
    for (node_id, _), first in crossing.items():
        slot_crossing.setdefault(node_id, first)
    for node in graph.nodes:
        for port, kind in unpicklable_outputs(node).items():
            travels = crossing.get((node.id, port)) or slot_crossing.get(node.id)
            if travels is not None:
                sink.warning(
                    codes.UNPICKLABLE_OUTPUT,
                    node.span,
                    node=node.id,
                    port=port,
                    kind=kind,
                    reader=travels,
                    executor=graph.executor,
                    hint=_HINT,
                )
    return sink.items


def unpicklable_outputs(node: Node) -> dict[str, str]:
    """The node's output ports known to hold values that do not pickle, with what they are."""
    if node.function is not None:  # a python node: its function, read from its source
        kind = _function_kind(*node.function)
        return {} if kind is None else {port.name: kind for port in node.outputs}
    if node.spec is None:
        return {}
    names = [port.name for port in node.spec.outputs]
    found: dict[str, str] = {}
    if node.type == "code":
        kind = _code_kind(node)
        if kind is not None:
            found.update({name: kind for name in names})
    annotations = _output_annotations(node.spec.module, tuple(names))
    streaming = node.params.get("stream") is True
    for name, annotation in annotations.items():
        kind = _annotation_kind(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        if kind is None and streaming and annotation in (typing.Any, object):
            kind = "a stream (stream: true)"
        if kind is not None:
            found.setdefault(name, kind)
    return found


@lru_cache(maxsize=128)
def _output_annotations(module: str, names: tuple[str, ...]) -> dict[str, object]:
    """Each output port's Python annotation, read from the node module's ``run``."""
    loaded = sys.modules.get(module)
    run = getattr(loaded, "run", None)
    if run is None:
        return {}
    try:
        returned = _evaluate(inspect.signature(run).return_annotation, loaded)
        if isinstance(returned, type) and dataclasses.is_dataclass(returned):
            hints = typing.get_type_hints(returned, include_extras=True)
            return {camel_case(field): hints[field] for field in hints}
    except Exception:  # an annotation only a type checker can read: nothing is known of it
        return {}
    return {names[0]: returned} if names else {}


def _evaluate(annotation: object, module: object) -> object:
    if isinstance(annotation, str):
        return eval(annotation, vars(module))  # the node module's own source, not YAML
    return annotation


def _annotation_kind(annotation: object) -> str | None:
    """What an annotation says the value is, when no value of it pickles (unions: any arm)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _annotation_kind(typing.get_args(annotation)[0])
    origin = typing.get_origin(annotation)
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        kinds = [_annotation_kind(arm) for arm in typing.get_args(annotation)]
        return next((k for k in kinds if k is not None), None)
    target = origin or annotation
    name = getattr(target, "__name__", "")
    if name in ("Client", "AsyncClient") and not getattr(target, "__module__", "").startswith(
        "httpx"
    ):
        return None
    return _KINDS.get(name)


def _code_kind(node: Node) -> str | None:
    """A Python ``code`` node whose code returns a generator expression or ``open()`` (node code
    may not ``yield``: the compiler refuses it)."""
    for function in node.code:
        if function.tree is None:
            continue
        for child in _own_nodes(function.tree):
            value = child.value if isinstance(child, ast.Return) else None
            if isinstance(function.tree, ast.Expression) and child is function.tree.body:
                value = child
            if isinstance(value, ast.GeneratorExp):
                return "a generator"
            if isinstance(value, ast.Call) and _called(value) == "open":
                return "an open file"
    return None


def _own_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``tree`` outside nested functions and classes (their yields are theirs)."""
    pending = [tree]
    while pending:
        current = pending.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
            ):
                pending.append(child)


def _called(call: ast.Call) -> str:
    func = call.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr if isinstance(func, ast.Attribute) else ""
    )


def _function_kind(module: str, name: str) -> str | None:
    """A ``python`` node's function, read from its source (never run): generator or annotation."""
    spec = find_module(module)
    origin = spec.origin if spec is not None else None
    if not origin or not origin.endswith(".py") or not Path(origin).is_file():
        return None
    stat = Path(origin).stat()
    return _source_function_kind(origin, name, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _source_function_kind(path: str, name: str, mtime_ns: int, size: int) -> str | None:
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return None
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
            statement.name == name
        ):
            body = ast.Module(body=statement.body, type_ignores=[])
            if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _own_nodes(body)):
                return "a generator (the function yields)"
            if statement.returns is not None:
                for part in ast.walk(statement.returns):
                    shown = (
                        part.id
                        if isinstance(part, ast.Name)
                        else (part.attr if isinstance(part, ast.Attribute) else "")
                    )
                    if shown in _KINDS and shown not in ("Client", "AsyncClient", "Connection"):
                        return _KINDS[shown]
    return None
