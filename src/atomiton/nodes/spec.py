"""What a node type declares: its ports, its parameter model and how it runs, from one place.

A node module defines a pydantic ``Params`` model (subclass of ``NodeParams``), a ``run``
function and ``SPEC: Final = node_spec(run, description=...)``. ``node_spec`` reads everything
else from ``run``'s signature (Hamilton's "the function is the node"): the input ports are its
keywords, the output ports its return type or the fields of its ``Output`` dataclass, and
``Annotated[T, Port(...)]`` / ``Code(...)`` / ``Subflow(...)`` add what a Python type cannot say.
The compiler reads the resulting ``NodeSpec`` to check a blueprint; the generated module calls
``run`` directly. Nothing here imports the compiler or a third-party library other than pydantic;
finding node modules is ``registry``'s business.

Calling convention of ``run`` (what generated code relies on):
  * ``run(params: Params, *, <input ports as snake_case keywords>, [context=...]) -> result``
  * an input port whose name is also a parameter (``path``, ``url``) defaults to ``None``,
    meaning "use the parameter"; an input without a default is required;
  * a node with one output port returns that value itself; a node with several returns an
    ``Output`` dataclass whose fields are the snake_case port names, primary first;
  * a node whose ``run`` takes ``context`` receives a ``NodeContext`` (cancellation, progress,
    logging, running sub-work) as that keyword;
  * a keyword marked ``Code(param)`` receives the parameter ``param``'s Python source, compiled
    by the compiler into a real function of the generated module;
  * a keyword marked ``Subflow(prefix)`` receives the sub-blueprint(s) of the parameter of the
    same name, compiled into functions of the input (loop bodies, parallel branches).
"""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..naming import camel_case, kebab_case, snake_case

Execution = Literal["inline", "thread", "process"]

# The keys Atomiton puts beside a node's own parameters; the compiler reads them as node settings
# (NODES.md section 2), so parameter models never declare them.
COMMON_SETTINGS: frozenset[str] = frozenset(
    {"enabled", "timeout", "retries", "onError", "retryDelay", "cache", "pure"}
)
# What a node does besides computing its value, for the node cache's ``auto`` policy
# (docs/caching.md): ``pure`` nodes depend on their inputs only; ``reads`` nodes also on the
# files their text inputs name (those are fingerprinted); ``effect`` nodes change the world or
# depend on it (never cached under ``auto``); ``stream`` nodes give a one-pass iterator (never
# cached, nor what reads it). A node type declares one, or a function of its parameters (a
# mapping by field name, values maybe unknown: then it must answer ``effect``).
Purity = Literal["pure", "reads", "effect", "stream"]
# The keyword of ``run`` that receives the node's context rather than a port's value.
CONTEXT_KEYWORD = "context"


class NodeParams(BaseModel):
    """Base of every node's parameter model.

    Fields are snake_case in Python and camelCase in YAML (Atomiton's spelling); both are
    accepted. Unknown keys are errors, so a typo in a blueprint is caught at compile time.
    """

    model_config = ConfigDict(
        alias_generator=camel_case,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
        arbitrary_types_allowed=True,
    )


@dataclass(frozen=True, slots=True)
class Port:
    """One input or output of a node type.

    ``type`` uses the port type vocabulary: string, number, integer, boolean, array, object,
    buffer, path, any, element types such as ``array<object>`` and nullable ones (``integer?``).
    Written inside ``Annotated[T, Port(...)]`` the name comes from the keyword or field and an
    empty ``type`` is derived from ``T``; give ``type`` only where the vocabulary says more than
    Python can (``path`` for a ``str``, ``array<object>`` for an ``Any`` that may be a stream).
    """

    name: str = ""
    type: str = ""
    required: bool = False
    # Every edge into the port delivers one value; ``run`` gets them as a list in edge order.
    multiple: bool = False
    description: str = ""

    @property
    def attr(self) -> str:
        """The Python keyword or attribute name of this port."""
        return snake_case(self.name)


