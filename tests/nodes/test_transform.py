"""transform: every operation, its error reporting, and properties of the pure operations."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atomiton.nodes import registry
from atomiton.nodes.transform import (
    SPEC,
    Output,
    Params,
    TransformError,
    function_args,
    run,
)
from compiled import run_blueprint

ints = st.lists(st.integers(-50, 50), max_size=30)


def test_map_filter_and_counts() -> None:
    out = run(Params(operation="map"), data=[1, 2, 3], function=lambda item: item * 10)
    assert out == Output(result=[10, 20, 30], input_count=3, output_count=3)
    out = run(Params(operation="filter"), data=[1, 2, 3, 4], function=lambda item: item % 2 == 0)
    assert (out.result, out.input_count, out.output_count) == ([2, 4], 4, 2)


def test_reduce_with_and_without_initial() -> None:
    add = lambda acc, item, index: acc + item
    assert (
        run(Params(operation="reduce", reduce_initial=100), data=[1, 2], function=add).result == 103
    )
    assert run(Params(operation="reduce"), data=[1, 2, 3], function=add).result == 6
    seen: list[int] = []
    run(
        Params.model_validate({"operation": "reduce", "reduceInitial": 0}),
        data=[5, 6],
        function=lambda a, i, n: seen.append(n),
    )
    assert seen == [0, 1]
    # An explicit null initial value is a value, not "absent".
    assert (
        run(
            Params.model_validate({"operation": "reduce", "reduceInitial": None}),
            data=[1],
            function=lambda a, i, n: a,
        ).result
        is None
    )
    with pytest.raises(TransformError, match="reduceInitial"):
        run(Params(operation="reduce"), data=[], function=add)
    assert (
        run(Params(operation="reduce", reduce_initial=0), data=[4], function=add).output_count == 1
    )


def test_function_failure_names_item_index_and_keeps_cause() -> None:
    rows: list[Any] = [{"amount": 1}, {"amount": 2}, {"amount": 3}, {"total": 4}]
    with pytest.raises(
        TransformError, match=r"^transformFunction failed on item 3: KeyError: 'amount'$"
    ) as info:
        run(Params(operation="map"), data=rows, function=lambda item: item["amount"])
    assert isinstance(info.value.__cause__, KeyError)
    assert isinstance(info.value, ValueError)


def test_missing_function_and_bad_data_fail() -> None:
    with pytest.raises(TransformError, match="needs a transformFunction"):
        run(Params(operation="map"), data=[1])
    with pytest.raises(TransformError, match="needs an array"):
        run(Params(operation="reverse"), data={"a": 1})  # type: ignore[arg-type]


def test_sort_by_dotted_key_desc_and_stable() -> None:
    rows = [{"c": {"n": 2}, "id": "a"}, {"c": {"n": 1}, "id": "b"}, {"c": {"n": 2}, "id": "c"}]
    out = run(Params(operation="sort", sort_key="c.n", sort_direction="desc"), data=rows)
    assert [r["id"] for r in out.result] == ["a", "c", "b"]
    out = run(Params.model_validate({"operation": "sort", "sortKey": "c.n"}), data=rows)
    assert [r["id"] for r in out.result] == ["b", "a", "c"]


def test_sort_by_function_none_last_and_errors() -> None:
    assert run(Params(operation="sort"), data=["bb", "a", "ccc"], function=len).result == [
        "a",
        "bb",
        "ccc",
    ]
    assert run(Params(operation="sort"), data=[3, None, 1]).result == [1, 3, None]
    assert run(Params(operation="sort", sort_direction="desc"), data=[None, 1, 3]).result == [
        3,
        1,
        None,
    ]
    with pytest.raises(TransformError, match=r"sortKey 'x' cannot be read from item 1: KeyError"):
        run(Params(operation="sort", sort_key="x"), data=[{"x": 1}, {"y": 2}])
    with pytest.raises(TransformError, match="cannot compare"):
        run(Params(operation="sort"), data=[1, "a"])
    assert run(Params(operation="sort", sort_key="1"), data=[[0, 9], [0, 3]]).result == [
        [0, 3],
        [0, 9],
    ]


def test_group_by_key_or_function() -> None:
    rows = [{"k": "x", "v": 1}, {"k": "y", "v": 2}, {"k": "x", "v": 3}]
    out = run(Params(operation="group", group_key="k"), data=rows)
    assert out.result == {"x": [rows[0], rows[2]], "y": [rows[1]]}
    assert list(out.result) == ["x", "y"] and out.output_count == 2
    assert run(Params(operation="group"), data=[1, 2, 3, 4], function=lambda i: i % 2).result == {
        1: [1, 3],
        0: [2, 4],
    }
    with pytest.raises(TransformError, match="groupKey or a transformFunction"):
        run(Params(operation="group"), data=[1])
    with pytest.raises(TransformError, match="item 0"):
        run(Params(operation="group"), data=[1], function=lambda i: [i])


def test_flatten_depths() -> None:
    data: list[Any] = [1, [2, [3, [4]]], (5,), "ab", {"a": [1]}]
    assert run(Params(operation="flatten"), data=data).result == [
        1,
        2,
        [3, [4]],
        5,
        "ab",
        {"a": [1]},
    ]
    assert run(Params(operation="flatten", flatten_depth=3), data=data).result == [
        1,
        2,
        3,
        4,
        5,
        "ab",
        {"a": [1]},
    ]
    assert (
        run(Params.model_validate({"operation": "flatten", "flattenDepth": 0}), data=data).result
        == data
    )


def test_unique_with_unhashable_items_and_key() -> None:
    data: list[Any] = [{"a": 1}, {"a": 1}, [1], [1], 2, 2]
    assert run(Params(operation="unique"), data=data).result == [{"a": 1}, [1], 2]
    words = ["Apple", "apple", "Banana", "APPLE"]
    assert run(Params(operation="unique"), data=words, function=str.lower).result == [
        "Apple",
        "Banana",
    ]


def test_reverse_limit_skip_slice_defaults() -> None:
    data = list(range(20))
    assert run(Params(operation="reverse"), data=data).result == data[::-1]
    assert run(Params(operation="limit"), data=data).result == data[:10]
    assert run(Params(operation="skip", skip_count=18), data=data).result == [18, 19]
    assert run(Params(operation="slice", slice_start=-3), data=data).result == [17, 18, 19]


def test_params_use_camel_case_and_reject_unknown_keys() -> None:
    params = Params.model_validate({"operation": "limit", "limitCount": 2})
    assert params.limit_count == 2
    with pytest.raises(ValueError):
        Params.model_validate({"operation": "limit", "limitCont": 2})
    with pytest.raises(ValueError):
        Params.model_validate({"operation": "zip"})


def test_spec_and_code_param_arguments() -> None:
    assert registry.get("transform") is SPEC
    code = SPEC.code_params["transform_function"]
    assert code.kwarg == "function"
    assert (
        code.arguments(Params(operation="reduce"))
        == ("acc", "item", "index")
        == function_args(Params(operation="reduce"))
    )
    assert code.arguments(Params(operation="map")) == ("item",)
    assert [p.name for p in SPEC.outputs] == ["result", "inputCount", "outputCount"]
    assert SPEC.weight == 50


# -- properties -----------------------------------------------------------------------------------


@given(ints, st.sampled_from(["asc", "desc"]))
def test_sort_is_a_sorted_permutation(data: list[int], direction: str) -> None:
    result = run(Params(operation="sort", sort_direction=direction), data=data).result  # type: ignore[arg-type]
    assert Counter(result) == Counter(data)
    assert result == sorted(data, reverse=direction == "desc")


@given(st.lists(st.tuples(st.integers(0, 3), st.integers()), max_size=30))
def test_sort_is_stable(pairs: list[tuple[int, int]]) -> None:
    rows = [{"k": k, "v": v} for k, v in pairs]
    result = run(Params(operation="sort", sort_key="k"), data=rows).result
    assert result == sorted(rows, key=lambda r: r["k"])


@given(ints)
def test_unique_keeps_first_occurrences_in_order(data: list[int]) -> None:
    result = run(Params(operation="unique"), data=data).result
    assert result == list(dict.fromkeys(data))


@given(ints, st.one_of(st.none(), st.integers(-40, 40)), st.one_of(st.none(), st.integers(-40, 40)))
def test_slice_matches_python_slicing(data: list[int], start: int | None, end: int | None) -> None:
    assert (
        run(Params(operation="slice", slice_start=start, slice_end=end), data=data).result
        == data[start:end]
    )


@given(ints, st.integers(0, 40), st.integers(0, 40))
def test_limit_and_skip_match_slicing(data: list[int], limit: int, skip: int) -> None:
    assert run(Params(operation="limit", limit_count=limit), data=data).result == data[:limit]
    assert run(Params(operation="skip", skip_count=skip), data=data).result == data[skip:]


@given(st.lists(st.lists(st.integers(), max_size=4), max_size=10))
def test_flatten_once_matches_chain(data: list[list[int]]) -> None:
    out = run(Params(operation="flatten"), data=data)
    assert out.result == [x for sub in data for x in sub]
    assert out.output_count == sum(len(s) for s in data)


@given(ints)
def test_group_partitions_the_input(data: list[int]) -> None:
    groups = run(Params(operation="group"), data=data, function=lambda i: i % 3).result
    assert sorted(x for g in groups.values() for x in g) == sorted(data)
    assert all(all(x % 3 == k for x in g) for k, g in groups.items())


@given(ints)
def test_map_filter_agree_with_comprehensions(data: list[int]) -> None:
    assert run(Params(operation="map"), data=data, function=lambda i: i * 2).result == [
        i * 2 for i in data
    ]
    assert run(Params(operation="filter"), data=data, function=lambda i: i > 0).result == [
        i for i in data if i > 0
    ]
    assert run(Params(operation="reverse"), data=data).result == list(reversed(data))


# -- lazy operations on iterators ------------------------------------------------------------------


def explode_after(n: int, log: list[int] | None = None) -> Iterator[int]:
    """Yields 0..n-1, then raises: consuming more than needed fails the test."""
    for i in range(n):
        if log is not None:
            log.append(i)
        yield i
    raise AssertionError(f"read past item {n - 1}")


def test_lazy_operations_return_generators_without_counts() -> None:
    for operation, function in (
        ("map", lambda item: item),
        ("filter", bool),
        ("limit", None),
        ("skip", None),
    ):
        out = run(Params(operation=operation), data=iter([1, 2]), function=function)  # type: ignore[arg-type]
        assert isinstance(out.result, Iterator)
        assert out.input_count is None and out.output_count is None


def test_lazy_operations_read_nothing_until_consumed() -> None:
    log: list[int] = []
    out = run(Params(operation="map"), data=explode_after(5, log), function=lambda item: item * 2)  # type: ignore[arg-type]
    assert log == []
    assert next(out.result) == 0 and log == [0]


def test_limit_reads_only_as_far_as_needed() -> None:
    log: list[int] = []
    out = run(Params(operation="limit", limit_count=3), data=explode_after(3, log))  # type: ignore[arg-type]
    assert list(out.result) == [0, 1, 2]
    assert log == [0, 1, 2]
    assert list(run(Params(operation="limit", limit_count=0), data=explode_after(0)).result) == []  # type: ignore[arg-type]


def test_chained_lazy_operations_stop_together() -> None:
    log: list[int] = []
    odd = run(Params(operation="filter"), data=explode_after(8, log), function=lambda i: i % 2 == 1)  # type: ignore[arg-type]
    doubled = run(Params(operation="map"), data=odd.result, function=lambda i: i * 10)
    rest = run(Params(operation="skip", skip_count=1), data=doubled.result)
    top = run(Params(operation="limit", limit_count=3), data=rest.result)
    assert list(top.result) == [30, 50, 70]
    assert log == list(range(8))  # item 7 is the last odd one needed; nothing after it was read


def test_limit_closes_its_source_when_done() -> None:
    closed: list[bool] = []

    def source() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            closed.append(True)

    out = run(Params(operation="limit", limit_count=2), data=source())  # type: ignore[arg-type]
    assert list(out.result) == [0, 1]
    assert closed == [True]


def test_lazy_function_failure_names_the_item_when_consumed() -> None:
    rows: Iterator[Any] = iter([{"amount": 1}, {"total": 2}])
    out = run(Params(operation="filter"), data=rows, function=lambda item: item["amount"] > 0)  # type: ignore[arg-type]
    assert next(out.result) == {"amount": 1}
    with pytest.raises(
        TransformError, match=r"^transformFunction failed on item 1: KeyError: 'amount'$"
    ) as info:
        next(out.result)
    assert isinstance(info.value.__cause__, KeyError)


def test_lazy_missing_function_fails_at_once() -> None:
    with pytest.raises(TransformError, match="needs a transformFunction"):
        run(Params(operation="filter"), data=explode_after(0))  # type: ignore[arg-type]


def test_other_operations_read_an_iterator_whole() -> None:
    out = run(Params(operation="reduce"), data=iter([1, 2, 3]), function=lambda a, i, n: a + i)  # type: ignore[arg-type]
    assert (out.result, out.input_count, out.output_count) == (6, 3, 1)
    out = run(Params(operation="sort", sort_direction="desc"), data=(i for i in [2, 3, 1]))  # type: ignore[arg-type]
    assert (out.result, out.input_count, out.output_count) == ([3, 2, 1], 3, 3)


def test_lists_and_tuples_stay_eager() -> None:
    for data in ([1, 2, 3], (1, 2, 3)):
        out = run(Params(operation="filter"), data=data, function=lambda i: i > 1)  # type: ignore[arg-type]
        assert out == Output(result=[2, 3], input_count=3, output_count=2)
        assert run(Params(operation="limit", limit_count=1), data=data).result == [1]  # type: ignore[arg-type]
        assert run(Params(operation="skip", skip_count=1), data=data).result == [2, 3]  # type: ignore[arg-type]


def test_a_large_stream_passes_in_constant_memory() -> None:
    rows = ({"id": i, "amount": float(i % 200), "note": "x" * (i % 20)} for i in range(300_000))
    tracemalloc.start()
    try:
        big = run(Params(operation="filter"), data=rows, function=lambda item: item["amount"] > 100)  # type: ignore[arg-type]
        ids = run(Params(operation="map"), data=big.result, function=lambda item: item["id"])
        tail = run(Params(operation="skip", skip_count=10), data=ids.result)
        kept = sum(1 for _ in tail.result)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept == 300_000 // 200 * 99 - 10
    assert peak < 1_000_000, f"peak {peak:,} bytes: the stream was held in memory"


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_filters(tmp_path: Path) -> None:
    text = """
