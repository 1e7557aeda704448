"""A blueprint ``compile`` accepts gives a module that imports and runs, and no run shares a
value built from YAML with another.

Covers: names that clash with pydantic or the module (renamed, YAML name kept as the alias),
long ids that make the layout wrap, values nested past Python's parser limits, the whole-module
``compile()`` backstop, and mutable parameters (``reduceInitial: []``) under repeated and
concurrent runs.
"""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from atomiton.compiler import CompileOptions, Limits, compile_blueprint, load_module
from atomiton.compiler.verify import MAX_VALUE_DEPTH, check_module
from atomiton.compiler.ir import Graph
from atomiton.compiler.naming import MODEL_RESERVED, field_name, module_name_for
from atomiton.compiler.typecheck import check_types
from atomiton.compiler.writer import Origin
from atomiton.diagnostics import Span
from atomiton.errors import BlueprintError

DEFAULTS = {
    "integer": "1",
    "string": "'x'",
    "number": "1.5",
    "boolean": "true",
    "any": "1",
    "object": "{a: 1}",
    "array": "[1]",
}
PYTHON_VALUES: dict[str, Any] = {
    "integer": 1,
    "string": "x",
    "number": 1.5,
    "boolean": True,
    "any": 1,
    "object": {"a": 1},
    "array": [1],
}
# Names that broke the import (pydantic's members, the annotations' own names, the module's),
# or made pydantic warn on import.
CLASHING = [
    "Config",
    "int",
    "str",
    "float",
    "bool",
    "dict",
    "list",
    "json",
    "copy",
    "schema",
    "dict_",
    "model_config",
    "model_fields",
    "model_dump_extra",
    "model_validate_json",
    "validate",
    "construct",
    "Inputs",
    "Outputs",
    "BLUEPRINT",
    "Field",
    "BaseModel",
    "Any",
]


def compile_text(
    tmp_path: Path, text: str, name: str = "flow.yaml", *, limits: Limits = Limits()
) -> Any:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    options = CompileOptions(root=tmp_path, search_path=(), limits=limits)
    return compile_blueprint(path, options=options)


# The YAML reader stops at 64 levels by default (E0008); these tests raise it to reach E0701.
DEEP_YAML = Limits(max_depth=3 * MAX_VALUE_DEPTH)


def echo_blueprint(
    name: str, data_type: str, *, description: str = "", output: str | None = None
) -> str:
    """Input ``name`` fed by code to an output of the same name (or ``output``)."""
    described = f", description: {description}" if description else ""
    default = DEFAULTS[data_type]
    output = output or name
    return f"""\
        id: echo
        interface:
          inputs:
            - {{id: {name}, dataType: {data_type}, default: {default}{described}}}
          outputs:
            - {{id: {output}, dataType: {data_type}}}
        nodes:
          - id: c
            type: code
            parameters:
              code: "return inputs.{name}"
        edges:
          - {{source: c, target: output, targetHandle: {output}}}
        """


@pytest.mark.parametrize("data_type", sorted(DEFAULTS))
def test_clashing_interface_names_are_renamed_and_keep_their_yaml_name(
    tmp_path: Path, data_type: str, recwarn: pytest.WarningsRecorder
) -> None:
    for name in CLASHING:
        compiled = compile_text(tmp_path, echo_blueprint(name, data_type), f"{data_type}.yaml")
        module = load_module(compiled)
        value = PYTHON_VALUES[data_type]
        field = field_name(name)
        # The YAML name still works as the input's name; the Python name is a renamed field.
        assert getattr(module.run(), field) == value, name
        given = module.Inputs.model_validate({name: value})
        assert getattr(module.run(given), field) == value, name
        assert module.run().model_dump(by_alias=True) == {name: value}, name
    assert [str(w.message) for w in recwarn.list] == []


def test_field_names() -> None:
    assert field_name("Config") == "config"
    assert field_name("int") == "int_"
    assert field_name("json") == "json_"
    assert field_name("model_dump_x") == "field_model_dump_x"
    assert field_name("outDir") == "outDir"  # a safe identifier stays as written
    for name in MODEL_RESERVED:
        renamed = field_name(name)
        assert renamed not in MODEL_RESERVED and renamed.isidentifier(), name


NODES_NAMED_AFTER_TYPES = """\
id: nodes
interface:
  inputs:
    - {id: text, dataType: string, default: "  a b c"}
  outputs:
    - {id: lines, dataType: "array<string>"}
nodes:
  - id: str
    type: python
    function: "textwrap:dedent"
    inputPorts: [{id: text, dataType: string}]
    outputPorts: [{id: result, dataType: string}]
  - id: list
    type: python
    function: "textwrap:wrap"
    inputPorts: [{id: text, dataType: string}]
    outputPorts: [{id: result, dataType: "array<string>"}]
  - id: int
    type: code
    parameters: {code: "return len(data)"}
edges:
  - {source: input.text, target: str, targetHandle: text}
  - {source: str, target: list, targetHandle: text}
  - {source: list, target: int}
  - {source: list, target: output, targetHandle: lines}
"""


