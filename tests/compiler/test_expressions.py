"""``expressions``: template parsing, and Python from the blueprint checked by ``ast``."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atomiton.compiler.expressions import (
    ExpressionError,
    ParsedExpr,
    normalize_body,
    normalize_expression,
    parse_expr,
    split_template,
)


def test_text_without_templates() -> None:
    assert split_template("plain { text } here") == ["plain { text } here"]
    assert split_template("") == []


def test_single_template() -> None:
    assert split_template("{{ inputs.path }}") == [ParsedExpr("inputs.path", "inputs", ("path",))]


def test_mixed_text_and_paths() -> None:
    parts = split_template("Hello {{inputs.user['first name']}}, #{{ $input[0].id }}!")
    assert parts == [
        "Hello ",
        ParsedExpr("inputs.user['first name']", "inputs", ("user", "first name")),
        ", #",
        ParsedExpr("$input[0].id", "$input", (0, "id")),
        "!",
    ]


def test_paths() -> None:
    assert parse_expr(' data[-1]["k"] . name ').path == (-1, "k", "name")
    assert parse_expr("$env.HOME") == ParsedExpr("$env.HOME", "$env", ("HOME",))
    assert parse_expr("$now").path == ()
    assert parse_expr("row.first-name").path == ("first-name",)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ inputs.x", "never closed"),
        ("a }} b {{", "never closed"),
        ("{{ }}", "empty expression"),
        ("{{ 1 + 2 }}", "expected a name"),
        ("{{ __import__('os').system('x') }}", "not arbitrary code"),
        ("{{ inputs.x + 1 }}", "not arbitrary code"),
        ("{{ inputs[x] }}", "not arbitrary code"),
        ("{{ inputs.x() }}", "not arbitrary code"),
    ],
)
def test_template_errors(template: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        split_template(template)


def test_expressions_are_reemitted_by_ast() -> None:
    assert normalize_expression("  item['a'] >  2 ") == "item['a'] > 2"
    assert normalize_expression("lambda acc, item: acc + item") == "lambda acc, item: acc + item"


@pytest.mark.parametrize("source", ["item =>", "import os", "x = 1", "(", "a; b", ""])
def test_bad_expressions(source: str) -> None:
    with pytest.raises(ExpressionError):
        normalize_expression(source)


def test_bodies() -> None:
    assert normalize_body("data * 2") == "return data * 2"
    body = normalize_body(
        "\n    total = 0\n    for x in data:\n        total += x\n    return total\n"
    )
    assert body == "total = 0\nfor x in data:\n    total += x\nreturn total"


@pytest.mark.parametrize(
    "source", ["yield data", "return (await data)", "for x in data\n  pass", "   ", "def f(:"]
)
def test_bad_bodies(source: str) -> None:
    with pytest.raises(ExpressionError):
        normalize_body(source)


def test_syntax_errors_say_where() -> None:
    with pytest.raises(ExpressionError, match=r"line 2"):
        normalize_body("x = 1\nreturn x +")


def test_a_name_that_normalises_to_a_keyword_is_refused() -> None:
    # Python reads 'ªs' as the name 'as' (NFKC), which it could not read back.
    with pytest.raises(ExpressionError, match="keyword"):
        normalize_expression("ªs")
    with pytest.raises(ExpressionError, match="keyword"):
        normalize_body("x = ªs\nreturn x")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_normalised_code_is_one_expression_or_an_error(source: str) -> None:
    try:
        normalized = normalize_expression(source)
    except ExpressionError:
        return
    tree = ast.parse(normalized, mode="eval")
    assert ast.unparse(tree.body) == normalized
