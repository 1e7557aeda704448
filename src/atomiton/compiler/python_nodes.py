"""Binding a ``python`` node: the user's function named by ``module:function``, how it runs,
and the ports the YAML declares for it.

Whether the module can be found and defines the function is ``user_functions``' answer (found
without running user code); this module turns the answers into diagnostics and the node's
``BoundNode``. Other node types are bound by ``bind`` from their ``NodeSpec``.
"""

from __future__ import annotations

import re

from .. import codes
from ..diagnostics import DiagnosticSink, Span, did_you_mean
from . import user_functions
from .bound import BoundNode, Ports, add_error_port
from .ir import NodeDef

_FUNCTION_REF = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


def bind_python_node(definition: NodeDef, sink: DiagnosticSink) -> BoundNode:
    """The bound node of a ``python`` node; its problems go to ``sink``."""
    reference = definition.params.get("function")
    span = definition.param_spans.get("function", definition.span)
    function = None
    if not isinstance(reference, str) or not _FUNCTION_REF.match(reference):
        sink.error(
            codes.INVALID_FUNCTION_REF,
            span,
            node=definition.id,
            value=reference,
            hint="for example 'mypkg.cleaning:normalize'",
        )
    else:
        module, _, name = reference.partition(":")
        function = (module, name)
    execution = definition.params.get("execution", "inline")
    if execution not in ("inline", "thread", "process"):
        sink.error(
            codes.INVALID_PARAMETER,
            definition.param_spans.get("execution", definition.span),
            node=definition.id,
            type="python",
            param="execution",
            message="expected 'inline', 'thread' or 'process'",
        )
    # A process worker's problem with the reference is the more precise diagnostic.
    if function is not None and not (
        execution == "process" and _check_process_function(sink, definition, span, *function)
    ):
        _check_function(sink, definition, span, *function)
    for key in definition.params:
        if key not in ("function", "execution"):
            sink.error(
                codes.UNKNOWN_PARAMETER,
                definition.param_spans.get(key, definition.span),
                node=definition.id,
                type="python",
                param=key,
                hint="a python node's arguments come from its input ports",
            )
    inputs = {p.name: p.type for p in definition.declared_inputs} or {"data": "any"}
    outputs = {p.name: p.type for p in definition.declared_outputs} or {"result": "any"}
    multiple = frozenset(p.name for p in definition.declared_inputs if p.multiple)
    ports = Ports(inputs, outputs, multiple=multiple, required=frozenset(inputs))
    add_error_port(definition, ports)
    params: dict[str, object] = (
        {"execution": execution} if execution in ("thread", "process") else {}
    )
    return BoundNode(definition, None, ports, params, function=function)


def _check_function(
    sink: DiagnosticSink, definition: NodeDef, span: Span, module: str, name: str
) -> None:
    """The module must be importable from here and define the function (user_functions)."""
    missing = user_functions.check_function(module, name)
    if missing is None:
        return
    if not missing.module_found:
        top = module.split(".")[0]
        sink.error(
            codes.FUNCTION_MODULE_NOT_FOUND,
            span,
            node=definition.id,
            module=module,
            function=f"{module}:{name}",
            hint=f"modules are imported from the current folder, then sys.path: run from the "
            f"folder that holds {top!r}, or install it",
        )
        return
    sink.error(
        codes.FUNCTION_NOT_FOUND,
        span,
        node=definition.id,
        module=module,
        name=name,
        hint=did_you_mean(name, missing.names)
        or "define it at the top level of the module (def, class or assignment)",
    )


def _check_process_function(
    sink: DiagnosticSink, definition: NodeDef, span: Span, module: str, name: str
) -> bool:
    """``execution: process`` sends the function to a worker by name: the worker imports
    ``module`` and looks ``name`` up, so both must mean the same thing there.

    Returns whether a diagnostic was reported.
    """
    problem = user_functions.process_problem(module, name)
    if problem is None:
        return False
    sink.error(
        codes.NOT_PICKLABLE,
        definition.param_spans.get("execution", span),
        node=definition.id,
        function=f"{module}:{name}",
        problem=problem,
        hint="define the function with 'def' at the top level of an importable module, "
        "or use 'execution: thread'",
    )
    return True
