"""Code versions: every node of a compiled module carries one, and it changes exactly when what
decides the node's behaviour changes (its code, parameters, type's implementation, a python
node's function and the helpers that reaches), never with ids, order or position."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from atomiton import codes
from atomiton.compiler import compile_blueprint, load_module
from atomiton.compiler.versions import node_versions
from atomiton.nodes.spec import NodeSpecError, node_spec
from atomiton.runtime import NodeInfo

from flowfiles import compile_data

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def versions(folder: Path, data: dict[str, Any]) -> dict[str, str]:
    """Node id -> version as the generated module's BLUEPRINT records it."""
    compiled = compile_data(folder, data)
    module = load_module(compiled)
    found = {info.id: info.version for info in module.BLUEPRINT.nodes}
    assert found == dict(node_versions(compiled.graph).by_id)
    return found


def chain(codes_by_id: dict[str, str]) -> dict[str, Any]:
    ids = list(codes_by_id)
    return {
        "id": "chain",
        "nodes": [
            {"id": node_id, "type": "code", "parameters": {"code": code}}
            for node_id, code in codes_by_id.items()
        ],
        "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:])],
    }


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {node_id for node_id in before if before[node_id] != after.get(node_id)}


def test_node_info_has_version_as_its_last_field() -> None:
    assert dataclasses.fields(NodeInfo)[-1].name == "version"
    assert NodeInfo(id="a", type="code", line=1, column=1).version == ""


def test_every_node_of_the_module_gets_a_version_loop_bodies_included(tmp_path: Path) -> None:
    data = {
        "id": "loop",
        "variables": {"words": {"type": "array", "defaultValue": ["a", "b"]}},
        "nodes": [
            {
                "id": "each",
                "type": "loop",
                "parameters": {
                    "loopType": "forEach",
                    "body": {
                        "nodes": [
                            {"id": "up", "type": "code", "parameters": {"code": "return data"}}
                        ],
                        "edges": [
                            {"source": "input", "sourceHandle": "item", "target": "up"},
                            {"source": "up", "target": "output", "targetHandle": "up"},
                        ],
                    },
                },
            }
        ],
        "edges": [
            {"source": "input", "sourceHandle": "words", "target": "each", "targetHandle": "array"}
        ],
    }
    found = versions(tmp_path, data)
    assert set(found) == {"each", "each.body.up"}
    assert all(HEX16.match(v) for v in found.values())
    body = data["nodes"][0]["parameters"]["body"]["nodes"][0]
    body["parameters"]["code"] = "return [data, data]"
    after = versions(tmp_path / "edited", data)
    # The body node changed, and with it the loop that runs it.
    assert changed(found, after) == {"each", "each.body.up"}


def test_editing_one_nodes_code_changes_exactly_its_version(tmp_path: Path) -> None:
    before = versions(tmp_path / "a", chain({"a": "return 1", "b": "return data", "c": "return 3"}))
    after = versions(
        tmp_path / "b", chain({"a": "return 1", "b": "return data + 1", "c": "return 3"})
    )
    assert changed(before, after) == {"b"}  # not its downstream c: c keys on b's value


def test_a_comment_in_node_code_is_not_a_change(tmp_path: Path) -> None:
    before = versions(tmp_path / "a", chain({"a": "return 1"}))
    after = versions(tmp_path / "b", chain({"a": "# the answer\nreturn 1  # one"}))
    assert before == after


def test_parameters_are_part_of_the_version(tmp_path: Path) -> None:
    def flow(operation: str) -> dict[str, Any]:
        return {
            "id": "p",
            "nodes": [
                {"id": "src", "type": "code", "parameters": {"code": "return [3, 1, 2]"}},
                {
                    "id": "t",
                    "type": "transform",
                    "parameters": {"operation": operation, "transformFunction": "item"},
                },
            ],
            "edges": [{"source": "src", "target": "t"}],
        }

    assert changed(
        versions(tmp_path / "a", flow("map")), versions(tmp_path / "b", flow("filter"))
    ) == {"t"}