@dataclass(frozen=True, slots=True)
class CodeParam:
    """A parameter whose YAML value is Python source compiled into the generated module.

    ``kind`` is ``expression`` (an expression, or a ``lambda``) or ``body`` (statements that
    ``return``). ``args`` names the function's parameters; ``args_for`` may pick them from the
    node's validated parameters instead (transform's reduce takes ``acc, item, index``).
    """

    kwarg: str
    kind: Literal["expression", "body"] = "expression"
    args: tuple[str, ...] = ("item",)
    args_for: Callable[[Any], tuple[str, ...]] | None = None
    # The node cannot run without this code (the compiler says so when it is missing).
    required: bool = False

    def arguments(self, params: object) -> tuple[str, ...]:
        return self.args_for(params) if self.args_for is not None else self.args


@dataclass(frozen=True, slots=True)
class Code:
    """Marks a keyword of ``run`` as the compiled form of the code parameter ``param``.

    Written ``Annotated[Callable[..., Any], Code("transform_function", args=("item",))]``; the
    keyword is required (the code must be written) when it has no default.
    """

    param: str
    kind: Literal["expression", "body"] = "expression"
    args: tuple[str, ...] = ("item",)
    args_for: Callable[[Any], tuple[str, ...]] | None = None


@dataclass(frozen=True, slots=True)
class Subflow:
    """Marks a keyword of ``run`` as the compiled sub-blueprint(s) of the parameter of that name.

    Written ``Annotated[Callable[[Any], Any], Subflow("body")]`` for one sub-blueprint, or with
    ``Sequence[Callable[[Any], Any]]`` for a list of them; ``prefix`` starts the ids their nodes
    get inside the node (``each.body.fetch``; ``fan.branch0.fetch`` for the first of a list).
    """

    prefix: str


@dataclass(frozen=True, slots=True)
class SubflowParam:
    """A parameter that holds sub-blueprints the node runs itself (a loop body, branches)."""

    # The parameter's field name in ``Params`` and the keyword of ``run`` that gets the functions.
    name: str
    prefix: str
    # True: the parameter is a list of sub-blueprints and ``run`` gets a list of functions.
    many: bool = False

    @property
    def yaml_name(self) -> str:
        """The parameter as written in a blueprint."""
        return camel_case(self.name)

    def id_prefix(self, node_id: str, index: int) -> str:
        """What the ids of the ``index``-th sub-blueprint's nodes start with."""
        return f"{node_id}.{self.prefix}{index if self.many else ''}."


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """Everything the compiler and the tooling need to know about one node type."""

    type: str
    module: str
    params: builtins.type[NodeParams]
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    description: str
    execution: Execution = "inline"
    weight: int = 100
    code_params: Mapping[str, CodeParam] = field(default_factory=dict)
    needs_context: bool = False
    # Third-party modules the node imports when it runs, and the extra that installs them.
    requires: tuple[str, ...] = ()
    extra: str | None = None
    aliases: tuple[str, ...] = ()
    # The values a node needs given its other parameters (a file-system ``read`` needs a path):
    # called with the validated parameters, returns the YAML names (ports or parameters) that
    # must be set or fed by an edge. ``needs_decided_by`` names the parameters the answer depends
    # on; when one of them is a template or fed by an edge, the compiler cannot judge.
    needs: Callable[[Any], tuple[str, ...]] | None = None
    needs_decided_by: tuple[str, ...] = ()
    # Parameters that hold sub-blueprints (compiled into functions, not passed as values).
    subflows: tuple[SubflowParam, ...] = ()
    # The implementation's version, raised by the node's author whenever the same parameters and
    # inputs may give a different result; it is part of every node's code version (versions.md).
    version: int = 1
    # What the node does besides computing its value (``Purity``); third-party types that say
    # nothing are ``effect``: never cached unless a blueprint asks.
    purity: Purity | Callable[[Mapping[str, object]], Purity] = "effect"

    def purity_of(self, params: Mapping[str, object]) -> Purity:
        """The node's purity given its parameters (``effect`` when the answer is unknown)."""
        if isinstance(self.purity, str):
            return self.purity
        try:
            return self.purity(params)
        except Exception:  # a declaration that cannot judge these parameters: the safe answer
            return "effect"

    def __post_init__(self) -> None:
        # A spec written by hand (not by ``node_spec``) may leave a port's type out: ``any``.
        for kind in ("inputs", "outputs"):
            ports = getattr(self, kind)
            if any(not port.type for port in ports):
                typed = tuple(dataclasses.replace(p, type=p.type or "any") for p in ports)
                object.__setattr__(self, kind, typed)

    def subflow(self, name: str) -> SubflowParam | None:
        """The sub-flow parameter called ``name`` (field or YAML name), if there is one."""
        return next((s for s in self.subflows if name in (s.name, s.yaml_name)), None)


