"""edit-fields: copies, patches, keepOnlySet and dotted keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atomiton.nodes import registry
from atomiton.nodes.edit_fields import SPEC, EditFieldsError, Params, run
from compiled import run_blueprint


def test_patches_a_copy_of_the_input() -> None:
    data = {"a": 1, "b": 2}
    assert run(Params(values={"b": 3, "c": 4}), data=data) == {"a": 1, "b": 3, "c": 4}
    assert data == {"a": 1, "b": 2}


def test_keep_only_set_and_missing_input() -> None:
    assert run(Params.model_validate({"values": {"x": 1}, "keepOnlySet": True}), data={"a": 1}) == {
        "x": 1
    }
    assert run(Params(values={"x": 1})) == {"x": 1}
    assert run(Params()) == {}


def test_dotted_keys_set_nested_fields_without_touching_the_input() -> None:
    data: dict[str, Any] = {"user": {"name": "Ada", "tags": ["x"]}, "n": 1}
    result = run(Params(values={"user.address.city": "London", "user.name": "Grace"}), data=data)
    assert result == {
        "user": {"name": "Grace", "tags": ["x"], "address": {"city": "London"}},
        "n": 1,
    }
    assert data == {"user": {"name": "Ada", "tags": ["x"]}, "n": 1}


def test_dotted_key_through_a_non_object_fails() -> None:
    with pytest.raises(EditFieldsError, match=r"'n' is a int, not an object"):
        run(Params(values={"n.x": 1}), data={"n": 1})
    with pytest.raises(EditFieldsError, match="needs an object"):
        run(Params(), data=[1])  # type: ignore[arg-type]


def test_results_never_share_values_with_the_parameters() -> None:
    params = Params(values={"items": [1, 2]})
    first = run(params)
    first["items"].append(3)
    assert run(params) == {"items": [1, 2]}


def test_spec() -> None:
    assert registry.get("edit-fields") is SPEC
    assert SPEC.weight == 80 and SPEC.execution == "inline"
    assert [p.name for p in SPEC.inputs] == ["data"] and [p.name for p in SPEC.outputs] == [
        "result"
    ]


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_builds_an_object(tmp_path: Path) -> None:
    text = """
id: e
interface:
  inputs: [{id: name, dataType: string, default: world}]
nodes:
  - {id: greet, type: edit-fields, parameters: {values: {greeting: "Hello {{ inputs.name }}", user.name: "{{ inputs.name }}"}}}
"""
    outputs = run_blueprint(tmp_path, text, "_edit_fields.run(", name="Ada")
    assert outputs.greet == {"greeting": "Hello Ada", "user": {"name": "Ada"}}