def _child(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "child.yaml").write_text(
        "id: child\n"
        "interface:\n"
        "  inputs:\n"
        "    - {id: greeting, dataType: string, default: hello}\n"
        "  outputs:\n"
        "    - {id: out, dataType: any}\n"
        "nodes:\n"
        "  - id: say\n"
        "    type: edit-fields\n"
        "    parameters: {values: {text: '{{ inputs.greeting }} there'}}\n"
        "edges:\n"
        "  - {source: say, target: output, targetHandle: out}\n"
    )


def test_a_constant_folded_into_a_sub_blueprint_changes_its_nodes(tmp_path: Path) -> None:
    def flow(greeting: str) -> dict[str, Any]:
        return {
            "id": "parent",
            "nodes": [
                {
                    "id": "sub",
                    "type": "blueprint",
                    "parameters": {"path": "child.yaml", "greeting": greeting},
                },
                {"id": "other", "type": "code", "parameters": {"code": "return 1"}},
            ],
        }

    _child(tmp_path / "a")
    _child(tmp_path / "b")
    before = versions(tmp_path / "a", flow("hi"))
    after = versions(tmp_path / "b", flow("good day"))
    # The template reads the sub-blueprint's input, a constant once inlined: the node's version.
    assert changed(before, after) == {"sub.say"}


def test_a_flow_inputs_default_is_a_value_not_a_version(tmp_path: Path) -> None:
    def flow(default: str) -> dict[str, Any]:
        return {
            "id": "f",
            "variables": {"name": {"type": "string", "defaultValue": default}},
            "nodes": [
                {
                    "id": "say",
                    "type": "edit-fields",
                    "parameters": {"values": {"t": "{{ inputs.name }}!"}},
                }
            ],
        }

    # The value an input brings is the run's (a cache keys on it); reading it is the version's.
    assert versions(tmp_path / "a", flow("Ada")) == versions(tmp_path / "b", flow("Grace"))


def test_the_node_types_declared_version_is_part_of_it(tmp_path: Path) -> None:
    compiled = compile_data(tmp_path, chain({"a": "return 1"}))
    node = compiled.graph.nodes[0]
    assert node.spec is not None and node.spec.version == 1
    bumped = dataclasses.replace(node, spec=dataclasses.replace(node.spec, version=2))
    graph = dataclasses.replace(compiled.graph, nodes=(bumped,))
    assert node_versions(graph).by_id["a"] != node_versions(compiled.graph).by_id["a"]


def test_node_spec_refuses_a_version_that_is_not_a_positive_integer() -> None:
    from atomiton.nodes import code

    for bad in (0, -1, True, "2"):
        with pytest.raises(NodeSpecError, match="version"):
            node_spec(code.run, description="x", version=bad)  # type: ignore[arg-type]
    assert node_spec(code.run, description="x", version=3).version == 3


# -- python nodes ---------------------------------------------------------------------------------


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    package = root / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    for file, text in files.items():
        (package / file).write_text(text)


def _python_flow(function: str) -> dict[str, Any]:
    return {
        "id": "py",
        "variables": {"text": {"type": "string", "defaultValue": " a "}},
        "nodes": [
            {
                "id": "clean",
                "type": "python",
                "function": function,
                "inputPorts": [{"id": "text", "dataType": "string"}],
                "outputPorts": [{"id": "result", "dataType": "string"}],
            },
            {"id": "after", "type": "code", "parameters": {"code": "return data"}},
        ],
        "edges": [
            {"source": "input", "sourceHandle": "text", "target": "clean", "targetHandle": "text"},
            {"source": "clean", "target": "after"},
        ],
    }


HELPERS = (
    "def strip_all(value):\n"
    "    return _inner(value)\n"
    "\n"
    "def _inner(value):\n"
    "    return value.strip()\n"
    "\n"
    "def unrelated():\n"
    "    return 42\n"
)


