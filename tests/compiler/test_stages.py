"""The compiler's stages each on their own: resolve reads the include tree once and up front,
bind keeps validated parameters on the node, node code is parsed once, the graph is sorted once,
and blueprint file names and display paths have one definition each."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from atomiton import blueprint_paths
from atomiton.cli import discover
from atomiton.compiler import CompileOptions, build_graph, load_graph, resolve, validate
from atomiton.compiler.bind import bind_document
from atomiton.compiler.bound import Child
from atomiton.compiler.expressions import (
    MAX_CODE_DEPTH,
    CodeLimitError,
    ExpressionError,
    code_depth,
    parse_node_code,
)
from atomiton.compiler.parameters import bind_params
from atomiton.diagnostics import DiagnosticSink
from atomiton.errors import BlueprintError

STAGES = ("resolve", "bind", "bound", "parameters", "python_nodes", "validate", "inline")
# The modules that read a file before the stages: source and its YAML events, the schema and
# the pydantic models it validates with.
READING = ("source", "yaml_events", "schema", "settings", "blueprint_models")
# The modules that write the generated module from the IR and the plan.
GENERATING = ("codegen", "task_slots", "blueprint_text", "reads", "layout", "module_text")
COMPILER = Path(__file__).parents[2] / "src" / "atomiton" / "compiler"


def options_for(root: Path) -> CompileOptions:
    return CompileOptions(root=root, search_path=())


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_each_stage_is_a_module_that_says_what_it_owns() -> None:
    for name in STAGES + READING + GENERATING:
        source = (COMPILER / f"{name}.py").read_text()
        assert len(source.splitlines()) <= 600, name
        assert ast.get_docstring(ast.parse(source)), name
    assert not (COMPILER / "build.py").exists()


SHARED = """\
id: shared
interface:
  inputs: [{id: value, dataType: number, default: 1}]
  outputs: [{id: out, dataType: number}]
nodes:
  - {id: add, type: code, parameters: {code: "return inputs.value + 1"}}
edges:
  - {source: add, target: output, targetHandle: out}