class NodeSpecError(TypeError):
    """A node module's ``run`` does not follow the calling convention (a programming error)."""


def node_spec(
    run: Callable[..., Any],
    *,
    description: str,
    type: str | None = None,
    output: Port = Port(),
    execution: Execution = "inline",
    weight: int = 100,
    requires: tuple[str, ...] = (),
    extra: str | None = None,
    aliases: tuple[str, ...] = (),
    needs: Callable[[Any], tuple[str, ...]] | None = None,
    needs_decided_by: tuple[str, ...] = (),
    purity: Purity | Callable[[Mapping[str, object]], Purity] = "effect",
    version: int = 1,
) -> NodeSpec:
    """The ``NodeSpec`` of the node whose ``run`` function this is.

    Args:
        run: the node's function; its module, parameter model, ports, code parameters and
            sub-flows are read from its signature (see the module docstring).
        description: one line saying what the node does.
        type: the type name; by default the module's name with ``-`` for ``_``.
        output: name, description (and vocabulary type) of the single output of a node whose
            ``run`` returns its value itself; the name defaults to ``result``.
        execution, weight, requires, extra, aliases, needs, needs_decided_by, purity: as in
            ``NodeSpec``.
        version: the implementation's version (a positive integer, 1 by default): raise it when
            the node may give a different result for the same parameters and inputs, so that
            cached results of the old implementation are not reused.

    Returns:
        The spec; the compiler reads only this.

    Raises:
        NodeSpecError: ``run`` breaks the calling convention (no ``Params`` first, a positional
            port, a code or sub-flow keyword without its parameter, a one-field ``Output``), or
            ``version`` is not a positive integer.
    """
    module = sys.modules[run.__module__]
    where = f"{run.__module__}.run"
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise NodeSpecError(f"{where}: version must be a positive integer, not {version!r}")
    signature = inspect.signature(run)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise NodeSpecError(f"{where} must take the node's parameters first")
    params = _evaluate(parameters[0].annotation, module)
    if not (isinstance(params, builtins.type) and issubclass(params, NodeParams)):
        raise NodeSpecError(f"{where}: the first argument must be typed with a NodeParams model")
    inputs: list[Port] = []
    code_params: dict[str, CodeParam] = {}
    subflows: list[SubflowParam] = []
    needs_context = False
    for parameter in parameters[1:]:
        if parameter.kind != inspect.Parameter.KEYWORD_ONLY:
            raise NodeSpecError(f"{where}: {parameter.name!r} must be keyword-only (after '*')")
        if parameter.name == CONTEXT_KEYWORD:
            needs_context = True  # not evaluated: NodeContext may be imported for type checks only
            continue
        annotation = _evaluate(parameter.annotation, module)
        base, marks = _split_annotated(annotation)
        required = parameter.default is inspect.Parameter.empty
        code = _mark(marks, Code)
        subflow = _mark(marks, Subflow)
        if code is not None:
            _check_param(params, code.param, where)
            code_params[code.param] = CodeParam(
                parameter.name, code.kind, code.args, code.args_for, required=required
            )
        elif subflow is not None:
            _check_param(params, parameter.name, where)
            many = typing.get_origin(base) in (list, Sequence, tuple)
            subflows.append(SubflowParam(parameter.name, subflow.prefix, many))
        else:
            port = _mark(marks, Port) or Port()
            port_base = _item_of(base) if port.multiple else base
            inputs.append(
                Port(
                    camel_case(parameter.name),
                    port.type or port_type(port_base, nullable=False),
                    required=required,
                    multiple=port.multiple,
                    description=port.description,
                )
            )
    return NodeSpec(
        type=type or kebab_case(run.__module__.rsplit(".", 1)[-1]),
        module=run.__module__,
        params=params,
        inputs=tuple(inputs),
        outputs=_outputs(_evaluate(signature.return_annotation, module), output, module, where),
        description=description,
        execution=execution,
        weight=weight,
        code_params=code_params,
        needs_context=needs_context,
        requires=requires,
        extra=extra,
        aliases=aliases,
        needs=needs,
        needs_decided_by=needs_decided_by,
        subflows=tuple(subflows),
        purity=purity,
        version=version,
    )


