"""The ``edit-fields`` node: build an object, or patch a copy of its input.

Templates inside ``values`` are rendered by the generated module before ``run`` is called, so
this module only sees plain values; it owns copying, dotted keys and ``keepOnlySet``, and the
``${field}`` references of ``fieldTemplates`` (how Atomiton's files read the input's fields).
"""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any, Final

from pydantic import Field

from ..runtime.values import text
from .spec import NodeParams, Port, node_spec

# ``${name}`` or ``${a.b}`` (a field of the input) and ``$${`` (a literal ``${``).
_FIELD_REFERENCE: Final = re.compile(
    r"\$\$\{|\$\{\s*(?P<path>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}"
)


class EditFieldsError(ValueError):
    """A dotted key runs through a value that is not an object."""


class Params(NodeParams):
    """Parameters of the ``edit-fields`` node."""

    values: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Field name -> value to set. String values may hold templates over the input's "
            "fields. A key with dots (`address.city`) sets a nested field, creating objects "
            "on the way."
        ),
    )
    keep_only_set: bool = Field(
        default=False,
        description="True: the result holds only `values`; false: they patch a copy of the input.",
    )
    field_templates: bool = Field(
        default=False,
        description=(
            "True: `${name}` (or `${a.b}`) in a string value is that field of the input object, "
            "and a field the input lacks (or holds null) renders empty (`$${` is a literal `${`). A value that "
            "is one reference keeps the field's type. This is how Atomiton's bare `{{name}}` is "
            "read; `{{ $input.name }}` fails on a missing field instead."
        ),
    )


def run(
    params: Params,
    *,
    data: Annotated[
        dict[str, Any] | None, Port(description="The object to patch (optional).")
    ] = None,
) -> dict[str, Any]:
    """Return a new object: a copy of ``data`` (unless ``keepOnlySet``) with ``values`` set.

    Neither the input nor the parameters are modified: the objects on a dotted key's path are
    copied before they are changed, and every value is deep-copied, so a later node that edits
    the result cannot change a parameter shared by every run.

    Args:
        params: the node's parameters.
        data: the object to patch; None is an empty object.

    Returns:
        The resulting object.

    Raises:
        EditFieldsError: ``data`` is not an object, or a dotted key passes through a value that
            is not one.
    """
    if data is not None and not isinstance(data, dict):
        raise EditFieldsError(f"edit-fields needs an object as data, got {type(data).__name__}")
    result: dict[str, Any] = {} if params.keep_only_set or data is None else dict(data)
    for key, value in params.values.items():
        if params.field_templates:
            value = render_fields(value, data or {})
        set_path(result, key, copy.deepcopy(value))
    return result


def render_fields(value: Any, data: dict[str, Any]) -> Any:
    """``value`` with its ``${field}`` references read from ``data`` (missing or null: "")."""
    if isinstance(value, dict):
        return {k: render_fields(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [render_fields(v, data) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _FIELD_REFERENCE.fullmatch(value)
    if whole is not None and whole.group("path"):
        return _field(data, whole.group("path"))

    def replace(match: re.Match[str]) -> str:
        path = match.group("path")
        return "${" if path is None else text(_field(data, path))

    return _FIELD_REFERENCE.sub(replace, value)


def _field(data: dict[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return ""  # Atomiton renders a missing field as empty text
        current = current[part]
    return "" if current is None else current


def set_path(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` in ``target``; ``a.b.c`` sets a nested field, copying objects on the way.

    A key is always split at its dots; to set a field whose name contains a dot, give the
    parent key an object value instead (``{a: {"x.y": 1}}``).
    """
    *parents, last = key.split(".")
    node = target
    walked: list[str] = []
    for part in parents:
        walked.append(part)
        child = node.get(part)
        if child is None:
            child = {}
        elif isinstance(child, dict):
            child = dict(child)  # copy: the input's nested objects are never modified
        else:
            raise EditFieldsError(
                f"cannot set {key!r}: {'.'.join(walked)!r} is a {type(child).__name__}, not an object"
            )
        node[part] = child
        node = child
    node[last] = value


SPEC: Final = node_spec(
    run,
    description="Build or patch an object.",
    output=Port(description="The new object."),
    weight=80,
    purity="pure",
)
