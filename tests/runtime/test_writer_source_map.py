"""The source map reaches the user: a node that fails names the failing statement's YAML line.

Every test compiles a real blueprint in tmp_path, loads the generated module and runs it; the
module's ``_SOURCE_MAP`` (written by the compiler's code writer) is what ``runtime.debug`` reads.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from atomiton.compiler import CompileOptions, compile_blueprint, load_module
from atomiton.errors import NodeError
from atomiton.runtime import debug

# 23 comment lines put the node's ``code: |`` key on line 29, so its code starts on line 30.
_PAD = "".join(f"# padding {n}\n" for n in range(23))


def _compile(tmp_path: Path, name: str = "flow.yaml"):  # type: ignore[no-untyped-def]
    options = CompileOptions(root=tmp_path, search_path=(tmp_path,), store=tmp_path / "store")
    return compile_blueprint(tmp_path / name, options=options)


def _failure(tmp_path: Path, name: str = "flow.yaml") -> NodeError:
    module = load_module(_compile(tmp_path, name))
    with pytest.raises(NodeError) as caught:
        module.run()
    return caught.value


def _code_flow(node_type: str, key: str, code: str, extra: str = "") -> str:
    flow = (
        f"id: mapped\n{_PAD}nodes:\n"
        f"  - id: calc\n"
        f"    type: {node_type}\n"
        f"    parameters:\n"
        f"{extra}"
        f"      {key}: |\n" + textwrap.indent(textwrap.dedent(code), "        ")
    )
    return flow


def test_a_failing_statement_on_line_4_of_code_from_line_30_is_reported_at_33(
    tmp_path: Path,
) -> None:
    code = """\
        total = 0
        for n in [1, 2]:
            total += n
        ratio = total / 0
        return ratio
    """
    flow = _code_flow("code", "code", code)
    assert flow.splitlines()[28] == "      code: |", "the code must start on line 30"
    (tmp_path / "flow.yaml").write_text(flow)
    error = _failure(tmp_path)
    assert (error.source, error.line, error.column) == ("flow.yaml", 33, 9)
    assert (error.node_line, error.node_column) == (26, 5)
    assert error.statement == "flow.yaml:33:9"
    assert str(error).startswith("flow.yaml:33:9: node 'calc' (code) failed: ZeroDivisionError")
    assert error.__notes__ == [
        "failing statement: flow.yaml:33:9, in the code of node 'calc' at flow.yaml:26:5"
    ]


def test_a_statement_inside_a_nested_block_keeps_its_own_line(tmp_path: Path) -> None:
    code = """\

        items = [1, 0]
        out = []
        for item in items:
            if item:
                out.append(1 / item)
            else:
                out.append(
                    10 // item
                )
        return out
    """
    (tmp_path / "flow.yaml").write_text(_code_flow("code", "code", code))
    error = _failure(tmp_path)
    # Line 1 of the block is blank; ``out.append(10 // item)`` starts on line 8 of it.
    assert (error.line, error.column) == (37, 17)


def test_a_transform_function_is_placed_at_its_expression_line(tmp_path: Path) -> None:
    code = """\
        # the expression comes after three comment lines:
        # a failure is placed on the line it starts on
        #
        item / 0
    """
    extra = "      operation: map\n"
    flow = _code_flow("transform", "transformFunction", code, extra).replace(
        "nodes:\n", "variables:\n  rows: {type: array, defaultValue: [1, 2]}\nnodes:\n", 1
    )
    flow += "edges:\n  - {source: input, sourceHandle: rows, target: calc}\n"
    (tmp_path / "flow.yaml").write_text(flow)
    start = flow.splitlines().index("      transformFunction: |") + 2
    error = _failure(tmp_path)
    assert (error.line, error.column) == (start + 3, 9)
    assert error.node_type == "transform"


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[str]:
    name = f"mapped_user_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(
        "def helper(value: int) -> int:\n"
        "    return value // 0\n"
        "\n"
        "\n"
        "def compute(data: int) -> int:\n"
        "    doubled = data * 2\n"
        "    return helper(doubled)\n"
    )
    sys.path.insert(0, str(tmp_path))
    yield name
    sys.path.remove(str(tmp_path))
    sys.modules.pop(name, None)


@pytest.mark.parametrize("execution", ["inline", "thread"])
def test_a_python_node_names_its_function_line_and_its_node(
    tmp_path: Path, user_module: str, execution: str
) -> None:
    (tmp_path / "flow.yaml").write_text(
        "id: py\n"
        "variables:\n"
        "  value: {type: integer, defaultValue: 1}\n"
        "nodes:\n"
        "  - id: call\n"
        "    type: python\n"
        f"    function: {user_module}:compute\n"
        f"    parameters: {{execution: {execution}}}\n"
        "edges:\n"
        "  - {source: input, sourceHandle: value, target: call}\n"
    )
    error = _failure(tmp_path)
    # The node keeps its own YAML place; the statement is the deepest line of the user's file.
    assert (error.source, error.line, error.column) == ("flow.yaml", 5, 5)
    filename = Path(error.statement.rsplit(":", 1)[0])
    assert filename.name == f"{user_module}.py" and error.statement.endswith(":2")
    assert error.__notes__ == [
        f"failing statement: {error.statement}, in the function of node 'call' at flow.yaml:5:5"
    ]


def test_code_in_an_included_blueprint_names_both_files(tmp_path: Path) -> None:
    code = """\
        first = 1
        second = 2
        third = first + second
        return third / 0
    """
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "child.yaml").write_text(_code_flow("code", "code", code))
    (tmp_path / "flow.yaml").write_text(
        "id: parent\n"
        "nodes:\n"
        "  - id: inner\n"
        "    type: blueprint\n"
        "    parameters: {path: parts/child.yaml}\n"
    )
    error = _failure(tmp_path)
    assert (error.source, error.line, error.column) == ("parts/child.yaml", 33, 9)
    assert error.node_id == "inner.calc"
    assert error.included_from == ("flow.yaml:3:5",)
    (note,) = error.__notes__
    assert "parts/child.yaml:33:9" in note and "included from flow.yaml:3:5" in note


def test_one_line_code_is_placed_at_its_value(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        "id: plain\n"
        "nodes:\n"
        "  - id: boom\n"
        "    type: code\n"
        "    parameters: {code: 'return 1 // 0'}\n"
    )
    error = _failure(tmp_path)
    # A one-line flow value: the statement is on the node's parameter line, where the code is.
    assert (error.line, error.column) == (5, 24)  # the quote that opens the value
    assert error.statement == "flow.yaml:5:24"


def test_a_plain_traceback_and_the_cli_show_the_yaml_line(tmp_path: Path) -> None:
    code = "a = 1\nb = 0\nc = 2\nreturn a / b\n"
    (tmp_path / "flow.yaml").write_text(_code_flow("code", "code", code))
    compiled = _compile(tmp_path)
    (tmp_path / "mapped_flow.py").write_text(compiled.code)
    script = "import mapped_flow\nmapped_flow.run()\n"
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "flow.yaml:33:9: node 'calc' (code) failed" in result.stderr
    assert "failing statement: flow.yaml:33:9, in the code of node 'calc'" in result.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "atomiton", "run", "flow.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "flow.yaml:33:9: node 'calc' (code) failed" in cli.stderr
    assert "the node is at flow.yaml:26:5" in cli.stderr


def test_the_stored_map_decodes_to_the_writers_map(tmp_path: Path) -> None:
    code = "x = 1\ny = [x]\nreturn y[3]\n"
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "child.yaml").write_text(_code_flow("code", "code", code))
    (tmp_path / "flow.yaml").write_text(
        "id: parent\nnodes:\n"
        "  - {id: a, type: blueprint, parameters: {path: parts/child.yaml}}\n"
        "  - {id: b, type: code, parameters: {code: 'return 2'}}\n"
    )
    compiled = _compile(tmp_path)
    module = load_module(compiled)
    stored = debug.decode(module._SOURCE_MAP)
    assert stored is not None
    lines = len(compiled.code.splitlines())
    for line in range(1, lines + 1):
        expected = compiled_origin(compiled.line_map, line)
        place = stored.place(line)
        if expected is None:
            assert place is None
            continue
        assert place is not None
        assert (place.line, place.column, place.node) == (
            expected.span.line,
            expected.span.column,
            expected.node,
        )
        assert place.source in ("flow.yaml", "parts/child.yaml")
        assert Path(place.source).name == Path(expected.span.path).name
    assert debug.decode(("not", "a map")) is None
    assert debug.decode(((1,), "x:y")) is None


def compiled_origin(line_map, line):  # type: ignore[no-untyped-def]
    from atomiton.compiler.writer import origin_of

    return origin_of(line_map, line)
