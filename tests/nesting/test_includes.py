"""Sub-blueprints: finding them (path, search path, store by id, inline), inlining them with
prefixed ids, diamonds, deep nesting, include cycles, and diagnostics inside included files."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from atomiton.cli.params import compile_options
from atomiton.compiler import CompileOptions, compile_blueprint, load_graph
from atomiton.compiler.ir import Constant, FromInput, FromNode, Graph
from atomiton.diagnostics import Diagnostic
from atomiton.errors import BlueprintError

# A sub-blueprint: adds its `offset` input (a parameter of the including node) to `value`.
ADD = """
id: add
interface:
  inputs:
    - {id: value, dataType: number}
    - {id: offset, dataType: number, default: 0}
  outputs:
    - {id: total, dataType: number}
nodes:
  - id: sum
    type: python
    function: "builtins:sum"
    inputPorts: [{id: values, dataType: number, multiple: true}]
    outputPorts: [{id: total, dataType: number}]
edges:
  - {source: input.value, target: sum, targetHandle: values}
  - {source: input.offset, target: sum, targetHandle: values}
  - {source: sum, target: output, targetHandle: total}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def include(node_id: str, ref: str, *, by: str = "path", extra: str = "") -> str:
    return f"  - {{id: {node_id}, type: blueprint, parameters: {{{by}: {ref}{extra}}}}}\n"


def parent(nodes: str, edges: str = "", interface: str = "") -> str:
    return f"id: parent\n{interface}nodes:\n{nodes}" + (f"edges:\n{edges}" if edges else "")


def opts(root: Path, **kwargs: object) -> CompileOptions:
    kwargs.setdefault("search_path", ())
    kwargs.setdefault("store", root / "store")
    return CompileOptions(root=root, **kwargs)  # type: ignore[arg-type]


def errors(path: Path, options: CompileOptions) -> list[Diagnostic]:
    with pytest.raises(BlueprintError) as caught:
        load_graph(path, options=options)
    return list(caught.value.diagnostics)


def ids(graph: Graph) -> list[str]:
    return [n.id for n in graph.nodes]


# -- finding sub-blueprints ---------------------------------------------------------------------


def test_path_is_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "flows/lib/add.yaml", ADD)
    write(
        tmp_path,
        "flows/lib/mid.yaml",
        parent(include("inner", "add.yaml", extra=", value: 1")).replace("id: parent", "id: mid"),
    )
    main = write(tmp_path, "flows/main.yaml", parent(include("outer", "lib/mid.yaml")))
    graph = load_graph(main, options=opts(tmp_path))
    assert ids(graph) == ["outer.inner.sum"]
    assert graph.nodes[0].span.path == "flows/lib/add.yaml"


def test_search_path_after_the_including_folder(tmp_path: Path) -> None:
    write(tmp_path, "shared/add.yaml", ADD)
    main = write(tmp_path, "flows/main.yaml", parent(include("totals", "add", extra=", value: 1")))
    assert ids(load_graph(main, options=opts(tmp_path, search_path=(tmp_path / "shared",)))) == [
        "totals.sum"
    ]
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.code == "E0501"
    assert "looked in" in (diagnostic.hint or "")


def test_search_path_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "shared/add.yaml", ADD)
    main = write(
        tmp_path, "flows/main.yaml", parent(include("totals", "add.yaml", extra=", value: 1"))
    )
    monkeypatch.setenv("ATOMITON_PATH", str(tmp_path / "shared"))
    monkeypatch.chdir(tmp_path)
    # The command line reads the environment; the options' own defaults never do.
    assert ids(load_graph(main, options=compile_options(()))) == ["totals.sum"]
    assert errors(main, CompileOptions(root=tmp_path))[0].code == "E0501"


