"""The code writer's source map, the plan's decisions and result types from NodeSpec.

Compiler side of the source map: what the writer records while it writes, how the module
stores it, and where mypy findings land with it (the runtime side is in
tests/runtime/test_writer_source_map.py).
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from atomiton.compiler import CompileOptions, compile_blueprint, load_graph
from atomiton.compiler.codegen import _ModuleBuilder
from atomiton.compiler.plan import Condition, plan_graph
from atomiton.compiler.typecheck import check_types
from atomiton.compiler.writer import CodeWriter, Origin, encode, origin_of
from atomiton.diagnostics import Span
from atomiton.nodes import registry
from atomiton.nodes.spec import Port
from atomiton.runtime import debug

GOLDEN = Path(__file__).parents[1] / "golden"


def test_the_writer_records_runs_as_it_writes() -> None:
    out = CodeWriter()
    node = Origin(Span("f.yaml", 3, 5), 0)
    out.write("x = 1")
    out.at(node)
    out.write("if a:\n    b = 2", 4)
    out.at(Origin(Span("f.yaml", 9, 9), 0))
    out.at(node)  # nothing written under the line above: no run of its own
    out.blank()
    out.at(None)
    out.write("y = 3")
    assert out.text() == "x = 1\n    if a:\n    b = 2\n\ny = 3\n"
    assert out.line_map() == ((2, node), (5, None))
    assert origin_of(out.line_map(), 1) is None
    assert origin_of(out.line_map(), 4) == node
    assert origin_of(out.line_map(), 5) is None


def test_the_stored_form_decodes_to_the_same_runs() -> None:
    included = (Span("main.yaml", 12, 5),)
    line_map = tuple(
        (line, None if line % 7 == 0 else Origin(Span("sub.yaml", line, 1), line, included))
        for line in range(1, 400, 3)
    )
    files: dict[tuple[str, tuple[str, ...]], int] = {}
    chunks = encode(line_map, files, lambda path: f"x/{path}")
    assert all(len(chunk) <= 73 for chunk in chunks)  # a chunk and its quotes fit a line
    assert list(files) == [("x/sub.yaml", ("x/main.yaml:12:5",))]
    stored = debug.decode(((("x/sub.yaml", "x/main.yaml:12:5"),), *chunks))
    assert stored is not None
    for line in range(1, 402):
        expected = origin_of(line_map, line)
        place = stored.place(line)
        if expected is None:
            assert place is None
        else:
            assert place == debug.Place(
                "x/sub.yaml", expected.span.line, 1, expected.node, ("x/main.yaml:12:5",)
            )


def _compile(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(text))
    options = CompileOptions(root=tmp_path, search_path=(tmp_path,), store=tmp_path / "s")
    return compile_blueprint(tmp_path / "flow.yaml", options=options)


def test_each_line_of_node_code_maps_to_its_own_yaml_line(tmp_path: Path) -> None:
    compiled = _compile(
        tmp_path,
        """\
        id: lines
        nodes:
          - id: calc
            type: code
            parameters:
              code: |
                a = 1
                if a:
                    b = [
                        a,
                    ]
                return b
        """,
    )
    lines = compiled.code.splitlines()
    placed = {
        lines[number - 1].strip(): (origin.span.line, origin.span.column)
        for number in range(1, len(lines) + 1)
        if (origin := origin_of(compiled.line_map, number)) is not None
    }
    assert placed["a = 1"] == (7, 9)
    assert placed["if a:"] == (8, 9)
    assert placed["b = [a]"] == (9, 13)  # re-emitted on one line, placed where it starts
    assert placed["return b"] == (12, 9)
    assert placed["# calc: code (flow.yaml:3:5)"] == (3, 5)
    assert compiled.code.rstrip().endswith(")") and "_SOURCE_MAP: Final = (" in compiled.code


@pytest.mark.slow
def test_mypy_findings_land_on_the_code_line(tmp_path: Path) -> None:
    compiled = _compile(
        tmp_path,
        """\
        id: typed
        nodes:
          - id: calc
            type: code
            parameters:
              code: |
                total: int = 0
                label: str = "n"
                total = label
                return total
        """,
    )
    (finding,) = check_types([compiled])
    assert finding.code == "E0601" and "Incompatible types in assignment" in finding.message
    assert (finding.span.line, finding.span.column) == (9, 9)


def test_the_plan_decides_guards_policy_and_what_may_be_none() -> None:
    graph = load_graph(GOLDEN / "branch_errors" / "blueprint.yaml")
    plan = plan_graph(graph)
    decided = plan.nodes
    assert decided["total"].policy and not decided["total"].guard
    assert decided["report"].guard == (Condition("total", "succeeded"),)
    assert decided["explain"].guard == (Condition("total", "failed"),)
    assert not decided["report"].policy and decided["fine"].policy
    outputs = {o.port.name: o.binding for o in graph.outputs}
    assert plan.may_be_none(outputs["count"]) and plan.may_be_none(outputs["problem"])
    assert plan.conditions(outputs["problem"]) == (Condition("explain", "ran"),)


def test_the_plan_decides_for_the_nodes_of_bodies_too() -> None:
    graph = load_graph(GOLDEN / "loop_body" / "blueprint.yaml")
    plan = plan_graph(graph)
    body_nodes = [n.id for node in graph.nodes for body in node.bodies for n in body.nodes]
    assert body_nodes and all(node_id in plan.nodes for node_id in body_nodes)


def test_a_node_result_type_comes_from_its_spec_not_its_module() -> None:
    graph = load_graph(GOLDEN / "hello" / "blueprint.yaml")
    builder = _ModuleBuilder(graph, plan_graph(graph), Path.cwd(), {})
    code = registry.get("code")
    assert code is not None
    # A module that cannot be imported: only the declared ports can give the type.
    one = dataclasses.replace(
        code, module="atomiton.nodes.no_ints", outputs=(Port("n", "integer"),)
    )
    several = dataclasses.replace(one, outputs=(Port("n", "integer"), Port("s", "string")))
    node = dataclasses.replace(graph.nodes[0], spec=one)
    assert builder._state_annotation(node) == "int"
    assert builder._state_annotation(dataclasses.replace(node, spec=several)) == "_no_ints.Output"