"""


def diamond(tmp_path: Path) -> Path:
    """root includes shared twice and mid, which includes shared again."""
    write(tmp_path / "shared.yaml", SHARED)
    write(
        tmp_path / "mid.yaml",
        "id: mid\nnodes:\n  - {id: inner, type: blueprint, parameters: {path: shared.yaml}}\n",
    )
    return write(
        tmp_path / "root.yaml",
        "id: root\nnodes:\n"
        "  - {id: one, type: blueprint, parameters: {path: shared.yaml}}\n"
        "  - {id: two, type: blueprint, parameters: {path: shared}}\n"
        "  - {id: mid, type: blueprint, parameters: {path: mid.yaml}}\n",
    )


def test_resolve_reads_every_file_once(tmp_path: Path) -> None:
    root = diamond(tmp_path)
    tree = resolve.resolve_tree(root, options_for(tmp_path))
    assert [p.name for p in tree.files] == ["root.yaml", "shared.yaml", "mid.yaml"]
    includes = tree.root.includes
    one, two, mid = (includes[position, resolve.GROUP].tree for position in range(3))
    assert one is not None and two is not None and mid is not None
    inner = mid.includes[0, resolve.GROUP].tree
    assert inner is not None
    # Three inclusions of shared.yaml, one document: the file was read and validated once.
    assert one.doc is two.doc is inner.doc
    # Each inclusion keeps its own chain (where it is included from).
    assert len(inner.chain.spans) == 2 and len(one.chain.spans) == 1


def test_after_resolve_no_file_is_read_again(tmp_path: Path) -> None:
    root = diamond(tmp_path)
    options = options_for(tmp_path)
    tree = resolve.resolve_tree(root, options)
    for path in tree.files:
        path.unlink()
    graph = build_graph(tree, options)
    assert [n.id for n in graph.nodes] == ["one.add", "two.add", "mid.inner.add"]


def test_resolve_records_a_cycle_with_its_reference(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yaml", "id: a\nnodes:\n  - {id: b, type: blueprint, parameters: {path: b}}\n"
    )
    write(
        tmp_path / "b.yaml", "id: b\nnodes:\n  - {id: a, type: blueprint, parameters: {path: a}}\n"
    )
    tree = resolve.resolve_tree(tmp_path / "a.yaml", options_for(tmp_path))
    b = tree.root.includes[0, resolve.GROUP]
    assert b.tree is not None and not b.diagnostics
    back = b.tree.includes[0, resolve.GROUP]
    assert back.tree is None
    assert [(d.code, d.message) for d in back.diagnostics] == [
        ("E0502", "sub-blueprints include each other: a.yaml -> b.yaml -> a.yaml")
    ]
    with pytest.raises(BlueprintError) as caught:
        build_graph(tree, options_for(tmp_path))
    (found,) = caught.value.diagnostics
    assert found.code == "E0502" and found.notes == ("included from a.yaml:3:5",)


def test_validated_parameters_are_a_field_of_the_bound_node(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flow.yaml",
        "id: f\nvariables:\n  rows: {type: array, defaultValue: [1, 2, 3]}\nnodes:\n"
        "  - {id: pick, type: transform, parameters: {operation: limit, limitCount: 2}}\n"
        "edges:\n  - {source: input, sourceHandle: rows, target: pick}\n",
    )
    tree = resolve.resolve_tree(path, options_for(tmp_path))
    sink = DiagnosticSink()
    bound = bind_document(tree.root, {}, options_for(tmp_path), sink)
    bind_params(bound, sink)
    node = bound.nodes["pick"]
    assert node.spec is not None and isinstance(node.validated, node.spec.params)
    assert getattr(node.validated, "limit_count") == 2
    assert "__validated__" not in node.params
    graph = load_graph(path, options=options_for(tmp_path))
    assert "__validated__" not in graph.nodes[0].params


def test_node_code_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 20
    # Two statements, so the YAML's "\n" is a line break in the code.
    line = '  - {id: n%d, type: code, parameters: {code: "x = inputs.size\\nreturn x + %d"}}\n'
    nodes = "".join(line % (i, i) for i in range(count))
    path = write(
        tmp_path / "flow.yaml",
        f"id: f\nvariables:\n  size: {{type: integer, defaultValue: 2}}\nnodes:\n{nodes}",
    )
    calls: list[str] = []
    real_parse = ast.parse

    def counting_parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(source))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    graph = load_graph(path, options=options_for(tmp_path))
    monkeypatch.undo()
    assert len(calls) == count
    for node in graph.nodes:
        (function,) = node.code
        assert function.reads and function.reads[0][0] == "size"
        assert isinstance(function.tree, ast.Module)
        assert ast.unparse(function.tree) == function.source


def test_a_cycle_is_found_by_the_one_sort(tmp_path: Path) -> None:
    # ``d`` is written first but only waits on the cycle a -> b -> c -> a.
    path = write(
        tmp_path / "flow.yaml",
        "id: f\nnodes:\n"
        + "".join(
            f"  - {{id: {n}, type: code, parameters: {{code: 'return data'}}}}\n" for n in "dabc"
        )
        + "edges:\n"
        + "".join(f"  - {{source: {s}, target: {t}}}\n" for s, t in ("ab", "bc", "ca", "cd")),
    )
    with pytest.raises(BlueprintError) as caught:
        load_graph(path, options=options_for(tmp_path))
    (found,) = caught.value.diagnostics
    assert found.code == "E0207" and found.span is not None and found.span.line == 4
    assert "a -> b -> c -> a" in found.message


def test_sort_keeps_file_order_among_ready_nodes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flow.yaml",
        "id: f\nnodes:\n"
        + "".join(
            f"  - {{id: {n}, type: code, parameters: {{code: 'return 1'}}}}\n" for n in "zyxw"
        )
        + "edges:\n  - {source: x, target: z}\n",
    )
    graph = load_graph(path, options=options_for(tmp_path))
    assert [n.id for n in graph.nodes] == ["y", "x", "z", "w"]
    order, problems = validate.sort_nodes(list(graph.nodes))
    assert order == list(graph.nodes) and problems == []


def test_a_body_inside_a_body_sees_the_flow_inputs(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flow.yaml",
        """\
