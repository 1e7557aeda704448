"""``naming``: blueprint ids -> Python identifiers that are valid, unique and never keywords."""

from __future__ import annotations

import keyword
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from atomiton.compiler.naming import RESERVED, Namer, identifier, module_name_for


def test_snake_case() -> None:
    assert identifier("read-orders") == "read_orders"
    assert identifier("readOrders") == "read_orders"
    assert identifier("Read Orders!") == "read_orders"
    assert identifier("__private__") == "private"


def test_keywords_and_soft_keywords_get_an_underscore() -> None:
    assert identifier("class") == "class_"
    assert identifier("None") == "none"  # lowercased first: no longer a keyword
    assert identifier("match") == "match_"


def test_reserved_names_of_the_module() -> None:
    for name in ("inputs", "run", "s", "ex", "model_config"):
        assert identifier(name) == f"{name}_"
    assert identifier("inputs", reserved=frozenset()) == "inputs"


def test_leading_digit() -> None:
    assert identifier("1st") == "n1st"
    assert identifier("2024-report") == "n2024_report"


def test_unicode_and_empty() -> None:
    assert identifier("café") == "cafe"
    assert identifier("naïve-step") == "naive_step"
    assert identifier("\U0001f600") == "node"
    assert identifier("") == "node"
    assert identifier("数据") == "node"


def test_collisions_get_numbered() -> None:
    namer = Namer()
    assert [namer(k) for k in ("a-b", "a_b", "A_B", "a-b", "aB")] == [
        "a_b",
        "a_b_2",
        "a_b_3",
        "a_b",
        "a_b_4",
    ]


def test_taken_names_are_avoided() -> None:
    namer = Namer(frozenset({"read"}))
    assert namer("read") == "read_2"


def test_module_name_for() -> None:
    assert module_name_for(Path("flows/clean-orders.flow.yaml")) == "clean_orders"
    assert module_name_for(Path("x/Report.blueprint.yml")) == "report"
    assert module_name_for(Path("x/class.yaml")) == "class_"
    assert module_name_for(Path("x/1.yaml")) == "n1"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=12))
def test_any_text_gives_distinct_valid_identifiers(keys: list[str]) -> None:
    namer = Namer()
    names = {key: namer(key) for key in keys}
    for name in names.values():
        assert name.isidentifier() and name.isascii(), name
        assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name), name
        assert name not in RESERVED, name
    assert len(set(names.values())) == len(names), names