@pytest.mark.parametrize(
    "core",
    [
        "from .helpers import strip_all\n\ndef clean(text):\n    return strip_all(text)\n",
        "from . import helpers\n\ndef clean(text):\n    return helpers.strip_all(text)\n",
        "import {pkg}.helpers\n\ndef clean(text):\n    return {pkg}.helpers.strip_all(text)\n",
    ],
    ids=["from-import", "module-attribute", "dotted-import"],
)
def test_an_edited_helper_changes_the_python_nodes_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, core: str, request: pytest.FixtureRequest
) -> None:
    pkg = f"vpkg_{request.node.callspec.id.replace('-', '_')}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # loading the module imports the function
    _package(tmp_path, pkg, {"core.py": core.format(pkg=pkg), "helpers.py": HELPERS})
    flow = _python_flow(f"{pkg}.core:clean")
    first = compile_data(tmp_path / "flows", flow)
    before = dict(node_versions(first.graph).by_id)
    # The module files read are part of the compilation's files (a cache of it sees edits).
    assert (tmp_path / pkg / "helpers.py").resolve() in first.files

    helpers = tmp_path / pkg / "helpers.py"
    helpers.write_text(HELPERS.replace("return 42", "return 43 # unrelated edit"))
    assert versions(tmp_path / "flows", flow) == before

    helpers.write_text(HELPERS.replace("value.strip()", "value.strip().lower()"))
    after = versions(tmp_path / "flows", flow)
    assert changed(before, after) == {"clean"}


def test_an_unreadable_function_source_is_w0270_at_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # loading the module imports the function
    _package(tmp_path, "vpkg_lazy", {"lazy.py": "def __getattr__(name):\n    return len\n"})
    compiled = compile_data(tmp_path / "flows", _python_flow("vpkg_lazy.lazy:measure"))
    [warning] = [w for w in compiled.warnings if w.code == codes.FUNCTION_SOURCE_UNREAD]
    # At the function's name, as the blueprint writes it.
    assert warning.span is not None and (warning.span.line, warning.span.column) == (9, 13)
    line = (tmp_path / "flows" / "flow.yaml").read_text().splitlines()[8]
    assert line[12:].startswith("vpkg_lazy.lazy:measure")
    assert (
        "vpkg_lazy.lazy:measure" in warning.message
        and "only the function's name" in warning.message
    )
    # No source: a module without a .py file.
    compiled = compile_data(tmp_path / "flows2", _python_flow("math:floor"))
    assert [w.code for w in compiled.warnings] == [codes.FUNCTION_SOURCE_UNREAD]
    assert "no readable .py file" in compiled.warnings[0].message
    assert HEX16.match(node_versions(compiled.graph).by_id["clean"])


def test_a_re_exported_function_is_read_where_it_is_defined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # loading the module imports the function
    _package(tmp_path, "vpkg_api", {"api.py": "from vpkg_impl.work import clean\n"})
    _package(tmp_path, "vpkg_impl", {"work.py": "def clean(text):\n    return text.strip()\n"})
    flow = _python_flow("vpkg_api.api:clean")
    before = versions(tmp_path / "flows", flow)
    (tmp_path / "vpkg_impl" / "work.py").write_text("def clean(text):\n    return text\n")
    after = versions(tmp_path / "flows", flow)
    assert changed(before, after) == {"clean"}
    assert not compile_data(tmp_path / "flows", flow).warnings


def test_compiling_twice_gives_the_same_versions(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("id: f\nnodes:\n  - {id: a, type: code, parameters: {code: 'return 1'}}\n")
    one = compile_blueprint(path)
    two = compile_blueprint(path)
    assert node_versions(one.graph) == node_versions(two.graph)
    assert one.code == two.code


def test_changes_since_names_the_changed_node_each_downstream_node_comes_from(
    tmp_path: Path,
) -> None:
    from atomiton.compiler.versions import changes_since

    before = versions(
        tmp_path / "a", chain({"a": "return 1", "b": "return data", "c": "return data"})
    )
    compiled = compile_data(
        tmp_path / "b", chain({"a": "return 2", "b": "return data", "c": "return data"})
    )
    now = node_versions(compiled.graph).by_id
    recorded: dict[str, str | None] = {**before}
    found = [(c.node, c.kind, c.reason) for c in changes_since(compiled.graph, now, recorded)]
    assert found == [
        ("a", "changed", f"version {before['a']} -> {now['a']}"),
        ("b", "downstream", "downstream of 'a'"),
        ("c", "downstream", "downstream of 'a' through 'b'"),
    ]
    assert changes_since(compiled.graph, now, {**now}) == []
    unknown = changes_since(compiled.graph, now, {**now, "b": None})
    assert [(c.node, c.kind) for c in unknown] == [("b", "unknown"), ("c", "downstream")]
