"""Atomiton's parameter names and forms, read as the native node types' parameters.

Owns one node at a time: older parameter names (``filePath``, ``createDirectory``,
``watermarkPath``, ...), values written as JSON text, ``transform`` nodes whose ``expression`` or
``code`` is a function body (they become ``code`` nodes), JavaScript code (kept as written, run
with ``runtime: javascript``), loop and image options, parameters with no counterpart (dropped
with a warning), and literal values that repeat a variable's default (bound to that input).
Which nodes form a loop's body is ``loops.py``'s business.
"""

from __future__ import annotations

import json
import re
from typing import Final

from ... import codes
from ...nodes import registry
from ...nodes.javascript_source import looks_like_javascript
from ...nodes.spec import COMMON_SETTINGS
from .graph import FlowNode, Fold, Param

# Older name -> native name, by node type ("*": every type that has the native name).
_RENAMES: Final[dict[str, dict[str, str]]] = {
    "*": {"filePath": "path", "createDirectory": "createDirectories"},
    "image": {"watermarkPath": "overlayImage", "watermark": "overlayImage"},
    "parallel": {"preserveOrder": "maintainOrder"},
}
# Parameters Atomiton wrote that change nothing here (the value is what atomiton does anyway).
_SAME_HERE: Final[dict[str, dict[str, object]]] = {
    "code": {"inputParams": "data", "async": False},
}
# A transform's code in these keys is a whole function body over ``data``, not a per-item function.
_BODY_KEYS: Final = ("expression", "code")
# JavaScript library calls that Python code never makes, and statements ended by a semicolon
# (beyond the engine's own detector, which must also judge native files).
_JS_CALLS: Final = re.compile(
    r"(?m);\s*$|\.(?:toUpperCase|toLowerCase|toISOString|toFixed|trim|startsWith|endsWith|includes|"
    r"indexOf|push|forEach|padStart|split)\s*\(|\b(?:parseFloat|parseInt|JSON\.\w+|Math\.\w+)\s*\("
)
# How many times a ``times`` loop without a count runs in Atomiton.
_TIMES_WITHOUT_COUNT: Final = 10
_FORMAT_NAMES: Final = {"jpg": "jpeg"}
# ``{{name}}`` or ``{{name.path}}`` whose root is none of the native template roots.
_BARE_FIELD: Final = re.compile(
    r"\{\{\s*(?P<root>[A-Za-z_][\w]*)(?P<rest>(?:\.[A-Za-z_][\w]*)*)\s*\}\}"
)
_TEMPLATE_ROOTS: Final = frozenset({"inputs", "variables", "data"})


def is_javascript(text: str) -> bool:
    """Whether node code in an Atomiton file is JavaScript (Atomiton's engine ran nothing else,
    but a file may hold Python written for atomiton)."""
    return looks_like_javascript(text) or bool(_JS_CALLS.search(text))


def known_parameters(node_type: str) -> frozenset[str] | None:
    spec = registry.get(node_type)
    if spec is None:
        return None
    names = {(info.alias or name) for name, info in spec.params.model_fields.items()}
    return frozenset(names | COMMON_SETTINGS)


def fold_parameters(node: FlowNode, fold: Fold, variables: dict[str, object]) -> None:
    """Rewrite ``node``'s parameters (and maybe its type) into the native form."""
    _rename(node, fold)
    if node.type == "transform":
        _transform(node, fold)
    elif node.type == "code":
        _code(node, fold)
    elif node.type == "loop":
        _loop(node, fold)
    elif node.type == "image":
        _image(node, fold)
    elif node.type == "edit-fields":
        _bare_fields(node, fold)
    _json_text(node, fold)
    _drop_unknown(node, fold)
    _bind_variables(node, fold, variables)


def _rename(node: FlowNode, fold: Fold) -> None:
    known = known_parameters(node.type) or frozenset()
    renames = {**_RENAMES["*"], **_RENAMES.get(node.type, {})}
    for old, new in renames.items():
        if old in node.params and new in known and new not in node.params:
            param = node.params[old]
            node.rename_param(old, new, param)
            fold.warn(
                codes.READ_AS_NATIVE,
                param.loc or node.loc,
                node=node.id,
                old=repr(old),
                new=repr(new),
            )