def _outputs(
    returned: object, output: Port, module: types.ModuleType, where: str
) -> tuple[Port, ...]:
    if not (isinstance(returned, builtins.type) and dataclasses.is_dataclass(returned)):
        port_base, _ = _split_annotated(returned)
        return (
            Port(
                output.name or "result",
                output.type or port_type(port_base, nullable=True),
                description=output.description,
            ),
        )
    fields = dataclasses.fields(returned)
    if len(fields) < 2:
        raise NodeSpecError(f"{where}: a node with one output returns the value itself")
    ports = []
    for item in fields:
        base, marks = _split_annotated(_evaluate(item.type, module))
        port = _mark(marks, Port) or Port()
        ports.append(
            Port(
                camel_case(item.name),
                port.type or port_type(base, nullable=True),
                description=port.description,
            )
        )
    return tuple(ports)


def _evaluate(annotation: object, module: types.ModuleType) -> object:
    """A ``from __future__ import annotations`` string, evaluated in the node's module."""
    if annotation is inspect.Parameter.empty:
        return Any
    if isinstance(annotation, str):
        return eval(annotation, vars(module))  # the node module's own source, not YAML
    return annotation


def _split_annotated(annotation: object) -> tuple[object, tuple[object, ...]]:
    if typing.get_origin(annotation) is typing.Annotated:
        base, *marks = typing.get_args(annotation)
        return base, tuple(marks)
    return annotation, ()


_Mark = typing.TypeVar("_Mark")


def _mark(marks: Iterable[object], kind: builtins.type[_Mark]) -> _Mark | None:
    return next((m for m in marks if isinstance(m, kind)), None)


def _check_param(params: builtins.type[NodeParams], name: str, where: str) -> None:
    if name not in params.model_fields:
        raise NodeSpecError(f"{where}: {params.__name__} has no parameter {name!r}")


def _item_of(annotation: object) -> object:
    """The element type of a list annotation (a ``multiple`` port's one value per edge)."""
    base, _ = _split_annotated(annotation)
    arguments = typing.get_args(base)
    return arguments[0] if arguments else Any


# Python types and the port type they are, for the types a port can carry as they are.
_SIMPLE: dict[object, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    bytes: "buffer",
    dict: "object",
    list: "array",
    tuple: "array",
}
_ARRAYS = (list, tuple, Sequence, Iterable, set, frozenset)


def port_type(annotation: object, *, nullable: bool) -> str:
    """A Python annotation in the port vocabulary.

    ``str | os.PathLike[str]`` is ``path``; ``X | None`` is ``X?`` when ``nullable`` (an
    output that may be null) and ``X`` otherwise (an input left out is None). Unions of
    different kinds, classes and ``object`` are ``any``: the compiler leaves them to mypy.
    """
    base, _ = _split_annotated(annotation)
    origin = typing.get_origin(base)
    arguments = typing.get_args(base)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in arguments if a is not type(None)]
        if any(_is_path(a) for a in kept) and all(_is_path(a) or a is str for a in kept):
            inner = "path"
        elif len(kept) == 1:
            inner = port_type(kept[0], nullable=False)
        else:
            return "any"
        return f"{inner}?" if nullable and len(kept) < len(arguments) and inner != "any" else inner
    if _is_path(base):
        return "path"
    if origin in _ARRAYS:
        item = port_type(arguments[0], nullable=False) if arguments else "any"
        return "array" if item == "any" else f"array<{item}>"
    if origin in (dict, Mapping) or base is Mapping:
        return "object"
    return _SIMPLE.get(base, "any")


def _is_path(annotation: object) -> bool:
    if typing.get_origin(annotation) is os.PathLike or annotation is os.PathLike:
        return True
    return isinstance(annotation, builtins.type) and issubclass(annotation, PurePath)
