"""Bare ``{{field}}`` in an Atomiton file's edit-fields: a field of the incoming object, and a
missing one renders empty (Atomiton's behaviour) through edit-fields' ``fieldTemplates``; native
edit-fields keeps failing on a missing key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dialect_support import compile_flow, run_flow

from atomiton.compiler.dialects.migrate import migrate_file
from atomiton.nodes.edit_fields import Params, run


def _write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


ATOMITON_FLOW = """\
    type: composite
    nodes:
      - {id: make, type: edit-fields, data: {values: {name: Ada, age: 36}, keepOnlySet: true}}
      - id: greet
        type: edit-fields
        data:
          keepOnlySet: true
          values:
            text: "Hi {{name}} {{surname}}! ${literal}"
            age: "{{age}}"
            nested: {city: "in {{address.city}}"}
    edges:
      - {source: {nodeId: make, portId: output}, target: {nodeId: greet, portId: input}}
    """


def test_a_missing_field_renders_empty_in_an_atomiton_file(tmp_path: Path) -> None:
    path = _write(tmp_path, ATOMITON_FLOW)
    compiled = compile_flow(path, tmp_path)
    w1013 = [w for w in compiled.warnings if w.code == "W1013"]
    assert len(w1013) == 4
    assert "a missing field renders empty" in w1013[0].message
    greet = run_flow(path, tmp_path)["greet"]
    # A present field is read, a missing one is empty, a literal ${ stays as written.
    assert greet["text"] == "Hi Ada ! ${literal}"
    assert greet["age"] == 36  # one reference keeps the field's type
    assert greet["nested"] == {"city": "in "}


def test_native_edit_fields_still_fails_on_a_missing_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        id: native
        nodes:
          - {id: make, type: edit-fields, parameters: {values: {name: Ada}, keepOnlySet: true}}
          - id: greet
            type: edit-fields
            parameters: {values: {text: "Hi {{ $input.surname }}"}, keepOnlySet: true}
        edges:
          - {source: make, target: greet}
        """,
    )
    with pytest.raises(Exception, match="surname"):
        run_flow(path, tmp_path)


def test_the_migrated_file_renders_the_same_without_warnings(tmp_path: Path) -> None:
    original = _write(tmp_path, ATOMITON_FLOW)
    native_text = migrate_file(original, original.name).text
    assert native_text is not None
    assert "fieldTemplates: true" in native_text
    migrated = _write(tmp_path, native_text, "migrated.yaml")
    assert compile_flow(migrated, tmp_path).warnings == ()
    assert run_flow(migrated, tmp_path)["greet"] == run_flow(original, tmp_path)["greet"]


@pytest.mark.parametrize(
    ("values", "data", "expected"),
    [
        ({"a": "x${name}y"}, {"name": "N"}, {"a": "xNy"}),
        ({"a": "x${gone}y"}, {}, {"a": "xy"}),
        ({"a": "${n.deep}"}, {"n": {"deep": [1]}}, {"a": [1]}),
        ({"a": "${n.deep}"}, {"n": 5}, {"a": ""}),
        ({"a": "${nothing}"}, {"nothing": None}, {"a": ""}),
        ({"a": "$${name} ${obj}"}, {"name": "N", "obj": {"k": 1}}, {"a": '${name} {"k": 1}'}),
        ({"a": ["${name}", {"b": "${name}!"}]}, {"name": "N"}, {"a": ["N", {"b": "N!"}]}),
    ],
)
def test_field_templates_read_the_input(
    values: dict[str, object], data: dict[str, object], expected: dict[str, object]
) -> None:
    params = Params.model_validate({"values": values, "keepOnlySet": True, "fieldTemplates": True})
    assert run(params, data=data) == expected


def test_without_field_templates_references_are_plain_text() -> None:
    params = Params.model_validate({"values": {"a": "${name}"}, "keepOnlySet": True})
    assert run(params, data={"name": "N"}) == {"a": "${name}"}