id: nested-loops
variables:
  rows: {type: array, defaultValue: [[1, 2], [3]]}
  size: {type: integer, defaultValue: 3}
nodes:
  - id: outer
    type: loop
    parameters:
      body:
        nodes:
          - id: inner
            type: loop
            parameters:
              body:
                nodes:
                  - id: tag
                    type: edit-fields
                    parameters: {values: {size: "{{ inputs.size }}"}}
                edges:
                  - {source: tag, target: output, targetHandle: tag}
        edges:
          - {source: input, sourceHandle: item, target: inner, targetHandle: array}
          - {source: inner, sourceHandle: results, target: output, targetHandle: rows}
edges:
  - {source: input, sourceHandle: rows, target: outer, targetHandle: array}
""",
    )
    graph = load_graph(path, options=options_for(tmp_path))
    (outer,) = graph.nodes
    (body,) = outer.bodies
    (inner,) = body.nodes
    assert inner.id == "outer.body.inner"
    (inner_body,) = inner.bodies
    assert [n.id for n in inner_body.nodes] == ["outer.body.inner.body.tag"]
    assert [p.name for p in inner_body.inputs] == ["item", "rows", "size"]


def test_one_list_of_suffixes_and_one_display_path(tmp_path: Path) -> None:
    assert discover.BLUEPRINT_SUFFIXES is blueprint_paths.BLUEPRINT_SUFFIXES
    assert blueprint_paths.blueprint_stem("orders.flow.yaml") == "orders"
    assert blueprint_paths.blueprint_stem("orders.blueprint.yml") == "orders"
    inside = tmp_path / "flows" / "a.yaml"
    assert blueprint_paths.display_path(inside, tmp_path) == "flows/a.yaml"
    elsewhere = Path("/nowhere/b.yaml")
    assert blueprint_paths.display_path(elsewhere, tmp_path) == "/nowhere/b.yaml"
    # A reference without a suffix is completed with the kinds a blueprint's name may carry.
    write(tmp_path / "child.flow.yaml", SHARED)
    path = write(
        tmp_path / "root.yaml",
        "id: r\nnodes:\n  - {id: c, type: group, parameters: {path: child}}\n",
    )
    tree = resolve.resolve_tree(path, options_for(tmp_path))
    assert [p.name for p in tree.files] == ["root.yaml", "child.flow.yaml"]
    assert tree.root.includes[0, resolve.GROUP].tree is not None
    assert Child(None).diagnostics == ()


DEEP_SHAPES = [
    lambda n: "-" * n + "x",
    lambda n: "not " * (n // 4) + "x",
    lambda n: "x" + "()" * (n // 2),
    lambda n: "x" + ".a" * (n // 2),
    lambda n: "[" * (n // 2) + "*x" + "]" * (n // 2),
    lambda n: "*" + "-" * (n - 3) + "x,",
]


@pytest.mark.parametrize("shape", range(len(DEEP_SHAPES)))
def test_short_code_skips_the_walk_only_where_it_cannot_be_too_deep(shape: int) -> None:
    checked = 0
    for length in range(MAX_CODE_DEPTH - 12, MAX_CODE_DEPTH + 8):
        text = DEEP_SHAPES[shape](length)
        for kind, mode in (("body", "exec"), ("expression", "eval")):
            try:
                depth = code_depth(ast.parse(text, mode=mode))
            except (SyntaxError, RecursionError):
                continue
            try:
                parse_node_code(text, kind)  # type: ignore[arg-type]
            except CodeLimitError:
                assert depth > MAX_CODE_DEPTH, (kind, text)
            else:
                assert depth <= MAX_CODE_DEPTH, (kind, text)
            checked += 1
    assert checked


def test_reads_are_found_whatever_the_spelling() -> None:
    # The parser normalises identifiers (NFKC): this is ``inputs.size``.
    parsed = parse_node_code("return \uff49nputs.size", "body")
    assert parsed.reads == ("size",)
    assert parse_node_code("return data", "body").reads == ()
    assert parse_node_code("inputs", "expression").reads_whole
    with pytest.raises(ExpressionError, match="yield"):
        parse_node_code("yield 1", "body")
