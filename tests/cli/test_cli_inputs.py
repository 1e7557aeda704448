"""Coercing ``--input name=value`` strings by the type of the flow input they set."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click
import pytest
from pydantic import BaseModel, ConfigDict, Field

from atomiton.cli.inputs import build_inputs, coerce_text, describe_inputs, parse_inputs_json


class Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    name: str = "world"
    out_path: str = Field(default="out.txt", alias="outPath")
    count: int
    ratio: float = 1.0
    loud: bool = False
    tags: list[str] = []
    options: dict[str, Any] = {}
    anything: Any = None
    maybe: str | None = None
    mode: Literal["a", "b"] = "a"
    where: Path = Path(".")


def test_values_are_coerced_by_field_type() -> None:
    inputs = build_inputs(
        Inputs,
        [
            "count=3",
            "ratio=2.5",
            "loud=true",
            'tags=["x", "y"]',
            'options={"depth": 2}',
            "anything=[1, 2]",
            "name=123",
            "outPath=42",
            "maybe=null",
            "mode=b",
            "where=data/in.csv",
        ],
        {},
    )

    assert inputs.model_dump() == {
        "name": "123",  # text inputs take the text as typed, even if it looks like JSON
        "out_path": "42",
        "count": 3,
        "ratio": 2.5,
        "loud": True,
        "tags": ["x", "y"],
        "options": {"depth": 2},
        "anything": [1, 2],
        "maybe": "null",
        "mode": "b",
        "where": Path("data/in.csv"),
    }


def test_text_that_is_not_json_goes_to_the_model() -> None:
    assert coerce_text("yes", bool) == "yes"
    assert build_inputs(Inputs, ["count=007", "loud=yes", "anything=hello"], {}).model_dump(
        include={"count", "loud", "anything"}
    ) == {"count": 7, "loud": True, "anything": "hello"}


def test_input_options_override_json_and_names_or_aliases_work() -> None:
    inputs = build_inputs(Inputs, ["count=2", "out_path=b"], {"count": 1, "outPath": "a"})

    assert (inputs.model_dump()["count"], inputs.model_dump()["out_path"]) == (2, "b")


def test_unknown_input_lists_the_valid_ones() -> None:
    with pytest.raises(click.BadParameter) as info:
        build_inputs(Inputs, ["count=1", "cuont=2"], {})

    message = info.value.format_message()
    assert "unknown input 'cuont' (did you mean 'count'?)" in message
    assert "  count: int (required)" in message
    assert "  outPath: str = 'out.txt'" in message


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        (["count=many"], "count: Input should be a valid integer"),
        ([], "count: Field required"),
        (["count"], "expected name=value, got 'count'"),
        (["count=1", "mode=c"], "mode: Input should be 'a' or 'b'"),
    ],
)
def test_invalid_values_are_usage_errors(assignments: list[str], expected: str) -> None:
    with pytest.raises(click.BadParameter) as info:
        build_inputs(Inputs, assignments, {})

    assert expected in info.value.format_message()
    assert "valid inputs:" in info.value.format_message()


def test_inputs_json_inline_and_from_a_file(tmp_path: Path) -> None:
    assert parse_inputs_json('{"count": 1}') == {"count": 1}
    data = tmp_path / "inputs.json"
    data.write_text('{"count": 2}')
    assert parse_inputs_json(f"@{data}") == {"count": 2}
    assert parse_inputs_json(None) == {}
    for bad in ("[1]", "{", f"@{tmp_path / 'missing.json'}"):
        with pytest.raises(click.BadParameter):
            parse_inputs_json(bad)


def test_describe_inputs_of_a_flow_without_inputs() -> None:
    class Empty(BaseModel):
        pass

    assert "no inputs" in describe_inputs(Empty)