def test_store_by_id_from_atomiton_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "home/Blueprints/add.yaml", ADD)
    main = write(
        tmp_path, "main.yaml", parent(include("totals", "add", by="id", extra=", value: 1"))
    )
    monkeypatch.setenv("ATOMITON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ATOMITON_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert ids(load_graph(main, options=compile_options(()))) == ["totals.sum"]
    assert errors(main, CompileOptions(root=tmp_path))[0].code == "E0501"


def test_store_file_found_by_its_declared_id(tmp_path: Path) -> None:
    write(tmp_path, "store/renamed-file.yaml", ADD.replace("id: add", "id: 'adder'  # renamed"))
    main = write(
        tmp_path, "main.yaml", parent(include("totals", "adder", by="id", extra=", value: 1"))
    )
    assert ids(load_graph(main, options=opts(tmp_path))) == ["totals.sum"]


def test_inline_nodes_are_a_sub_blueprint(tmp_path: Path) -> None:
    main = write(
        tmp_path,
        "main.yaml",
        """
        id: main
        nodes:
          - id: group
            type: group
            nodes:
              - {id: one, type: code, parameters: {code: "return 1"}}
              - {id: two, type: code, parameters: {code: "return data + 1"}}
            edges:
              - {source: one, target: two}
        """,
    )
    graph = load_graph(main, options=opts(tmp_path))
    assert ids(graph) == ["group.one", "group.two"]
    assert graph.node("group.two").inputs["data"] == FromNode("group.one", "result")


# -- inlining -----------------------------------------------------------------------------------


def test_parameters_and_edges_fill_the_interface(tmp_path: Path) -> None:
    write(tmp_path, "add.yaml", ADD)
    main = write(
        tmp_path,
        "main.yaml",
        parent(
            "  - {id: first, type: code, parameters: {code: 'return 2'}}\n"
            + include("totals", "add.yaml", extra=", offset: 5")
            + "  - {id: last, type: code, parameters: {code: 'return data'}}\n",
            "  - {source: first, target: totals, targetHandle: value}\n"
            "  - {source: totals, sourceHandle: total, target: last}\n",
        ),
    )
    graph = load_graph(main, options=opts(tmp_path))
    assert ids(graph) == ["first", "totals.sum", "last"]
    assert graph.node("totals.sum").inputs["values"] == (FromNode("first", "result"), Constant(5))
    assert graph.node("last").inputs["data"] == FromNode("totals.sum", "total")
    assert graph.node("totals.sum").included_from[0].path == "main.yaml"


def test_interface_input_passes_through_to_the_parent(tmp_path: Path) -> None:
    write(tmp_path, "add.yaml", ADD)
    main = write(
        tmp_path,
        "main.yaml",
        parent(
            include("totals", "add.yaml"),
            "  - {source: input.x, target: totals, targetHandle: value}\n",
            "interface:\n  inputs:\n    - {id: x, dataType: integer, default: 1}\n",
        ),
    )
    graph = load_graph(main, options=opts(tmp_path))
    assert graph.node("totals.sum").inputs["values"] == (FromInput("x"), Constant(0))


def test_no_sub_flow_call_remains_in_the_module(tmp_path: Path) -> None:
    write(tmp_path, "add.yaml", ADD)
    main = write(
        tmp_path,
        "main.yaml",
        parent(
            include("a", "add.yaml", extra=", value: 1")
            + include("b", "add.yaml", extra=", value: 2")
        ),
    )
    compiled = compile_blueprint(main, options=opts(tmp_path))
    assert {n.type for n in compiled.graph.nodes} == {"python"}
    assert "add.yaml" in compiled.code  # node comments and NodeInfo point into the child file
    for node_id in ("a.sum", "b.sum"):  # by position on one line, by name when exploded
        assert re.search(rf'_rt\.NodeInfo\(\s*(id=)?"{node_id}"', compiled.code)


def test_diamond(tmp_path: Path) -> None:
    write(tmp_path, "d.yaml", ADD)
    for name in ("b", "c"):
        write(
            tmp_path,
            f"{name}.yaml",
            parent(include("d", "d.yaml", extra=", value: 1")).replace("id: parent", f"id: {name}"),
        )
    main = write(tmp_path, "a.yaml", parent(include("b", "b.yaml") + include("c", "c.yaml")))
    assert ids(load_graph(main, options=opts(tmp_path))) == ["b.d.sum", "c.d.sum"]


def test_thirty_levels_deep(tmp_path: Path) -> None:
    write(tmp_path, "level30.yaml", ADD)
    for level in range(29, 0, -1):
        write(
            tmp_path,
            f"level{level}.yaml",
            f"""
            id: level{level}
            interface:
              inputs: [{{id: value, dataType: number, default: {level}}}]
              outputs: [{{id: total, dataType: number}}]
            nodes:
              - {{id: n{level}, type: blueprint, parameters: {{path: level{level + 1}.yaml}}}}
            edges:
              - {{source: input.value, target: n{level}, targetHandle: value}}
              - {{source: n{level}, sourceHandle: total, target: output, targetHandle: total}}
            """,
        )
    graph = load_graph(tmp_path / "level1.yaml", options=opts(tmp_path))
    (node,) = graph.nodes
    assert node.id == ".".join(f"n{i}" for i in range(1, 30)) + ".sum"
    assert len(node.included_from) == 29
    assert graph.outputs[0].binding == FromNode(node.id, "total")


# -- include cycles -----------------------------------------------------------------------------


def test_cycle_by_path_is_one_diagnostic_with_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", parent(include("to-b", "b.yaml")).replace("id: parent", "id: a"))
    write(tmp_path, "b.yaml", parent(include("to-a", "a.yaml")).replace("id: parent", "id: b"))
    (diagnostic,) = errors(tmp_path / "a.yaml", opts(tmp_path))
    assert diagnostic.code == "E0502"
    assert diagnostic.message.endswith("a.yaml -> b.yaml -> a.yaml")
    assert diagnostic.span is not None and diagnostic.span.path == "b.yaml"
    assert diagnostic.notes == ("included from a.yaml:3:5",)


def test_cycle_through_ids(tmp_path: Path) -> None:
    write(
        tmp_path,
        "store/x.yaml",
        parent(include("to-y", "y", by="id")).replace("id: parent", "id: x"),
    )
    write(
        tmp_path,
        "store/y.yaml",
        parent(include("to-x", "x", by="id")).replace("id: parent", "id: y"),
    )
    main = write(tmp_path, "main.yaml", parent(include("start", "x", by="id")))
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.code == "E0502"
    assert diagnostic.message.endswith("store/x.yaml -> store/y.yaml -> store/x.yaml")
    assert diagnostic.notes == ("included from store/x.yaml:3:5", "included from main.yaml:3:5")


def test_self_include(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", parent(include("me", "main.yaml")))
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.code == "E0502"
    assert diagnostic.message.endswith("main.yaml -> main.yaml")


# -- diagnostics inside included files ----------------------------------------------------------


def test_errors_in_included_files_carry_a_note_per_level(tmp_path: Path) -> None:
    write(tmp_path, "lib/leaf.yaml", "id: leaf\nnodes:\n  - {id: bad, type: trasnform}\n")
    write(
        tmp_path,
        "lib/mid.yaml",
        "id: mid\nnodes:\n  - id: deeper\n    type: blueprint\n    parameters: {path: leaf.yaml}\n",
    )
    main = write(
        tmp_path,
        "orders.yaml",
        "id: orders\nnodes:\n  - {id: ok, type: code, parameters: {code: 'return 1'}}\n  - {id: totals, type: blueprint, parameters: {path: lib/mid.yaml}}\n",
    )
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.format().splitlines() == [
        "lib/leaf.yaml:3:5: error[E0202]: unknown node type 'trasnform' for node 'bad'",
        "  hint: did you mean 'transform'?",
        "  note: included from lib/mid.yaml:3:5",
        "  note: included from orders.yaml:4:5",
    ]


def test_yaml_errors_in_included_files_carry_the_note(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "id: broken\nnodes: [\n")
    main = write(tmp_path, "main.yaml", parent(include("b", "broken.yaml")))
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.span is not None and diagnostic.span.path == "broken.yaml"
    assert diagnostic.notes == ("included from main.yaml:3:5",)


def test_type_error_on_an_edge_inside_an_included_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "child.yaml",
        """
        id: child
        interface:
          inputs: [{id: text, dataType: string}]
        nodes:
          - {id: rows, type: transform, parameters: {operation: reverse}}
        edges:
          - {source: input.text, target: rows}
        """,
    )
    main = write(tmp_path, "main.yaml", parent(include("c", "child.yaml", extra=", text: hello")))
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.code == "E0401"
    assert str(diagnostic.span) == "child.yaml:7:5"
    assert (
        diagnostic.message
        == "edge input.text->rows: input.text is string, which does not fit rows.data (array)"
    )
    assert diagnostic.notes == ("included from main.yaml:3:5",)


def test_edge_into_a_sub_blueprint_is_checked_against_its_interface(tmp_path: Path) -> None:
    write(tmp_path, "add.yaml", ADD)
    main = write(
        tmp_path,
        "main.yaml",
        parent(
            include("totals", "add.yaml"),
            "  - {source: input.name, target: totals, targetHandle: value}\n",
            "interface:\n  inputs:\n    - {id: name, dataType: string, default: x}\n",
        ),
    )
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.code == "E0401" and str(diagnostic.span) == "main.yaml:8:5"
    assert "totals.value (number)" in diagnostic.message


def test_constant_parameter_checked_against_the_interface(tmp_path: Path) -> None:
    write(tmp_path, "add.yaml", ADD)
    main = write(
        tmp_path,
        "main.yaml",
        parent(include("totals", "add.yaml", extra=", value: 1, offset: lots")),
    )
    (diagnostic,) = errors(main, opts(tmp_path))
    assert diagnostic.code == "E0209"
    assert "offset" in diagnostic.message and "number" in diagnostic.message