def _transform(node: FlowNode, fold: Fold) -> None:
    params = node.params
    body_key = next(
        (k for k in _BODY_KEYS if isinstance(params.get(k, Param(0, None)).value, str)), None
    )
    if body_key is not None and "transformFunction" not in params:
        # A function body over the whole array: Atomiton's transform ran it once, as code does.
        code = params[body_key]
        node.rename_param(body_key, "code", code)
        for key in ("inputType", "outputType"):
            if key in node.params:
                dropped = node.params.pop(key)
                fold.warn(
                    codes.PARAMETER_IGNORED,
                    dropped.loc or node.loc,
                    node=node.id,
                    param=key,
                    why="; the value is whatever the code returns",
                )
        node.type = "code"
        fold.warn(codes.TRANSFORM_BODY_AS_CODE, code.loc or node.loc, node=node.id, param=body_key)
        _code(node, fold)
        return
    function = params.get("transformFunction")
    if function is not None and isinstance(function.value, str) and is_javascript(function.value):
        _run_as_javascript(node, "transformFunction", fold)
    initial = params.get("reduceInitial")
    if initial is not None and isinstance(initial.value, str):
        try:
            parsed = json.loads(initial.value)
        except ValueError:
            return
        params["reduceInitial"] = Param(parsed, None)
        fold.warn(
            codes.READ_AS_NATIVE,
            initial.loc or node.loc,
            node=node.id,
            old=f"reduceInitial {initial.value!r}",
            new=f"the value {parsed!r}",
        )


def _code(node: FlowNode, fold: Fold) -> None:
    for key, same in _SAME_HERE["code"].items():
        param = node.params.get(key)
        if param is not None and param.value == same:
            del node.params[key]
    code = node.params.get("code")
    if code is not None and isinstance(code.value, str) and is_javascript(code.value):
        _run_as_javascript(node, "code", fold)


def _run_as_javascript(node: FlowNode, key: str, fold: Fold) -> None:
    if "runtime" in node.params:
        return
    node.params["runtime"] = Param("javascript", None)
    fold.warn(codes.JAVASCRIPT_DETECTED, node.params[key].loc or node.loc, node=node.id, param=key)


def _loop(node: FlowNode, fold: Fold) -> None:
    params = node.params
    over = params.pop("iterateOver", None)
    if over is not None:
        fold.warn(
            codes.PARAMETER_IGNORED,
            over.loc or node.loc,
            node=node.id,
            param="iterateOver",
            why="; the loop iterates over the list arriving on its input",
        )
    stop = params.get("breakOnError")
    if stop is not None and isinstance(stop.value, bool) and "continueOnError" not in params:
        node.rename_param("breakOnError", "continueOnError", Param(not stop.value, stop.loc))
        fold.warn(
            codes.READ_AS_NATIVE,
            stop.loc or node.loc,
            node=node.id,
            old=f"breakOnError: {str(stop.value).lower()}",
            new=f"continueOnError: {str(not stop.value).lower()}",
        )
    loop_type = params.get("loopType")
    if loop_type is not None and loop_type.value == "times" and "count" not in params:
        params["count"] = Param(_TIMES_WITHOUT_COUNT, None)
        fold.warn(
            codes.READ_AS_NATIVE,
            loop_type.loc or node.loc,
            node=node.id,
            old="a times loop without count",
            new=f"count: {_TIMES_WITHOUT_COUNT}",
        )


