"""Turning ``--input name=value`` and ``--inputs-json`` into a flow's ``Inputs`` model.

Values typed on a command line are strings; each is coerced by the type of the field it sets:
text fields take it verbatim, every other field reads it as JSON first (numbers, booleans, lists,
objects), and pydantic then validates the result in its usual lax mode (so ``yes`` is a boolean
and ``007`` an integer). Every mistake is a usage error that lists the valid inputs.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..diagnostics import did_you_mean
from ..runtime.main import coerce_text
from ..runtime.main import is_text_type as _is_text


def type_label(annotation: object) -> str:
    """A readable name for a field's type: ``int``, ``list[str]``, ``str | None``."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    text = str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "")


def describe_inputs(model: type[BaseModel]) -> str:
    """The valid inputs, one per line: ``name: type = default`` (or ``(required)``)."""
    if not model.model_fields:
        return "  (this flow takes no inputs)"
    lines = []
    for name, info in model.model_fields.items():
        shown = info.alias or name
        default = "(required)" if info.is_required() else f"= {info.get_default()!r}"
        lines.append(f"  {shown}: {type_label(info.annotation)} {default}")
    return "\n".join(lines)


def _scalar(text: str) -> object:
    """A list item as the user meant it: ``2`` a number, ``a`` a string."""
    try:
        value: object = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) or value is None else text


def _json_hint(name: str, text: str, annotation: object) -> str | None:
    """How to write ``text`` for a list or object input when it was not JSON, or None."""
    origin = typing.get_origin(annotation)
    inner = (
        [annotation]
        if origin not in (typing.Union, types.UnionType)
        else [a for a in typing.get_args(annotation) if a is not type(None)]
    )
    kinds = {typing.get_origin(a) or a for a in inner}
    if kinds & {list, tuple, set, frozenset}:
        parts = [_scalar(p.strip()) for p in text.split(",")] if text.strip() else []
        example = json.dumps(parts, ensure_ascii=False)
        return f"{name} takes a list: give it as JSON, e.g. --input '{name}={example}'"
    if dict in kinds:
        return (
            f"""{name} takes an object: give it as JSON, e.g. --input '{name}={{"key": "value"}}'"""
        )
    return None


def _field_for(model: type[BaseModel], name: str) -> tuple[str, FieldInfo] | None:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return field_name, info
    return None


def parse_inputs_json(raw: str | None) -> dict[str, Any]:
    """``--inputs-json``: a JSON object given inline, or ``@file`` to read it from a file."""
    if raw is None:
        return {}
    if raw.startswith("@"):
        try:
            raw = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {raw[1:]}: {exc.strerror}", param_hint="'--inputs-json'"
            ) from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="'--inputs-json'") from exc
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="'--inputs-json'")
    return data


def build_inputs(
    model: type[BaseModel], assignments: Sequence[str], json_values: Mapping[str, Any]
) -> BaseModel:
    """The flow's ``Inputs`` from ``--inputs-json`` values overridden by ``--input`` ones.

    Args:
        model: the generated module's ``Inputs`` class.
        assignments: the ``name=value`` strings of ``--input``, in order (a later one wins).
        json_values: the object given to ``--inputs-json``.

    Raises:
        click.BadParameter: an unknown name, a malformed assignment or an invalid value; the
            message lists the valid inputs with their types.
    """
    valid = f"\nvalid inputs:\n{describe_inputs(model)}"
    names = [info.alias or name for name, info in model.model_fields.items()]
    values: dict[str, Any] = {}
    hints: dict[str, str] = {}  # field -> how to write it, for values that were not JSON

    def unknown(name: str, option: str) -> click.BadParameter:
        hint = did_you_mean(name, names)
        return click.BadParameter(
            f"unknown input {name!r}" + (f" ({hint})" if hint else "") + valid, param_hint=option
        )

    for name, value in json_values.items():
        found = _field_for(model, name)
        if found is None:
            raise unknown(name, "'--inputs-json'")
        values[found[0]] = value
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        if not sep or not name:
            raise click.BadParameter(
                f"expected name=value, got {assignment!r}" + valid, param_hint="'--input'"
            )
        found = _field_for(model, name.strip())
        if found is None:
            raise unknown(name.strip(), "'--input'")
        field_name, info = found
        values[field_name] = coerce_text(text, info.annotation)
        hints.pop(field_name, None)
        if values[field_name] is text and not _is_text(info.annotation):
            hint = _json_hint(name.strip(), text, info.annotation)
            if hint is not None:
                hints[field_name] = hint
    try:
        return model.model_validate(values, by_name=True)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in error['loc']) or 'inputs'}: {error['msg']}"
            for error in exc.errors()
        )
        wrong = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        shown = [hint for field, hint in hints.items() if field in wrong]
        if shown:
            problems += "".join(f"\n  hint: {hint}" for hint in shown)
        raise click.BadParameter(
            f"invalid inputs:\n{problems}{valid}", param_hint="'--input'"
        ) from exc
