"""Parameters of bound nodes: YAML values checked against each type's model, templates bound
to the values they read, and node code parsed once.

``bind_params`` turns template strings into ``Template``s whose roots are bindings (a flow input,
an input port's edge, ``$now``, ``$env``) and validates the values known at compile time against
the node type's pydantic model, keeping the result on the node (``BoundNode.validated``).
``bind_code`` parses each code parameter once (``node_code`` is the one place node code is read)
and binds the flow inputs it reads. Whether a template renders the type its parameter takes is
``validate``'s check.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

from .. import codes
from ..diagnostics import DiagnosticSink, Span, did_you_mean, one_of
from .bound import BoundDoc, BoundNode, input_name, is_subflow_param
from .expressions import (
    CodeLimitError,
    ExpressionError,
    NodeCode,
    ParsedExpr,
    parse_node_code,
    split_template,
)
from .ir import Binding, CodeFunction, FromInput, Template, TemplateExpr


def bind_params(bound: BoundDoc, sink: DiagnosticSink) -> None:
    """Bind every node's templates and validate its static parameters (in place)."""
    binder = _ParamBinder(bound, sink)
    for node in bound.nodes.values():
        binder.params(node)


def bind_code(bound: BoundDoc, sink: DiagnosticSink) -> None:
    """Parse and bind every node's code parameters (in place); problems go to ``sink``."""
    binder = _ParamBinder(bound, sink)
    for node in bound.nodes.values():
        node.code = binder.code(node)


def node_code(source: str, kind: Literal["expression", "body"]) -> NodeCode:
    """Node code read for the generated module: the one place it is parsed."""
    return parse_node_code(source, kind)


def yaml_key(pending: BoundNode, name: str) -> str:
    """The YAML spelling of parameter field ``name`` (its alias when the file used it)."""
    if pending.spec is None or name in pending.definition.params:
        return name
    info = pending.spec.params.model_fields.get(name)
    return info.alias if info is not None and info.alias else name