def _image(node: FlowNode, fold: Fold) -> None:
    params = node.params
    keep = params.get("maintainAspectRatio")
    if keep is not None and "fit" not in params:
        fit = "inside" if keep.value else "fill"
        node.rename_param("maintainAspectRatio", "fit", Param(fit, keep.loc))
        fold.warn(
            codes.READ_AS_NATIVE,
            keep.loc or node.loc,
            node=node.id,
            old=f"maintainAspectRatio: {str(bool(keep.value)).lower()}",
            new=f"fit: {fit}",
        )
    fmt = params.get("format")
    if fmt is not None and fmt.value in _FORMAT_NAMES:
        params["format"] = Param(_FORMAT_NAMES[fmt.value], None)


def _bare_fields(node: FlowNode, fold: Fold) -> None:
    """``{{name}}`` in edit-fields values is a field of the incoming object in Atomiton, and a
    missing one renders empty: the node's ``fieldTemplates`` reads ``${name}`` that way."""
    values = node.params.get("values")
    if values is None or not isinstance(values.value, dict) or "fieldTemplates" in node.params:
        return
    found: list[str] = []
    rewritten = {
        key: _field_references(text, node, fold, values, str(key), found)
        for key, text in values.value.items()
    }
    if found:
        node.params["values"] = Param(rewritten, values.loc)
        node.params["fieldTemplates"] = Param(True, None)


def _field_references(
    value: object, node: FlowNode, fold: Fold, values: Param, key: str, found: list[str]
) -> object:
    if isinstance(value, dict):
        return {k: _field_references(v, node, fold, values, key, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_field_references(v, node, fold, values, key, found) for v in value]
    if not isinstance(value, str):
        return value
    # A literal ``${`` stays literal once ``fieldTemplates`` is on.
    escaped = value.replace("${", "$${")
    return _BARE_FIELD.sub(lambda m: _field_reference(m, node, fold, values, key, found), escaped)


def _field_reference(
    match: re.Match[str], node: FlowNode, fold: Fold, values: Param, key: str, found: list[str]
) -> str:
    root = match.group("root")
    if root in _TEMPLATE_ROOTS:
        return match.group(0)
    new = f"${{{root}{match.group('rest')}}}"
    found.append(new)
    loc = (*values.loc, key) if values.loc is not None else node.loc
    fold.warn(codes.TEMPLATE_READS_FIELD, loc, node=node.id, template=match.group(0), new=new)
    return new


def _json_text(node: FlowNode, fold: Fold) -> None:
    """Atomiton's editor stores objects and arrays as JSON text; read them as the value."""
    spec = registry.get(node.type)
    if spec is None:
        return
    fields = {(info.alias or name): info for name, info in spec.params.model_fields.items()}
    for key, param in list(node.params.items()):
        info = fields.get(key)
        text = param.value
        if info is None or not isinstance(text, str) or not text.strip()[:1] in ("{", "["):
            continue
        annotation = str(info.annotation)
        if not any(word in annotation for word in ("dict", "list", "Any")):
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        node.params[key] = Param(value, None)
        fold.warn(
            codes.READ_AS_NATIVE,
            param.loc or node.loc,
            node=node.id,
            old=f"{key} as JSON text",
            new="its value",
        )


def _drop_unknown(node: FlowNode, fold: Fold) -> None:
    known = known_parameters(node.type)
    if known is None:
        return
    for key in list(node.params):
        if key not in known and key not in ("runtime", "body", "branches"):
            param = node.params.pop(key)
            fold.warn(
                codes.PARAMETER_IGNORED, param.loc or node.loc, node=node.id, param=key, why=""
            )


def _bind_variables(node: FlowNode, fold: Fold, variables: dict[str, object]) -> None:
    """A literal path equal to a variable's default is that variable, as the author meant:
    ``--input inputPath=...`` then changes it."""
    texts = {v: k for k, v in variables.items() if isinstance(v, str) and v and k.isidentifier()}
    for key, param in list(node.params.items()):
        if isinstance(param.value, str) and param.value in texts and key != "runtime":
            name = texts[param.value]
            node.params[key] = Param(f"{{{{ inputs.{name} }}}}", param.loc)
            fold.warn(
                codes.DEFAULT_READS_INPUT,
                param.loc or node.loc,
                node=node.id,
                param=key,
                variable=name,
            )
