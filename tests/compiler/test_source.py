"""``source``: YAML read into plain data with the position of every value and key."""

from __future__ import annotations

from pathlib import Path

from atomiton.compiler.source import SourceFile, parse_source, read_source
from atomiton.diagnostics import DiagnosticSink, Span

TEXT = """\
id: demo
nodes:
  - id: read
    type: spreadsheet
    parameters:
      path: data.csv
      columns: [a, b]
  - {id: write, type: file-system}
"""


def parse(text: str) -> tuple[SourceFile | None, DiagnosticSink]:
    sink = DiagnosticSink()
    return parse_source(text, Path("demo.yaml"), "demo.yaml", sink), sink


def test_data_is_plain() -> None:
    src, sink = parse(TEXT)
    assert src is not None and not sink.items
    assert src.data == {
        "id": "demo",
        "nodes": [
            {
                "id": "read",
                "type": "spreadsheet",
                "parameters": {"path": "data.csv", "columns": ["a", "b"]},
            },
            {"id": "write", "type": "file-system"},
        ],
    }
    assert type(src.data) is dict and type(src.data["nodes"]) is list


def test_positions_of_values() -> None:
    src, _ = parse(TEXT)
    assert src is not None
    span = src.positions.span
    assert span(()) == Span("demo.yaml", 1, 1)
    assert span(("id",)) == Span("demo.yaml", 1, 5)
    assert span(("nodes", 0)) == Span("demo.yaml", 3, 5)
    assert span(("nodes", 0, "parameters", "path")) == Span("demo.yaml", 6, 13)
    assert span(("nodes", 0, "parameters", "columns", 1)) == Span("demo.yaml", 7, 20)
    assert span(("nodes", 1)) == Span("demo.yaml", 8, 5)
    assert span(("nodes", 1, "type")) == Span("demo.yaml", 8, 23)


def test_positions_of_keys() -> None:
    src, _ = parse(TEXT)
    assert src is not None
    assert src.positions.span(("nodes", 0, "parameters", "path"), key=True) == Span(
        "demo.yaml", 6, 7
    )
    assert src.positions.span(("nodes", 1, "type"), key=True) == Span("demo.yaml", 8, 17)


def test_unknown_path_falls_back_to_nearest_ancestor() -> None:
    src, _ = parse(TEXT)
    assert src is not None
    assert src.positions.span(("nodes", 0, "parameters", "missing", 3)) == Span("demo.yaml", 6, 7)
    assert src.positions.span(("nodes", 9)) == Span("demo.yaml", 3, 3)


def test_duplicate_keys_are_reported_at_the_second_key() -> None:
    src, sink = parse("a: 1\nb: 2\na: 3\n")
    assert src is not None and src.data == {"a": 1, "b": 2}
    assert [(d.code, d.span) for d in sink.items] == [("E0003", Span("demo.yaml", 3, 1))]


def test_merge_keys() -> None:
    text = """\
base: &base {type: transform, parameters: {operation: map}}
node:
  <<: *base
  id: x
  parameters: {operation: filter}
"""
    src, sink = parse(text)
    assert src is not None
    assert not sink.items, [d.format() for d in sink.items]
    assert src.data["node"] == {
        "type": "transform",
        "parameters": {"operation": "filter"},
        "id": "x",
    }
    # A merged value is reported where it is written: at the anchor.
    assert src.positions.span(("node", "type")) == Span("demo.yaml", 1, 20)
    assert src.positions.span(("node", "parameters", "operation")) == Span("demo.yaml", 5, 27)


def test_several_merges_and_duplicates_after_a_merge() -> None:
    text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n  z: 4\n"
    src, sink = parse(text)
    assert src is not None
    assert src.data["c"] == {"x": 1, "y": 1, "z": 3}  # YAML: the first merge wins, written keys win
    assert [(d.code, d.span) for d in sink.items] == [("E0003", Span("demo.yaml", 6, 3))]


def test_yaml_error_has_a_position() -> None:
    src, sink = parse("id: x\nnodes: [a, b\n")
    assert src is None
    (diagnostic,) = sink.items
    assert diagnostic.code == "E0001" and diagnostic.span is not None and diagnostic.span.line >= 2


def test_non_string_keys_become_text() -> None:
    src, _ = parse("1: one\n? [a, b]\n: two\n")
    assert src is not None
    assert src.data == {1: "one", "['a', 'b']": "two"}


def test_empty_document() -> None:
    src, sink = parse("# nothing\n")
    assert src is not None and src.data is None and not sink.items


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    sink = DiagnosticSink()
    assert read_source(tmp_path / "missing.yaml", "missing.yaml", sink) is None
    (bad := tmp_path / "bad.yaml").write_bytes(b"id: x\nname: caf\xe9\n")
    assert read_source(bad, "bad.yaml", sink) is None
    assert [(d.code, d.span) for d in sink.items] == [
        ("E0002", Span("missing.yaml")),
        ("E0002", Span("bad.yaml", 2, 10)),
    ]