class _ParamBinder:
    def __init__(self, bound: BoundDoc, sink: DiagnosticSink) -> None:
        self.bound = bound
        self.sink = sink

    def params(self, pending: BoundNode) -> None:
        definition = pending.definition
        fed = {name for name in pending.inputs if name not in pending.ports.inputs}
        values: dict[str, object] = {}
        dynamic: set[str] = set(fed)
        for name, value in pending.params.items():
            if name in fed:
                continue
            if is_subflow_param(definition, name):
                values[name] = value  # a body's templates belong to the body's own scope
                continue
            key = yaml_key(pending, name)
            span = definition.param_spans.get(key, definition.span)
            converted = self._templated(value, pending, span, (key,))
            if converted is not value:
                dynamic.add(name)
                pending.templated.add(name)
            values[name] = converted
        pending.params = values
        pending.dynamic = dynamic
        if pending.spec is None:
            return
        static = {k: v for k, v in values.items() if k not in dynamic}
        try:
            pending.validated = pending.spec.params.model_validate(static)
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                if name in dynamic:
                    continue
                alias = (
                    pending.spec.params.model_fields[name].alias
                    if name in pending.spec.params.model_fields
                    else None
                )
                span = definition.param_spans.get(
                    alias or name, definition.param_spans.get(name, definition.span)
                )
                where = ".".join(str(p) for p in ((alias or name), *error["loc"][1:]))
                self.sink.error(
                    codes.INVALID_PARAMETER,
                    span,
                    node=definition.id,
                    type=definition.type,
                    param=where,
                    message=error["msg"],
                )

    def _templated(
        self, value: object, pending: BoundNode, span: Span, path: tuple[str | int, ...]
    ) -> object:
        """Replace template strings (anywhere inside ``value``) with ``Template`` objects."""
        if isinstance(value, str) and "{{" in value:
            span = pending.definition.template_spans.get(path, span)
            try:
                parts = split_template(value)
            except ExpressionError as exc:
                self.sink.error(codes.INVALID_TEMPLATE, span, template=value, message=str(exc))
                return value
            converted: list[str | TemplateExpr] = []
            for part in parts:
                if isinstance(part, str):
                    converted.append(part)
                    continue
                expr = self._bind_expr(part, pending, span, value)
                if expr is None:
                    return value
                converted.append(expr)
            return Template(tuple(converted))
        if isinstance(value, dict):
            items = {k: self._templated(v, pending, span, (*path, k)) for k, v in value.items()}
            return items if any(items[k] is not value[k] for k in items) else value
        if isinstance(value, list):
            listed = [self._templated(v, pending, span, (*path, i)) for i, v in enumerate(value)]
            return listed if any(a is not b for a, b in zip(listed, value)) else value
        return value

    def _bind_expr(
        self, expr: ParsedExpr, pending: BoundNode, span: Span, template: str
    ) -> TemplateExpr | None:
        root, path = expr.root, expr.path
        if root in ("inputs", "variables"):
            if not path or not isinstance(path[0], str) or path[0] not in self.bound.interface:
                name = str(path[0]) if path else ""
                self.sink.error(
                    codes.INVALID_TEMPLATE,
                    span,
                    template=template,
                    message=(
                        f"the blueprint has no input {name!r}"
                        if name
                        else "name an input: inputs.<name>"
                    ),
                    hint=did_you_mean(name, list(self.bound.interface))
                    or (
                        f"its inputs are {one_of(self.bound.interface)}"
                        if self.bound.interface
                        else "declare it under interface.inputs"
                    ),
                )
                return None
            return TemplateExpr(expr.text, FromInput(path[0]), path[1:], expr.filters)
        if root == "$now":
            return TemplateExpr(expr.text, "now", (), expr.filters)
        if root == "$env":
            if len(path) != 1 or not isinstance(path[0], str):
                self.sink.error(
                    codes.INVALID_TEMPLATE, span, template=template, message="write $env.NAME"
                )
                return None
            return TemplateExpr(expr.text, "env", path, expr.filters)
        port = pending.ports.primary_input if root == "$input" else input_name(pending, root)
        bound = pending.inputs.get(port) if port is not None else None
        if bound:
            return TemplateExpr(expr.text, bound[0][0], path, expr.filters)
        if root == "$input":
            self.sink.error(
                codes.INVALID_TEMPLATE,
                span,
                template=template,
                message=f"'$input' reads the primary input {port!r}, but no edge feeds it",
                hint=f"add an edge into {pending.definition.id}.{port}" if port else None,
            )
            return None
        valid = ["inputs", "$input", "$now", "$env", *pending.ports.inputs]
        self.sink.error(
            codes.INVALID_TEMPLATE,
            span,
            template=template,
            message=f"{root!r} is not bound to any value here",
            hint=did_you_mean(root, valid) or f"a template starts with {one_of(valid)}",
        )
        return None

    def code(self, pending: BoundNode) -> tuple[CodeFunction, ...]:
        """The node's code parameters, each parsed once into a checked ``CodeFunction``."""
        if pending.spec is None:
            return ()
        params = pending.final_params()
        validated = pending.validated
        functions = []
        for name, code_param in pending.spec.code_params.items():
            source = params.get(name)
            field_info = pending.spec.params.model_fields.get(name)
            key = (field_info.alias if field_info else None) or name
            span = pending.definition.param_spans.get(key, pending.definition.span)
            if not isinstance(source, str) or not source.strip():
                if code_param.required:
                    self.sink.error(
                        codes.INVALID_PARAMETER,
                        span,
                        node=pending.definition.id,
                        type=pending.definition.type,
                        param=key,
                        message="Python code is required here",
                    )
                continue
            try:
                parsed = node_code(source, code_param.kind)
            except CodeLimitError as exc:
                self.sink.error(
                    codes.CODE_TOO_LARGE,
                    span,
                    node=pending.definition.id,
                    param=key,
                    limit=str(exc),
                    hint="split the code into several nodes, or move it into a python function",
                )
                continue
            except ExpressionError as exc:
                javascript = "=>" in source
                self.sink.error(
                    codes.INVALID_CODE,
                    span,
                    node=pending.definition.id,
                    param=key,
                    message=str(exc),
                    hint=(
                        "node code is Python here (Atomiton flows used JavaScript)"
                        if javascript
                        else None
                    ),
                )
                continue
            args = code_param.arguments(validated) if validated is not None else code_param.args
            reads = self._code_reads(pending, name, parsed)
            functions.append(
                CodeFunction(
                    name,
                    code_param.kwarg,
                    code_param.kind,
                    args,
                    parsed.source,
                    reads,
                    span,
                    tree=parsed.tree,
                )
            )
        return tuple(functions)

    def _code_reads(
        self, pending: BoundNode, param: str, parsed: NodeCode
    ) -> tuple[tuple[str, Binding], ...]:
        """Bind the ``inputs.<name>`` a piece of code reads, as templates are bound."""
        if pending.spec is None:
            return ()
        names, bare = parsed.reads, parsed.reads_whole
        field_info = pending.spec.params.model_fields.get(param)
        key = (field_info.alias if field_info else None) or param
        span = pending.definition.param_spans.get(key, pending.definition.span)
        if bare and self.bound.chain.spans:
            self.sink.error(codes.WHOLE_INPUTS_READ, span, node=pending.definition.id, param=key)
        reads: list[tuple[str, Binding]] = []
        for name in names:
            if name not in self.bound.interface:
                self.sink.error(
                    codes.UNDECLARED_INPUT_READ,
                    span,
                    node=pending.definition.id,
                    param=key,
                    name=name,
                    hint=did_you_mean(name, list(self.bound.interface))
                    or (
                        f"its inputs are {one_of(self.bound.interface)}"
                        if self.bound.interface
                        else "declare it under interface.inputs"
                    ),
                )
                continue
            reads.append((name, FromInput(name)))
        return tuple(reads)