id: big
interface:
  inputs: [{id: rows, dataType: array}, {id: threshold, dataType: number, default: 2}]
nodes:
  - {id: big, type: transform, parameters: {operation: filter, transformFunction: "item > inputs.threshold"}}
edges:
  - {source: input, sourceHandle: rows, target: big, targetHandle: data}
"""
    outputs = run_blueprint(
        tmp_path, text, "def _big_transform_function(item: Any)", rows=[1, 2, 3, 4]
    )
    assert outputs.big == [3, 4]


def test_compiled_blueprint_filters_a_stream_lazily(tmp_path: Path) -> None:
    text = """
id: stream
interface:
  inputs: [{id: n, dataType: integer, default: 5}]
  outputs: [{id: kept, dataType: any}]
nodes:
  - {id: numbers, type: code, parameters: {code: "return (i for i in range(inputs.n))"}}
  - {id: odd, type: transform, parameters: {operation: filter, transformFunction: "item % 2 == 1"}}
  - {id: first, type: transform, parameters: {operation: limit, limitCount: 2}}
  - {id: collect, type: code, parameters: {code: "return list(data)"}}
edges:
  - {source: numbers, target: odd}
  - {source: odd, target: first}
  - {source: first, target: collect}
  - {source: collect, target: output, targetHandle: kept}
"""
    outputs = run_blueprint(tmp_path, text, "def _odd_transform_function(item: Any)", n=1000)
    assert outputs.kept == [1, 3]
