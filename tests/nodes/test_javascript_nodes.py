"""JavaScript nodes called directly, in the real embedded engine: the shapes of code, the array
operations, what crosses as JSON and how failures read."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest

from atomiton.nodes import javascript_code, javascript_transform
from atomiton.nodes.javascript_engine import JavaScriptError
from atomiton.nodes.transform import TransformError
from atomiton.runtime.context import NodeContext

ROWS = [
    {"name": "ada", "active": "true", "amount": "5"},
    {"name": "bob", "active": "false", "amount": "50"},
    {"name": "cy", "active": "true", "amount": "20"},
]


def code(source: str, data: Any = None, **inputs: Any) -> Any:
    params = javascript_code.Params(code=source, inputs=inputs)
    return javascript_code.run(params, data=data)


def transform(data: Any, **params: Any) -> javascript_transform.Output:
    return javascript_transform.run(javascript_transform.Params.model_validate(params), data=data)


# -- code -------------------------------------------------------------------------------------------


def test_code_body_expression_and_function() -> None:
    body = "const total = data.reduce((s, r) => s + parseFloat(r.amount), 0);\nreturn {total};"
    assert code(body, ROWS) == {"total": 75}
    assert code("data.length * 2", ROWS) == 6
    assert code("rows => rows.map(r => r.name)", ROWS) == ["ada", "bob", "cy"]
    assert code("// a comment first\nreturn data", [1]) == [1]


def test_code_reads_inputs_and_template_literals() -> None:
    assert code("return `${inputs.greeting}, ${data.name}!`", {"name": "Ada"}, greeting="Hi") == (
        "Hi, Ada!"
    )


def test_undefined_is_none_and_nested_undefined_follows_json() -> None:
    assert code("return undefined") is None
    assert code("data.x = 1", {}) == 1  # an assignment is an expression: its value
    assert code("return [1, undefined, () => 2]") == [1, None, None]
    assert code("return {a: undefined, b: 1}") == {"b": 1}
    assert code("return 0 / 0") is None  # NaN has no JSON form: null, as JSON.stringify says


def test_values_that_are_not_json_fail_clearly() -> None:
    with pytest.raises(JavaScriptError, match="the input data cannot be passed to JavaScript"):
        code("return data", [datetime(2024, 1, 1)])
    with pytest.raises(JavaScriptError, match="cannot be passed.*Out of range float"):
        code("return data", [math.nan])
    with pytest.raises(JavaScriptError, match="inputs cannot be passed"):
        code("return inputs.x", None, x=b"bytes")
    with pytest.raises(JavaScriptError, match="the result is not JSON: TypeError"):
        code("return 10n")
    with pytest.raises(JavaScriptError, match="the result is not JSON: TypeError"):
        code("const a = {}; a.self = a; return a")


def test_a_throw_names_the_line_of_the_code() -> None:
    with pytest.raises(JavaScriptError) as raised:
        code("const x = 1;\nreturn data.missing.field;", {})
    message = str(raised.value)
    assert "line 2 of the code" in message
    assert "TypeError: Cannot read properties of undefined" in message
    with pytest.raises(JavaScriptError, match=r"failed: thrown: boom"):
        code("throw 'boom'")


# -- transform --------------------------------------------------------------------------------------


def test_map_in_every_shape() -> None:
    data = [1, 2, 3]
    for function in (
        "item * 2",
        "item => item * 2",
        "(item, index) => item * 2 + index * 0",
        "function (item) { return item * 2 }",
        "item => {\n  const doubled = item * 2;\n  return doubled;\n}",
        "const doubled = item * 2;\nreturn doubled;",
    ):
        out = transform(data, runtime="javascript", operation="map", transformFunction=function)
        assert (out.result, out.input_count, out.output_count) == ([2, 4, 6], 3, 3), function
    out = transform(data, operation="map", transformFunction="(item, index) => `${index}:${item}`")
    assert out.result == ["0:1", "1:2", "2:3"]


def test_filter_uses_javascript_truthiness() -> None:
    out = transform(ROWS, operation="filter", transformFunction="row => row.active === 'true'")
    assert [r["name"] for r in out.result] == ["ada", "cy"]
    assert (out.input_count, out.output_count) == (3, 2)
    out = transform(["", "x", 0, 1, None], operation="filter", transformFunction="item")
    assert out.result == ["x", 1]


def test_reduce_forms_and_initial_value() -> None:
    numbers = [1, 2, 3, 4]
    cases = [
        ("acc + item", {}, 10),
        ("acc + item", {"reduceInitial": 100}, 110),
        ("(acc, item) => acc + item", {"reduceInitial": 0}, 10),
        ("({acc, item}) => acc + item", {"reduceInitial": 0}, 10),
        ("({acc, item, index}) => acc + index", {"reduceInitial": 0}, 6),
        ("(acc, item, index) => acc.concat([index])", {"reduceInitial": []}, [0, 1, 2, 3]),
    ]
    for function, extra, expected in cases:
        out = transform(numbers, operation="reduce", transformFunction=function, **extra)
        assert (out.result, out.output_count) == (expected, 1), function
    with pytest.raises(TransformError, match="reduce of an empty array needs reduceInitial"):
        transform([], operation="reduce", transformFunction="acc + item")
    assert transform([], operation="reduce", transformFunction="acc", reduceInitial=7).result == 7


def test_script_gets_the_whole_array() -> None:
    out = transform(
        ROWS,
        operation="script",
        transformFunction="// Filter only active records\n"
        "return data.filter(row => row.active === 'true');",
    )
    assert [r["name"] for r in out.result] == ["ada", "cy"]
    assert (out.input_count, out.output_count) == (3, 2)
    out = transform(ROWS, operation="script", transformFunction="data.length")
    assert (out.result, out.output_count) == (3, 1)


def test_keyed_operations_take_keys_from_javascript_and_order_like_transform() -> None:
    out = transform(ROWS, operation="sort", transformFunction="r => Number(r.amount)")
    assert [r["name"] for r in out.result] == ["ada", "cy", "bob"]
    out = transform(
        ROWS, operation="sort", sortDirection="desc", transformFunction="r => Number(r.amount)"
    )
    assert [r["name"] for r in out.result] == ["bob", "cy", "ada"]
    # A missing key (undefined -> null) sorts last, as in the Python transform.
    out = transform([{"k": 2}, {}, {"k": 1}], operation="sort", transformFunction="item.k")
    assert out.result == [{"k": 1}, {"k": 2}, {}]
    out = transform(ROWS, operation="group", transformFunction="r => r.active")
    assert {k: [r["name"] for r in v] for k, v in out.result.items()} == {
        "true": ["ada", "cy"],
        "false": ["bob"],
    }
    out = transform(ROWS, operation="unique", transformFunction="r => r.active")
    assert [r["name"] for r in out.result] == ["ada", "bob"]
    with pytest.raises(TransformError, match="group key of item 0 is a list"):
        transform(ROWS, operation="group", transformFunction="r => [r.active]")


def test_operations_without_code_are_transforms_own() -> None:
    assert transform([[1, [2]], [3]], operation="flatten").result == [1, [2], 3]
    assert transform([1, 2, 3], operation="reverse").result == [3, 2, 1]
    assert transform([1, 2, 3], operation="limit", limitCount=2).result == [1, 2]
    out = transform(ROWS, operation="sort", sortKey="amount")
    assert [r["amount"] for r in out.result] == ["20", "5", "50"]
    assert transform(iter([1, 2]), operation="map", transformFunction="item + 1").result == [2, 3]


def test_transform_failures() -> None:
    with pytest.raises(JavaScriptError, match=r"\(item 1, line 1 of the transformFunction\)"):
        transform([{"a": {"b": 1}}, {}], operation="map", transformFunction="item.a.b")
    with pytest.raises(TransformError, match="transform needs an array as data, got dict"):
        transform({"a": 1}, operation="map", transformFunction="item")
    with pytest.raises(ValueError, match="operation 'map' needs a transformFunction"):
        javascript_transform.Params.model_validate({"operation": "map"})
    with pytest.raises(JavaScriptError, match="the code is not a function"):
        transform([1], operation="map", transformFunction="function () {}.name")


def test_specs_are_the_python_nodes_ports_with_the_extra() -> None:
    from atomiton.nodes import code as python_code
    from atomiton.nodes import registry
    from atomiton.nodes import transform as python_transform

    for spec, python in (
        (javascript_code.SPEC, python_code.SPEC),
        (javascript_transform.SPEC, python_transform.SPEC),
    ):
        assert registry.get(spec.type) is spec
        assert (spec.inputs, spec.outputs) == (python.inputs, python.outputs)
        assert (spec.requires, spec.extra, spec.code_params) == (("py_mini_racer",), "js", {})


def test_console_goes_to_the_node_log_and_promises_are_refused() -> None:
    logged: list[tuple[str, str]] = []
    context = NodeContext("n", on_log=lambda message, level: logged.append((level, message)))
    params = javascript_code.Params(
        code="console.log('rows', data.length, {a: 1});\nconsole.warn('careful');\nreturn 1"
    )
    assert javascript_code.run(params, data=[1, 2], context=context) == 1
    assert logged == [("info", 'rows 2 {"a":1}'), ("warning", "careful")]
    with pytest.raises(JavaScriptError, match="returned a Promise: async code is not supported"):
        code("return (async () => 1)()")
