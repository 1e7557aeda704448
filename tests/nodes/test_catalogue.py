"""The node catalogue: rendered from the specs, and docs/nodes.md kept up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomiton.nodes import catalogue, registry
from atomiton.nodes.catalogue import REFRESH_COMMAND, describe_node, describe_type, render_catalogue

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "nodes.md"


def test_docs_nodes_md_is_up_to_date() -> None:
    expected = render_catalogue()
    assert PAGE.exists(), f"docs/nodes.md is missing; run `{REFRESH_COMMAND}`"
    assert (
        PAGE.read_text(encoding="utf-8") == expected
    ), f"docs/nodes.md is out of date; run `{REFRESH_COMMAND}`"


def test_every_registered_type_has_a_section_with_ports_and_parameters() -> None:
    page = render_catalogue()
    for spec in catalogue.specs():
        assert f"\n## {spec.type}\n" in page
        for port in (*spec.inputs, *spec.outputs):
            assert f"| `{port.name}` | `{port.type}` |" in page
    assert "| `sortDirection` | string | `asc` | `asc`, `desc` |" in page
    assert "| `transformFunction` | Python expression |" in page
    assert "| `quality` | integer | `90` |" in page


def test_hand_written_notes_follow_the_generated_section(tmp_path: Path) -> None:
    (tmp_path / "code.md").write_text("### Behaviour\n\nA NOTE.\n")
    page = render_catalogue(tmp_path)
    code = page.index("\n## code\n")
    assert code < page.index("A NOTE.") < page.index("\n## edit-fields\n")
    assert "Differences from Atomiton" in render_catalogue()


def test_describe_type_uses_the_port_vocabulary() -> None:
    from typing import Any, Literal

    assert describe_type(int | None) == ("integer, optional", [])
    assert describe_type(Literal["a", "b"]) == ("string", ["a", "b"])
    assert describe_type(list[str]) == ("array<string>", [])
    assert describe_type(dict[str, Any]) == ("object", [])
    assert describe_type(str | dict[str, Any] | None) == ("string or object, optional", [])
    assert describe_type(Literal["png", "jpeg"] | None) == ("string, optional", ["png", "jpeg"])


def test_describe_node_is_plain_text() -> None:
    text = describe_node("loop")
    assert text.startswith("loop — ")
    assert "maxIterations" in text and "one of: forEach, times, while" in text
    assert "iterationCount" in text and "`" not in text.splitlines()[0]
    assert "requires: pip install atomiton[image]" in describe_node("image")
    with pytest.raises(KeyError, match="unknown node type 'lop'"):
        describe_node("lop")
    for name in registry.type_names():
        if registry.get(name) is not None:
            assert describe_node(name)
