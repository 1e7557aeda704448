"""``schema``: the file as written, Atomiton's spellings folded into one form, errors placed."""

from __future__ import annotations

from pathlib import Path

from atomiton.compiler.ir import MISSING, BlueprintDoc
from atomiton.compiler.schema import parse_document
from atomiton.compiler.source import parse_source
from atomiton.diagnostics import Diagnostic, DiagnosticSink, Span


def load(text: str) -> tuple[BlueprintDoc | None, list[Diagnostic]]:
    sink = DiagnosticSink()
    src = parse_source(text, Path("flow.yaml"), "flow.yaml", sink)
    assert src is not None, [d.format() for d in sink.items]
    doc = parse_document(src, sink, default_id="flow")
    return doc, [*sink.items, *(doc.deferred if doc is not None else ())]


def ok(text: str) -> BlueprintDoc:
    doc, diagnostics = load(text)
    assert not diagnostics, "\n".join(d.format() for d in diagnostics)
    assert doc is not None
    return doc


def test_defaults_and_identity() -> None:
    doc = ok("nodes: []\n")
    assert (doc.id, doc.name, doc.version, doc.description) == ("flow", "flow", "", "")
    doc = ok("id: x\nname: X\nversion: 1.0\nnodes: []\n")
    assert (doc.id, doc.name, doc.version) == ("x", "X", "1.0")


def test_parameters_config_and_data_are_one_map_parameters_winning() -> None:
    doc = ok("""\
nodes:
  - id: a
    type: transform
    data: {operation: map, sortKey: d}
    config: {operation: filter, limitCount: 3}
    parameters: {operation: reverse}
""")
    (node,) = doc.nodes
    assert node.params == {"operation": "reverse", "sortKey": "d", "limitCount": 3}
    assert node.param_spans["operation"] == Span("flow.yaml", 6, 18)
    assert node.param_spans["limitCount"] == Span("flow.yaml", 5, 33)


def test_common_settings_leave_the_parameters() -> None:
    doc = ok(
        "nodes:\n  - id: a\n    type: code\n    parameters: {code: x, retries: 2, timeout: 1500, onError: stop, enabled: false}\n"
    )
    (node,) = doc.nodes
    assert node.params == {"code": "x"}
    assert (
        node.settings.retries,
        node.settings.timeout,
        node.settings.on_error,
        node.settings.enabled,
    ) == (
        2,
        1.5,
        "fail",
        False,
    )


def test_edges_handles_and_dotted_endpoints() -> None:
    doc = ok("""\
nodes: []
edges:
  - {source: a, target: b}
  - {id: e2, source: a, sourceHandle: output, target: b, targetHandle: input}
  - {source: input.path, target: output.total}
  - {source: a, sourceHandle: rows, target: b, targetHandle: data}
""")
    assert [(e.id, e.source, e.source_port, e.target, e.target_port) for e in doc.edges] == [
        ("a->b", "a", None, "b", None),
        # Generic handles are kept: the builder maps them to the primary port unless the node
        # has a port or parameter of that name (image's ``output``).
        ("e2", "a", "output", "b", "input"),
        ("input.path->output.total", "input", "path", "output", "total"),
        ("a->b", "a", "rows", "b", "data"),
    ]
    assert doc.edges[1].span == Span("flow.yaml", 4, 5)


def test_connections_become_edges() -> None:
    doc = ok("""\
nodes: []
connections:
  - id: c1
    source: {nodeId: a, portId: result}
    target: {nodeId: b, portId: data}
  - source: {node: b}
    target: {node: c, port: data}
""")
    assert [(e.id, e.source, e.source_port, e.target, e.target_port) for e in doc.edges] == [
        ("c1", "a", "result", "b", "data"),
        ("b->c", "b", None, "c", "data"),
    ]


def test_variables_are_interface_inputs() -> None:
    doc = ok("""\
interface:
  inputs:
    - {id: path, dataType: string, default: a.csv, description: where}
  outputs:
    - {name: total, type: number}
variables:
  threshold: {type: number, defaultValue: 10}
  label: {type: string}
nodes: []
""")
    assert [(p.name, p.type, p.default, p.description) for p in doc.inputs] == [
        ("path", "string", "a.csv", "where"),
        ("threshold", "number", 10, ""),
        ("label", "string", MISSING, ""),
    ]
    assert doc.inputs[1].span == Span("flow.yaml", 7, 3)
    assert [(p.name, p.type) for p in doc.outputs] == [("total", "number")]


