"""The port type vocabulary: parsing, Python spellings and the compatibility table."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from atomiton.compiler.types import (
    ANY,
    PortType,
    fits,
    from_annotation,
    of_value,
    parse_type,
    python_type,
)


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("string", "str"),
        ("number", "float"),
        ("integer", "int"),
        ("boolean", "bool"),
        ("array", "list[Any]"),
        ("object", "dict[str, Any]"),
        ("buffer", "bytes"),
        ("binary", "bytes"),
        ("path", "str"),
        ("any", "Any"),
        ("", "Any"),
        ("array<object>", "list[dict[str, Any]]"),
        ("array<string>", "list[str]"),
        ("Array < Integer >", "list[int]"),
        ("string[]", "list[str]"),
        ("array<array<number>>", "list[list[float]]"),
        ("array<any>", "list[Any]"),
    ],
)
def test_each_vocabulary_type_maps_to_a_python_type(text: str, python: str) -> None:
    parsed = parse_type(text)
    assert parsed is not None
    assert python_type(parsed) == python


@pytest.mark.parametrize("text", ["strnig", "array<nubmer>", "array<>", "map<string>", "integr"])
def test_words_outside_the_vocabulary_are_rejected(text: str) -> None:
    assert parse_type(text) is None


def t(text: str) -> PortType:
    parsed = parse_type(text)
    assert parsed is not None
    return parsed


FITS = [
    ("integer", "number"),
    ("integer", "integer"),
    ("string", "path"),
    ("path", "string"),
    ("any", "integer"),
    ("object", "any"),
    ("array", "array<string>"),
    ("array<string>", "array"),
    ("array<string>", "array<path>"),
    ("array<any>", "array<integer>"),
    ("array<array<string>>", "array<array>"),
    ("binary", "buffer"),
]
DOES_NOT_FIT = [
    ("number", "integer"),
    ("string", "number"),
    ("boolean", "integer"),
    ("boolean", "string"),
    ("array", "object"),
    ("object", "array"),
    ("string", "array"),
    ("array<string>", "array<integer>"),
    # Lists are mutable, so mypy keeps element types invariant; so does the compiler.
    ("array<integer>", "array<number>"),
    ("buffer", "string"),
]


@pytest.mark.parametrize(("source", "target"), FITS)
def test_compatible_pairs(source: str, target: str) -> None:
    assert fits(t(source), t(target))


@pytest.mark.parametrize(("source", "target"), DOES_NOT_FIT)
def test_incompatible_pairs(source: str, target: str) -> None:
    assert not fits(t(source), t(target))


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, "string"),
        (int, "integer"),
        (float, "number"),
        (bool, "boolean"),
        (bytes, "buffer"),
        (int | None, "integer?"),
        (list[str], "array<string>"),
        (list[Any], "array"),
        (dict[str, Any], "object"),
        (Literal["a", "b"], "string"),
        (Literal["a", 1], "any"),
        (int | str, "any"),
        (object, "any"),
    ],
)
def test_parameter_annotations_map_to_the_vocabulary(annotation: object, expected: str) -> None:
    assert str(from_annotation(annotation)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "boolean"),
        (3, "integer"),
        (2.5, "number"),
        ("x", "string"),
        ([1], "array"),
        ({}, "object"),
        (None, "any"),
    ],
)
def test_constants_have_vocabulary_types(value: object, expected: str) -> None:
    assert str(of_value(value)) == expected


def test_any_is_the_fallback() -> None:
    assert ANY == PortType("any")