@pytest.mark.slow
def test_clashing_names_pass_mypy(tmp_path: Path) -> None:
    inputs = "\n".join(f"    - {{id: {name}, dataType: integer, default: 1}}" for name in CLASHING)
    reads = " + ".join(f"inputs.{name}" for name in CLASHING)
    text = f"""\
id: clashes
interface:
  inputs:
{inputs}
  outputs:
    - {{id: Config, dataType: integer}}
    - {{id: json, dataType: integer}}
nodes:
  - id: c
    type: code
    parameters:
      code: "return {reads}"
edges:
  - {{source: c, target: output, targetHandle: Config}}
  - {{source: c, target: output, targetHandle: json}}
"""
    (tmp_path / "clashes.yaml").write_text(text)
    compiled = compile_blueprint(
        tmp_path / "clashes.yaml", options=CompileOptions(root=tmp_path, search_path=())
    )
    # A renamed output that mypy finds wrong is still reported at the output's YAML line.
    wrong = """\
id: wrong
interface:
  outputs:
    - {id: Config, dataType: string}
nodes:
  - id: e
    type: edit-fields
    parameters: {values: {a: 1}}
edges:
  - {source: e, target: output, targetHandle: Config}
"""
    (tmp_path / "wrong.yaml").write_text(wrong)
    unchecked = CompileOptions(root=tmp_path, search_path=(), check_edge_types=False)
    mistyped = compile_blueprint(tmp_path / "wrong.yaml", options=unchecked)
    # Nodes named after the types their results are annotated with (``str: str`` would hide
    # ``str`` from the annotations after it in the state class).
    (tmp_path / "nodes.yaml").write_text(NODES_NAMED_AFTER_TYPES)
    nodes = compile_blueprint(
        tmp_path / "nodes.yaml", options=CompileOptions(root=tmp_path, search_path=())
    )
    found = check_types([compiled, mistyped, nodes])
    assert [(d.code, d.span) for d in found] == [("E0601", Span("wrong.yaml", 4, 7))]
    assert 'Argument "config" to "Outputs"' in found[0].message
    outputs = load_module(compiled).run()
    assert outputs.config == outputs.json_ == len(CLASHING)
    assert load_module(nodes).run().lines == ["a b c"]


@pytest.mark.parametrize("length", [40, 47, 60, 71, 75, 88, 100, 130])
def test_long_ids_that_wrap_keep_their_field_import(tmp_path: Path, length: int) -> None:
    name = "a" * length
    for data_type in ("integer", "array"):
        compiled = compile_text(tmp_path, echo_blueprint(name, data_type, description="x"))
        assert "Field(" in compiled.code
        assert getattr(load_module(compiled).run(), name) == PYTHON_VALUES[data_type]
    compiled = compile_text(tmp_path, echo_blueprint("a", "integer", output=f"out-{name}"))
    assert load_module(compiled).run().model_dump(by_alias=True) == {f"out-{name}": 1}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_values_nested_past_the_limit_are_an_error_at_their_position(tmp_path: Path) -> None:
    deep = nested(MAX_VALUE_DEPTH + 1)
    text = f"""\
        id: deep
        interface:
          inputs:
            - {{id: ok, dataType: any, default: {nested(MAX_VALUE_DEPTH)}}}
            - {{id: v, dataType: any, default: {deep}}}
          outputs:
            - {{id: out, dataType: any}}
        nodes:
          - id: c
            type: edit-fields
            parameters:
              values: {{x: {deep}}}
        edges:
          - {{source: c, target: output, targetHandle: out}}
        """
    with pytest.raises(BlueprintError) as raised:
        compile_text(tmp_path, text, limits=DEEP_YAML)
    found = [(d.code, d.span.line if d.span else 0) for d in raised.value.diagnostics]
    assert found == [("E0701", 5), ("E0701", 9)]  # the input, the node
    assert "nested 101 levels deep" in raised.value.diagnostics[0].message


def test_values_at_the_limit_compile_import_and_run(tmp_path: Path) -> None:
    text = f"""\
        id: deep
        interface:
          inputs:
            - {{id: v, dataType: any, default: {nested(MAX_VALUE_DEPTH)}}}
          outputs:
            - {{id: out, dataType: any}}
        nodes:
          - id: c
            type: edit-fields
            parameters:
              values: {{x: {nested(MAX_VALUE_DEPTH - 1)}}}
        edges:
          - {{source: c, target: output, targetHandle: out}}
        """
    outputs = load_module(compile_text(tmp_path, text, limits=DEEP_YAML)).run()
    depth, value = 0, outputs.out["x"]
    while value:
        depth, value = depth + 1, value[0]
    assert depth == MAX_VALUE_DEPTH - 2