def test_inline_group_is_a_nested_document() -> None:
    doc = ok("""\
nodes:
  - id: group
    type: group
    variables: {items: {type: array}}
    nodes:
      - {id: inner, type: transform, parameters: {operation: reverse}}
    edges:
      - {source: input.items, target: inner}
""")
    (group,) = doc.nodes
    assert group.inline is not None
    assert group.inline.id == "group"
    assert [n.id for n in group.inline.nodes] == ["inner"]
    assert group.inline.nodes[0].span == Span("flow.yaml", 6, 9)
    assert [p.name for p in group.inline.inputs] == ["items"]
    assert [(e.source, e.source_port, e.target) for e in group.inline.edges] == [
        ("input", "items", "inner")
    ]


def test_declared_ports_and_editor_keys() -> None:
    doc = ok("""\
nodes:
  - id: a
    type: python
    function: pkg.mod:fn
    position: {x: 1, y: 2}
    metadata: {color: red}
    version: 3
    inputPorts: [{id: rows, dataType: "array<object>"}, {id: extra, multiple: true}]
    outputPorts: [{id: total, dataType: number}]
""")
    (node,) = doc.nodes
    assert node.params == {"function": "pkg.mod:fn"}
    assert [(p.name, p.type, p.multiple) for p in node.declared_inputs] == [
        ("rows", "array<object>", False),
        ("extra", "any", True),
    ]
    assert [(p.name, p.type) for p in node.declared_outputs] == [("total", "number")]


def test_runtime_settings() -> None:
    doc = ok("settings: {runtime: {timeout: 30000, concurrency: 4}}\nnodes: []\n")
    assert (doc.concurrency, doc.timeout) == (4, 30.0)


def codes(text: str) -> list[tuple[str, int, int]]:
    _, diagnostics = load(text)
    return [(d.code, d.span.line, d.span.column) for d in diagnostics if d.span is not None]


def test_unknown_key_with_hint_and_place() -> None:
    _, diagnostics = load("id: x\nnodse: []\n")
    (d,) = diagnostics
    assert (d.code, d.span, d.hint) == ("E0101", Span("flow.yaml", 2, 1), "did you mean 'nodes'?")
    assert d.message == "unknown key 'nodse' in the blueprint"


def test_errors_in_several_nodes_are_all_reported() -> None:
    text = """\
descripton: x
nodes:
  - {id: a, type: code, paramters: {}}
  - 7
  - {id: "b c", type: code}
  - {type: code}
edges:
  - {source: a}
"""
    assert sorted(codes(text)) == [
        ("E0101", 1, 1),
        ("E0101", 3, 25),
        ("E0102", 4, 5),
        ("E0103", 6, 5),
        ("E0103", 8, 5),
        ("E0211", 5, 10),
    ]


def test_unknown_port_types() -> None:
    text = "interface:\n  inputs: [{id: a, dataType: strnig}]\nvariables:\n  b: {type: nubmer}\nnodes: []\n"
    assert codes(text) == [("E0402", 2, 30), ("E0402", 4, 13)]


def test_bad_settings_are_reported_at_their_keys() -> None:
    text = "nodes:\n  - id: a\n    type: code\n    parameters:\n      onError: explode\n      retries: -1\n"
    assert codes(text) == [("E0218", 6, 7), ("E0218", 5, 7)]


def test_top_level_must_be_a_mapping() -> None:
    assert codes("- a\n- b\n") == [("E0004", 1, 1)]


def test_generic_handle_means_primary_port_unless_the_node_has_that_name(tmp_path: Path) -> None:
    from atomiton.compiler import load_graph

    path = tmp_path / "flow.yaml"
    path.write_text("""\
nodes:
  - {id: make, type: code, parameters: {code: "return 'a.png'"}}
  - {id: pic, type: image, parameters: {operation: resize, width: 2, height: 2}}
edges:
  - {source: make, sourceHandle: output, target: pic, targetHandle: input}
  - {source: make, target: pic, targetHandle: output}
""")
    graph = load_graph(path)
    pic = graph.node("pic")
    assert set(pic.inputs) == {"baseImage"}
    assert "output" in pic.params
