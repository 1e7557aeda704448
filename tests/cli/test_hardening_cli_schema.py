"""``atomiton schema``: a valid JSON Schema that every real blueprint passes and typos fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from atomiton.cli import main
from atomiton.cli.schema_cmd import blueprint_schema
from atomiton.compiler import compile_blueprint
from atomiton.nodes import registry

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINTS = sorted(
    [p for p in (ROOT / "examples").rglob("*.yaml") if "bad" not in p.relative_to(ROOT).parts]
    + list((ROOT / "tests" / "golden").rglob("*.yaml"))
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    result = CliRunner().invoke(main, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    # Keywords of later drafts would be ignored by editors that implement draft-07.
    for keyword in ("$defs", "prefixItems", "unevaluatedProperties", "dependentRequired"):
        assert f'"{keyword}"' not in result.stdout
    return jsonschema.Draft7Validator(schema)


def test_there_are_blueprints_to_validate() -> None:
    assert len(BLUEPRINTS) >= 20
    assert any(p.parent.name == "examples" for p in BLUEPRINTS)
    assert any(p.name != "blueprint.yaml" and "golden" in p.parts for p in BLUEPRINTS)


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_and_golden_blueprint_is_valid(
    path: Path, validator: jsonschema.Draft7Validator
) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def _errors(validator: jsonschema.Draft7Validator, text: str) -> list[str]:
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize(
    "text",
    [
        "nodse: []\n",
        "nodes:\n  - {id: a, type: code, paramters: {code: 'return 1'}}\n",
        "nodes:\n  - {id: a, type: transform, parameters: {operation: mapp}}\n",
        "nodes:\n  - {id: a, type: transform, parameters: {limitCount: many}}\n",
        "nodes:\n  - {id: a, type: merge, parameters: {mode: zip}}\n",
        "nodes:\n  - {id: a, type: code, parameters: {code: 'return 1', bogus: 1}}\n",
        "nodes:\n  - {id: a, type: code, parameters: {code: 'return 1', retries: -1}}\n",
        "nodes: []\nedges:\n  - {source: a}\n",
        "interface:\n  inputs:\n    - {id: a, dataType: string, colour: red}\n",
    ],
)
def test_mistakes_fail_the_schema(validator: jsonschema.Draft7Validator, text: str) -> None:
    assert _errors(validator, text) != []


@pytest.mark.parametrize(
    "text",
    [
        # a template in a parameter of any type, a snake_case spelling, and a common setting
        "nodes:\n  - {id: a, type: transform, parameters: "
        "{limitCount: '{{ inputs.n }}', sort_direction: desc, retries: 2}}\n",
        # a node type from a plugin: only the compiler knows it
        "nodes:\n  - {id: a, type: mypkg-node, parameters: {anything: 1}}\n",
        # a sub-blueprint's parameters are its inputs
        "nodes:\n  - {id: a, type: blueprint, parameters: {path: b.yaml, who: Ada}}\n",
    ],
)
def test_what_the_compiler_accepts_passes(validator: jsonschema.Draft7Validator, text: str) -> None:
    assert _errors(validator, text) == []


def test_every_node_type_has_its_parameters(validator: jsonschema.Draft7Validator) -> None:
    schema: dict[str, Any] = blueprint_schema()
    for name in registry.type_names():
        spec = registry.get(name)
        if spec is None:
            continue
        defined = schema["definitions"][f"{spec.type}.parameters"]["properties"]
        for field, info in spec.params.model_fields.items():
            assert (info.alias or field) in defined, (name, field)


def test_blueprints_that_compile_pass_the_schema(
    tmp_path: Path, validator: jsonschema.Draft7Validator
) -> None:
    """The schema does not reject what compiles: templates, settings, `config` for parameters."""
    text = """\
interface:
  inputs:
    - {id: n, dataType: integer, default: 2}
nodes:
  - id: t
    type: transform
    parameters: {operation: limit, limitCount: "{{ inputs.n }}", retries: 1, onError: fail}
  - id: m
    type: merge
    parameters: {mode: byKey, key: id, join: left, rightKey: id}
  - id: c
    type: code
    config: {code: "return [1]"}
edges:
  - {source: c, target: t}
  - {source: t, target: m}
  - {source: c, target: m}
"""
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    compile_blueprint(path)
    assert _errors(validator, text) == []
