"""The pydantic models of a blueprint file, and their validation errors as diagnostics.

Each model lists the keys one level of the file may hold (unknown keys are errors, with a
did-you-mean hint); ``validate_model`` reports every error at its key's YAML position and goes
on without the offending keys, so that one typo does not hide the rest. What the validated
models mean (normalising them into a ``BlueprintDoc``) is ``schema``'s; ``atomiton schema``
publishes these models as JSON Schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import codes
from ..diagnostics import DiagnosticSink, did_you_mean
from .ir import MISSING
from .source import Path_, SourceFile


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PortModel(_Model):
    id: str | None = None
    name: str | None = None
    dataType: str = "any"
    type: str | None = None
    default: Any = MISSING
    defaultValue: Any = MISSING
    description: str = ""
    label: str | None = None
    required: bool | None = None
    multiple: bool | None = None
    secret: bool | None = None


class InterfaceModel(_Model):
    inputs: list[PortModel] = Field(default_factory=list)
    outputs: list[PortModel] = Field(default_factory=list)


class VariableModel(_Model):
    type: str = "any"
    defaultValue: Any = MISSING
    default: Any = MISSING
    description: str = ""
    required: bool | None = None


class EdgeModel(_Model):
    id: str | None = None
    source: str
    target: str
    sourceHandle: str | None = None
    targetHandle: str | None = None
    type: str | None = None
    data: dict[str, Any] | None = None
    label: str | None = None
    animated: bool | None = None
    style: dict[str, Any] | None = None


class EndpointModel(_Model):
    node: str | None = None
    nodeId: str | None = None
    port: str | None = None
    portId: str | None = None


class ConnectionModel(_Model):
    id: str | None = None
    source: EndpointModel
    target: EndpointModel
    type: str | None = None


class NodeModel(_Model):
    id: str
    type: str
    name: str | None = None
    label: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    function: str | None = None
    inputPorts: list[PortModel] | None = None
    outputPorts: list[PortModel] | None = None
    position: Any = None
    metadata: Any = None
    version: Any = None
    width: Any = None
    height: Any = None
    # An inline sub-blueprint (Atomiton's group).
    nodes: list[Any] | None = None
    edges: list[Any] | None = None
    connections: list[Any] | None = None
    interface: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None


class BlueprintModel(_Model):
    id: str | None = None
    name: str | None = None
    version: str | int | float | None = None
    description: str | None = None
    type: str | None = None
    metadata: dict[str, Any] | None = None
    interface: InterfaceModel | None = None
    variables: dict[str, VariableModel] | None = None
    settings: dict[str, Any] | None = None
    # Items are validated one by one (NodeModel, EdgeModel, ConnectionModel), so that one bad
    # item is reported at its own position and does not hide the others.
    nodes: list[Any] = Field(default_factory=list)
    edges: list[Any] | None = None
    connections: list[Any] | None = None
    # Atomiton bookkeeping, accepted and ignored.
    tags: list[str] | None = None
    category: str | None = None
    author: str | None = None
    icon: str | None = None
    createdAt: Any = None
    updatedAt: Any = None


def _report(
    exc: ValidationError,
    model: type[BaseModel],
    base: Path_,
    src: SourceFile,
    sink: DiagnosticSink,
    parameters: frozenset[str] = frozenset(),
) -> None:
    for error in exc.errors():
        loc = (*base, *error["loc"])
        where = describe_path(loc)
        if error["type"] == "extra_forbidden":
            key = str(error["loc"][-1])
            owner = _owner_model(model, error["loc"][:-1])
            if len(error["loc"]) == 1 and key in parameters:
                # Dedented by mistake: a parameter (or common setting) beside ``type:``.
                hint: str | None = f"{key!r} is a parameter: move it under parameters:"
            else:
                hint = did_you_mean(key, list(owner.model_fields)) if owner else None
            owner_where = describe_path(loc[:-1]) or "the blueprint"
            sink.error(
                codes.UNKNOWN_KEY,
                src.positions.span(loc, key=True),
                key=key,
                where=owner_where,
                hint=hint,
            )
        elif error["type"] == "missing":
            sink.error(
                codes.MISSING_KEY,
                src.positions.span(loc[:-1]),
                where=describe_path(loc[:-1]) or "the blueprint",
                key=str(loc[-1]),
            )
        else:
            hint = None
            if error["type"] == "string_type" and isinstance(error.get("input"), bool):
                # YAML 1.1 reads unquoted yes/no/on/off as booleans.
                hint = "YAML reads an unquoted yes, no, on or off as true/false; quote it"
            sink.error(
                codes.INVALID_VALUE,
                src.positions.span(loc),
                where=where,
                message=error["msg"],
                hint=hint,
            )


def _owner_model(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the key at ``loc`` (for did-you-mean hints)."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        inner = _model_in(annotation)
        if inner is None:
            return current
        current = inner
    return current


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def describe_path(loc: Path_) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validate_model(
    model: type[_Model],
    data: object,
    loc: Path_,
    src: SourceFile,
    sink: DiagnosticSink,
    parameters: frozenset[str] = frozenset(),
) -> Any:
    """Validate ``data``; report every error, then go on without the offending keys.

    Dropping a bad key (an unknown one, or one of the wrong type) and validating again lets the
    stage keep looking inside the rest of the mapping, so a typo at the top of a file does not
    hide the problems of its nodes. The errors already reported still stop the stage.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _report(exc, model, loc, src, sink, parameters)
        errors = exc.errors()
    if not isinstance(data, dict) or any(not e["loc"] or e["type"] == "missing" for e in errors):
        return None
    pruned = {k: v for k, v in data.items() if k not in {e["loc"][0] for e in errors}}
    try:
        return model.model_validate(pruned)
    except ValidationError:
        return None
