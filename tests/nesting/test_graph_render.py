"""``atomiton graph``: the inlined graph as Mermaid or dot, sub-blueprints as clusters."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from atomiton.cli.graph_cmd import graph_command
from atomiton.compiler import CompileOptions, load_graph
from atomiton.compiler.graph_render import render_graph

TOTALS = """
id: totals
interface:
  inputs: [{id: value, dataType: number}]
  outputs: [{id: total, dataType: number}]
nodes:
  - {id: sum, type: code, parameters: {code: "return data + 1"}}
edges:
  - {source: input.value, target: sum}
  - {source: sum, target: output, targetHandle: total}
"""
MAIN = """
id: main
interface:
  inputs: [{id: x, dataType: number, default: 1}]
  outputs: [{id: total, dataType: number}]
nodes:
  - {id: double, type: code, name: 'Double "it"', parameters: {code: "return data * 2"}}
  - {id: totals, type: blueprint, parameters: {path: totals.yaml}}
  - {id: outer, type: group, nodes: [{id: inner, type: blueprint, parameters: {path: totals.yaml, value: 3}}]}
edges:
  - {source: input.x, target: double}
  - {source: double, target: totals, targetHandle: value}
  - {source: totals, sourceHandle: total, target: output, targetHandle: total}
"""


@pytest.fixture
def main_file(tmp_path: Path) -> Path:
    (tmp_path / "totals.yaml").write_text(textwrap.dedent(TOTALS))
    path = tmp_path / "main.yaml"
    path.write_text(textwrap.dedent(MAIN))
    return path


def test_mermaid(main_file: Path) -> None:
    graph = load_graph(main_file, options=CompileOptions(root=main_file.parent, search_path=()))
    assert render_graph(graph, "mermaid") == textwrap.dedent("""\
        flowchart LR
          n0(["input x: number"])
          n1["Double &quot;it&quot;<br/>code"]
          subgraph c0["totals"]
            n2["sum<br/>code"]
          end
          subgraph c1["outer"]
            subgraph c2["outer.inner"]
              n3["sum<br/>code"]
            end
          end
          n4(["output total: number"])
          n0 -->|"x → data"| n1
          n1 -->|"result → data"| n2
          n2 -->|"result"| n4
        """)


def test_dot(main_file: Path) -> None:
    graph = load_graph(main_file, options=CompileOptions(root=main_file.parent, search_path=()))
    text = render_graph(graph, "dot")
    assert text.startswith("digraph blueprint {\n") and text.endswith("}\n")
    assert 'n1 [label="Double \\"it\\"\\ncode"];' in text
    assert 'subgraph cluster_0 {\n    label="totals";\n    n2 [label="sum\\ncode"];\n  }' in text
    assert "subgraph cluster_2 {" in text  # outer.inner nested in outer
    assert 'n1 -> n2 [label="result → data"];' in text


def test_loop_bodies_are_clusters(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(textwrap.dedent("""
            id: loop
            interface:
              inputs: [{id: items, dataType: array, default: [1, 2]}]
            nodes:
              - id: each
                type: loop
                parameters:
                  body:
                    nodes: [{id: inc, type: code, parameters: {code: "return data + 1"}}]
                    edges: [{source: input, target: inc}, {source: inc, target: output, targetHandle: result}]
            edges:
              - {source: input.items, target: each}
            """))
    text = render_graph(load_graph(path, options=CompileOptions(root=tmp_path, search_path=())))
    assert 'subgraph c1["each.body"]' in text
    assert '-.->|"result"|' in text


def test_command_prints_the_graph(main_file: Path) -> None:
    result = CliRunner().invoke(graph_command, [str(main_file), "--format", "dot"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("digraph blueprint {")


def test_command_reports_blueprint_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nnodes:\n  - {id: x, type: nope}\n")
    result = CliRunner().invoke(graph_command, [str(bad)])
    assert result.exit_code == 1
    assert "E0202" in result.output


def test_command_rejects_unknown_formats(main_file: Path) -> None:
    result = CliRunner().invoke(graph_command, [str(main_file), "--format", "png"])
    assert result.exit_code == 2