def test_a_module_that_does_not_compile_is_reported_at_its_node() -> None:
    graph = Graph("g", "", "", "", "flows/g.yaml", "", {}, (), (), ())
    marker = "# broken: code (flows/g.yaml:7:5)"
    code = f"x = 1\n\n\ndef _task_0() -> None:\n    {marker}\n    break\n"
    with pytest.raises(BlueprintError) as raised:
        check_module(code, ((5, Origin(Span("flows/g.yaml", 7, 5))),), graph)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "E0702"
    assert diagnostic.span == Span("flows/g.yaml", 7, 5)
    assert "'break' outside loop (generated line 6)" in diagnostic.message
    # A line before any node falls back to the blueprint itself.
    with pytest.raises(BlueprintError) as raised:
        check_module("def (:\n", (), graph)
    assert raised.value.diagnostics[0].span == Span("flows/g.yaml", 1, 1)


def test_a_name_read_on_import_but_never_defined_is_reported() -> None:
    # The layout once wrapped a long field so that the template no longer imported ``Field``.
    graph = Graph("g", "", "", "", "flows/g.yaml", "", {}, (), (), ())
    code = (
        "from pydantic import BaseModel\n\n\n"
        "class Inputs(BaseModel):\n"
        "    x: int = Field(default=1)\n\n\n"
        "def run() -> object:\n"
        "    return undefined_in_a_function_is_for_mypy\n"
    )
    with pytest.raises(BlueprintError) as raised:
        check_module(code, (), graph)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "E0702"
    assert "'Field' read on import but never defined" in diagnostic.message
    check_module(code.replace("import BaseModel", "import BaseModel, Field"), {}, graph)


def test_library_named_blueprints_get_a_suffix() -> None:
    assert module_name_for(Path("flows/pydantic.yaml")) == "pydantic_flow"
    assert module_name_for(Path("typing.yaml")) == "typing_flow"
    assert module_name_for(Path("json.flow.yaml")) == "json_flow"
    assert module_name_for(Path("asyncio.yml")) == "asyncio_flow"
    assert module_name_for(Path("atomiton.yaml")) == "atomiton_flow"
    assert module_name_for(Path("orders.yaml")) == "orders"
    # The same on every supported Python: modules some versions lack are listed too.
    for name in ("cgi", "distutils", "compression", "annotationlib", "PIL"):
        assert module_name_for(Path(f"{name}.yaml")) == f"{name.lower()}_flow"


# -- nothing built from YAML is shared between runs -----------------------------------------------

MUTATING = """\
id: mutating
interface:
  inputs:
    - {id: items, dataType: array}
    - {id: tags, dataType: array, default: [a]}
    - {id: options, dataType: object, default: {seen: []}}
  outputs:
    - {id: reduced, dataType: any}
    - {id: fields, dataType: any}
    - {id: touched, dataType: any}
nodes:
  - id: collect
    type: transform
    parameters:
      operation: reduce
      reduceInitial: []
      transformFunction: "(acc.append(item), acc)[1]"
  - id: constant
    type: edit-fields
    parameters:
      values: {bag: [start], nested: {deep: [0]}}
  - id: grow
    type: code
    parameters:
      code: |
        data["bag"].append(len(data["bag"]))
        data["nested"]["deep"].append(1)
        return data
  - id: touch
    type: code
    parameters:
      code: |
        inputs.tags.append("x")
        inputs.options["seen"].append(1)
        return [list(inputs.tags), list(inputs.options["seen"])]
edges:
  - {source: input.items, target: collect}
  - {source: collect, target: output, targetHandle: reduced}
  - {source: constant, target: grow}
  - {source: grow, target: output, targetHandle: fields}
  - {source: touch, target: output, targetHandle: touched}
"""


def expected(items: list[int]) -> dict[str, Any]:
    return {
        "reduced": items,
        "fields": {"bag": ["start", 1], "nested": {"deep": [0, 1]}},
        "touched": [["a", "x"], [1]],
    }


def test_mutable_parameters_are_fresh_for_every_run(tmp_path: Path) -> None:
    module = load_module(compile_text(tmp_path, MUTATING))
    for run in range(5):
        items = [run, run + 1]
        assert module.run(module.Inputs(items=items)).model_dump() == expected(items)


