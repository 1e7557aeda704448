"""``atomiton schema``: the JSON Schema of the blueprint format, for editors and CI.

The schema is generated, never written by hand: the file's shape comes from the pydantic models
of ``compiler/blueprint_models.py`` (which validate nodes and edges one by one, so their lists are typed
here), and each node type's ``parameters`` from that type's own ``Params`` model in the registry.
A YAML editor given the schema (``# yaml-language-server: $schema=blueprint.schema.json``)
completes keys, node types and parameters, and flags what the compiler would reject as unknown.

It accepts what the compiler accepts, so a blueprint that compiles never shows a schema error:
parameters may be templates (``"{{ inputs.n }}"``) whatever their type, snake_case spellings of
parameters are allowed beside the camelCase ones, and a node type the registry does not know (a
plugin) is not an error here: the compiler says what it knows about that.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Final

import click
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..naming import snake_case
from ..nodes.spec import COMMON_SETTINGS, NodeSpec

EPILOG: Final = """\b
Examples:
  atomiton schema > blueprint.schema.json
  # then, as the first line of a blueprint, for the YAML language server:
  # yaml-language-server: $schema=./blueprint.schema.json
"""

# A string holding a template: accepted for a parameter of any type, checked by the compiler.
_TEMPLATE: Final = {"type": "string", "pattern": r"\{\{", "description": "A template."}

# The node settings Atomiton puts beside a node's parameters (read by the compiler, not the node).
_SETTINGS: Final[dict[str, dict[str, Any]]] = {
    "enabled": {"type": "boolean", "description": "false: the node (and what needs it) is skipped"},
    "timeout": {"type": "number", "minimum": 0, "description": "milliseconds; 0 is none"},
    "retries": {"type": "integer", "minimum": 0, "description": "extra attempts after a failure"},
    "retryDelay": {"type": "number", "minimum": 0, "description": "milliseconds between attempts"},
    "onError": {
        "enum": ["fail", "continue", "branch", "stop"],
        "description": "what a failure does",
    },
    "cache": {
        "enum": ["auto", "always", "never"],
        "description": "whether a run using the node cache reuses this node's values",
    },
    "pure": {"type": "boolean", "description": "true: no side effects (cached under auto)"},
}
assert set(_SETTINGS) == COMMON_SETTINGS

# Types the compiler handles itself: their parameters are the sub-blueprint's inputs.
_SUB_BLUEPRINT_TYPES: Final = ("blueprint", "group", "flow")


def _specs() -> list[tuple[str, NodeSpec]]:
    """Every node type name (aliases too) with its spec, in a stable order."""
    from ..nodes import registry

    found = []
    for name in registry.type_names():
        spec = registry.get(name)
        if spec is not None:
            found.append((name, spec))
    return found


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def _nullable_list_of(name: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "array", "items": _ref(name)}, {"type": "null"}]}


def _parameters_schema(definition: dict[str, Any], spec: NodeSpec) -> dict[str, Any]:
    """A node type's parameters: its model's properties (each may be a template), snake_case
    spellings, and the common settings, with nothing else allowed."""
    properties: dict[str, Any] = {}
    own = definition.get("properties", {})
    for name, schema in own.items():
        properties[name] = {"anyOf": [schema, _TEMPLATE], **_doc(schema)}
    aliases = {(info.alias or field): field for field, info in spec.params.model_fields.items()}
    for name in list(properties):
        python_name = aliases.get(name, snake_case(name))
        if python_name != name and python_name not in properties:
            properties[python_name] = {
                **properties[name],
                "description": f"Same as {name}.",
            }
    for name, schema in _SETTINGS.items():
        properties.setdefault(name, {"anyOf": [schema, _TEMPLATE], **_doc(schema)})
    return {
        "type": "object",
        "title": f"{spec.type} parameters",
        "properties": properties,
        "additionalProperties": False,
    }


def _doc(schema: dict[str, Any]) -> dict[str, Any]:
    """The keys an editor shows on hover, lifted so that the ``anyOf`` wrapper keeps them."""
    return {k: schema[k] for k in ("title", "description", "default") if k in schema}


def blueprint_schema() -> dict[str, Any]:
    """The JSON Schema of a blueprint file, as a JSON-able dict.

    Written in draft-07, the draft editors' YAML support implements fully (the YAML language
    server warns about newer ones); nothing in it needs a later draft.
    """
    from ..compiler import blueprint_models as models

    specs = _specs()
    file_models: list[type[BaseModel]] = [
        models.BlueprintModel,
        models.NodeModel,
        models.EdgeModel,
        models.ConnectionModel,
        models.InterfaceModel,
        models.VariableModel,
        models.PortModel,
        models.EndpointModel,
    ]
    param_models = list({id(s.params): s.params for _, s in specs}.values())
    with warnings.catch_warnings():
        # ``default: MISSING`` (the compiler's "no default given") has no JSON form: left out.
        warnings.simplefilter("ignore")
        keys, top = models_json_schema(
            [(m, "validation") for m in file_models] + [(m, "validation") for m in param_models],
            ref_template="#/definitions/{model}",
        )
    defs: dict[str, Any] = top["$defs"]  # pydantic's key; written as draft-07's "definitions"

    def name_of(model: type[BaseModel]) -> str:
        ref: str = keys[(model, "validation")]["$ref"]
        return ref.rsplit("/", 1)[-1]

    blueprint = defs[name_of(models.BlueprintModel)]
    node = defs[name_of(models.NodeModel)]
    node_name, edge_name = name_of(models.NodeModel), name_of(models.EdgeModel)
    connection_name = name_of(models.ConnectionModel)
    # The models take these lists as ``Any`` to validate each item on its own; type them here.
    blueprint["properties"]["nodes"] = {"type": "array", "items": _ref(node_name)}
    blueprint["properties"]["edges"] = _nullable_list_of(edge_name)
    blueprint["properties"]["connections"] = _nullable_list_of(connection_name)
    node["properties"]["nodes"] = _nullable_list_of(node_name)
    node["properties"]["edges"] = _nullable_list_of(edge_name)
    node["properties"]["connections"] = _nullable_list_of(connection_name)
    node["properties"]["interface"] = {
        "anyOf": [_ref(name_of(models.InterfaceModel)), {"type": "null"}]
    }
    node["properties"]["variables"] = {
        "anyOf": [
            {"type": "object", "additionalProperties": _ref(name_of(models.VariableModel))},
            {"type": "null"},
        ]
    }
    type_names = sorted({name for name, _ in specs} | {*_SUB_BLUEPRINT_TYPES, "python"})
    node["properties"]["type"] = {
        "anyOf": [{"enum": type_names}, {"type": "string"}],
        "description": "The node type (`atomiton nodes` lists them).",
    }

    branches: list[dict[str, Any]] = []
    for spec in {id(s): s for _, s in specs}.values():
        # One definition per node type (aliases share it), named after it, in place of its
        # model's own (nothing else refers to a Params model).
        model_def = defs.pop(name_of(spec.params))
        defs[f"{spec.type}.parameters"] = _parameters_schema(model_def, spec)
    for name, spec in specs:
        params = _ref(f"{spec.type}.parameters")
        branches.append(_when_type(name, spec.description, params))
    for name in _SUB_BLUEPRINT_TYPES:
        any_object = {"type": "object"}
        branches.append(_when_type(name, "A sub-blueprint, inlined at compile time.", any_object))
    python_params = {
        "type": "object",
        "properties": {
            "execution": {"enum": ["inline", "thread", "process"]},
            "function": {"type": "string"},
        },
        "additionalProperties": False,
    }
    branches.append(_when_type("python", "A user's own Python function.", python_params))
    node["allOf"] = branches
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "atomiton blueprint",
        "description": "A workflow blueprint compiled by atomiton into a typed Python module.",
        "$ref": _ref(name_of(models.BlueprintModel))["$ref"],
        "definitions": defs,
    }


def _when_type(name: str, description: str, params: dict[str, Any]) -> dict[str, Any]:
    """``if type == name then parameters/config/data follow params``."""
    block = {"anyOf": [params, {"type": "null"}], "description": description}
    return {
        "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
        "then": {"properties": {"parameters": block, "config": block, "data": block}},
    }


@click.command("schema", epilog=EPILOG)
@click.option(
    "--indent", type=click.IntRange(min=0), default=2, show_default=True, help="JSON indentation."
)
def schema_command(indent: int) -> None:
    """Print the JSON Schema of the blueprint format.

    Give it to an editor's YAML support to complete and check blueprints as they are typed; the
    schema is generated from this version's models and node types, so regenerate it after an
    upgrade.
    """
    text = json.dumps(blueprint_schema(), indent=indent or None, ensure_ascii=False, sort_keys=True)
    click.echo(text)
