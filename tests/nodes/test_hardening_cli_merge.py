"""The ``merge`` node: its three modes called directly, and fan-in through a compiled blueprint."""

from __future__ import annotations

from pathlib import Path

import pytest
from compiled import run_blueprint
from pydantic import ValidationError

from atomiton.compiler import compile_blueprint
from atomiton.errors import BlueprintError, NodeError
from atomiton.nodes import registry
from atomiton.nodes.merge import MergeError, Params, run

NAMES = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bo"}, {"id": 3, "name": "Cy"}]
AGES = [{"id": 2, "age": 41}, {"id": 1, "age": 36}, {"id": 2, "age": 42}]


def test_merge_is_registered_with_a_multiple_input() -> None:
    spec = registry.get("merge")
    assert spec is not None
    (port,) = spec.inputs
    assert (port.name, port.type, port.multiple, port.required) == ("data", "array", True, True)


def test_append_concatenates_in_edge_order() -> None:
    first, second = [1, 2], [3]
    result = run(Params(), data=[first, second, []])
    assert result == [1, 2, 3]
    assert first == [1, 2] and second == [3]  # inputs are not modified
    assert run(Params(), data=[iter([1, 2]), (3,)]) == [1, 2, 3]


def test_by_position_zips_objects_and_stops_at_the_shortest() -> None:
    left = [{"a": 1, "x": 0}, {"a": 2}, {"a": 3}]
    right = [{"b": 1, "x": 9}, {"b": 2}]
    assert run(Params(mode="byPosition"), data=[left, right]) == [
        {"a": 1, "x": 9, "b": 1},
        {"a": 2, "b": 2},
    ]
    unpaired = run(Params(mode="byPosition", include_unpaired=True), data=[left, right])
    assert unpaired[-1] == {"a": 3}
    assert left[0] == {"a": 1, "x": 0}  # merged into new objects


def test_by_key_inner_join_keeps_every_matching_pair_in_order() -> None:
    result = run(Params(mode="byKey", key="id"), data=[NAMES, AGES])
    assert result == [
        {"id": 1, "name": "Ada", "age": 36},
        {"id": 2, "name": "Bo", "age": 41},
        {"id": 2, "name": "Bo", "age": 42},
    ]


def test_by_key_left_join_keeps_unmatched_left_items() -> None:
    result = run(Params(mode="byKey", key="id", join="left"), data=[NAMES, AGES[:2]])
    assert result == [
        {"id": 1, "name": "Ada", "age": 36},
        {"id": 2, "name": "Bo", "age": 41},
        {"id": 3, "name": "Cy"},
    ]


def test_by_key_dotted_paths_a_right_key_and_null_keys() -> None:
    orders = [{"customer": {"id": 7}, "n": 1}, {"customer": {"id": None}, "n": 2}, {"n": 3}]
    people = [{"pid": 7, "name": "Ada"}, {"pid": None, "name": "nobody"}]
    params = Params(mode="byKey", key="customer.id", right_key="pid", join="left")
    assert run(params, data=[orders, people]) == [
        {"customer": {"id": 7}, "n": 1, "pid": 7, "name": "Ada"},
        {"customer": {"id": None}, "n": 2},  # null matches nothing
        {"n": 3},
    ]


def test_by_key_joins_three_inputs_left_to_right() -> None:
    cities = [{"id": 1, "city": "London"}]
    result = run(Params(mode="byKey", key="id"), data=[NAMES, AGES, cities])
    assert result == [{"id": 1, "name": "Ada", "age": 36, "city": "London"}]


@pytest.mark.parametrize(
    ("params", "data", "message"),
    [
        (Params(), [[1], "text"], "input 2 is str, not an array"),
        (Params(mode="byPosition"), [[{"a": 1}], [5]], "input 2 item 0 is int, not an object"),
        (Params(mode="byKey", key="id"), [[{"id": [1]}], [{"id": 1}]], "the key is list"),
    ],
)
def test_bad_inputs_fail_with_where(params: Params, data: list[object], message: str) -> None:
    with pytest.raises(MergeError, match=message):
        run(params, data=data)  # type: ignore[arg-type]


def test_parameter_combinations_are_checked() -> None:
    with pytest.raises(ValidationError, match="mode byKey needs `key`"):
        Params(mode="byKey")
    with pytest.raises(ValidationError, match="used by mode byKey only"):
        Params(key="id")
    with pytest.raises(ValidationError, match="used by mode byKey only, and the mode is byPos"):
        Params(mode="byPosition", join="left")
    with pytest.raises(ValidationError, match="used by mode byPosition only"):
        Params(mode="byKey", key="id", include_unpaired=True)
    with pytest.raises(ValidationError, match="used by mode byKey only"):
        Params(right_key="id")
    assert Params(mode="byKey", key="id", right_key="pid", join="left").join == "left"


FAN_IN = """\
interface:
  outputs:
    - {id: joined, dataType: array}
    - {id: appended, dataType: array}
nodes:
  - id: names
    type: code
    parameters: {code: 'return [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bo"}]'}
  - id: ages
    type: code
    parameters: {code: 'return [{"id": 2, "age": 41}]'}
  - id: join
    type: merge
    parameters: {mode: byKey, key: id, join: left}
  - id: append
    type: merge
edges:
  - {source: names, target: join}
  - {source: ages, target: join}
  - {source: ages, target: append}
  - {source: names, target: append}
  - {source: join, target: output, targetHandle: joined}
  - {source: append, target: output, targetHandle: appended}
"""


def test_fan_in_through_a_compiled_blueprint(tmp_path: Path) -> None:
    outputs = run_blueprint(tmp_path, FAN_IN, expect_in_code="data=[s.names, s.ages]")
    assert outputs.joined == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bo", "age": 41}]
    # Edge order, not node order, decides the order of the inputs.
    assert outputs.appended == [
        {"id": 2, "age": 41},
        {"id": 1, "name": "Ada"},
        {"id": 2, "name": "Bo"},
    ]


def test_a_failing_merge_is_a_node_error(tmp_path: Path) -> None:
    text = FAN_IN.replace('{code: \'return [{"id": 2, "age": 41}]\'}', "{code: 'return [5]'}")
    text = text.replace("{mode: byKey, key: id, join: left}", "{mode: byPosition}")
    with pytest.raises(NodeError, match="input 2 item 0 is int, not an object"):
        run_blueprint(tmp_path, text)


def test_edges_of_the_wrong_type_are_compile_errors(tmp_path: Path) -> None:
    text = """\
interface:
  inputs:
    - {id: n, dataType: integer, default: 1}
nodes:
  - id: names
    type: code
    parameters: {code: 'return [1]'}
  - id: both
    type: merge
edges:
  - {source: names, target: both}
  - {source: input, sourceHandle: n, target: both}
"""
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(path)
    assert [(d.code, d.span.line if d.span else 0) for d in caught.value.diagnostics] == [
        ("E0401", 12)
    ]