def test_two_hundred_concurrent_runs_share_nothing(tmp_path: Path) -> None:
    module = load_module(compile_text(tmp_path, MUTATING))
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(200)

    def one(index: int) -> None:
        try:
            start.wait()
            outputs = module.run(module.Inputs(items=list(range(index % 7))))
            results[index] = outputs.model_dump()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {i: expected(list(range(i % 7))) for i in range(200)}


def code_blueprint(body: str) -> str:
    indented = textwrap.indent(body, " " * 8)
    return f"""\
id: code
interface:
  inputs:
    - {{id: rows, dataType: array, default: [1, 2]}}
  outputs:
    - {{id: out, dataType: any}}
nodes:
  - id: c
    type: code
    parameters:
      code: |
{indented}
edges:
  - {{source: input.rows, target: c}}
  - {{source: c, target: output, targetHandle: out}}
"""


def test_code_nested_past_the_limit_is_an_error_at_the_code(tmp_path: Path) -> None:
    # Python parses 210 nested conditional expressions, but black's parentheses around each one
    # would take the module past the parser's 200 nested brackets: the code-depth limit (E0306)
    # refuses it first, at the code.
    body = "return " + "1 if data else " * 210 + "2"
    with pytest.raises(BlueprintError) as raised:
        compile_text(tmp_path, code_blueprint(body))
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E0306", Span("flow.yaml", 11, 7))
    # Under the limit it compiles, imports and runs.
    body = "return " + "1 if data else " * 95 + "2"
    assert load_module(compile_text(tmp_path, code_blueprint(body))).run().out == 1


def test_code_with_docstrings_and_nested_functions_still_compiles(tmp_path: Path) -> None:
    body = '''\
"""Sum the rows.

Written over several lines.
"""
def double(x):
    """Twice x,
    on two lines."""
    total = 0
    for _ in range(2):
        total += x
    return total
return [double(row) for row in data]'''
    assert load_module(compile_text(tmp_path, code_blueprint(body))).run().out == [2, 4]


def test_generated_modules_import_only_by_absolute_name() -> None:
    # A relative or implicit import could pick up a sibling module of the output folder.
    golden = Path(__file__).parent.parent / "golden"
    modules = sorted(golden.glob("*/expected.py"))
    assert modules
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert imports, module
        assert all(isinstance(n, ast.Import) or n.level == 0 for n in imports), module
        roots = {
            (n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) or "" for n in imports
        }
        assert {root.split(".")[0] for root in roots} <= {
            "__future__",
            "typing",
            "pydantic",
            "atomiton",
            "textwrap",  # the python_node case's own function
        }, module


NAME_POOL = [
    *CLASHING,
    *keyword.kwlist,
    *keyword.softkwlist,
    *(name for name in dir(builtins) if not name.startswith("__")),
    *(name for name in dir(BaseModel) if not name.startswith("__")),
    "inputs",
    "ex",
    "s",
    "exc",
    "item",
    "data",
    "run",
    "arun",
]
names = st.one_of(
    st.sampled_from(NAME_POOL),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,40}", fullmatch=True),
)


@settings(max_examples=40, deadline=None)
@given(
    inputs=st.lists(names, min_size=1, max_size=4, unique=True),
    node=names,
    output=names,
)
def test_any_interface_and_node_names_give_a_module_that_imports_and_runs(
    tmp_path_factory: pytest.TempPathFactory, inputs: list[str], node: str, output: str
) -> None:
    folder = tmp_path_factory.mktemp("names")
    declared = "\n".join(
        f"    - {{id: {json.dumps(name)}, dataType: integer, default: {i}}}"
        for i, name in enumerate(inputs)
    )
    text = f"""\
id: names
interface:
  inputs:
{declared}
  outputs:
    - {{id: {json.dumps(output)}, dataType: integer}}
nodes:
  - id: {json.dumps(node)}
    type: code
    parameters:
      code: "return 7"
edges:
  - {{source: {json.dumps(node)}, target: output, targetHandle: {json.dumps(output)}}}
"""
    (folder / "names.yaml").write_text(text)
    try:
        compiled = compile_blueprint(
            folder / "names.yaml", options=CompileOptions(root=folder, search_path=())
        )
    except BlueprintError as exc:
        # Only ids the blueprint format itself refuses (E0211: reserved or malformed ids).
        assert {d.code for d in exc.diagnostics} <= {"E0211", "E0102"}, exc
        event("refused by the format")
        return
    event("compiled")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = load_module(compiled)  # pydantic warns on a field that shadows its own
    assert [str(w.message) for w in caught] == []
    given_inputs = {name: 10 + i for i, name in enumerate(inputs)}
    assert module.run(module.Inputs.model_validate(given_inputs)).model_dump(by_alias=True) == {
        output: 7
    }
