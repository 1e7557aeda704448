"""What makes compiling fast, pinned as behaviour (benchmarks/compile_speed.py has the timings).

The emitter lays out plain node code and calls without black; its shortcuts give what the long
way gives; the module is compiled once, its import-time names read from that bytecode; node code
is compiled on its own only when the module's compile cannot judge it; and the collector is not
left to walk everything compiling kept alive.
"""

from __future__ import annotations

import builtins
import gc
import re
import symtable
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from black.strings import normalize_string_quotes
from hypothesis import given, settings
from hypothesis import strategies as st

from atomiton.compiler import CompileOptions, compile_blueprint, layout, verify
from atomiton.compiler.expressions import ExpressionError, normalize_body

GOLDENS = sorted(Path(__file__).parent.parent.joinpath("golden").glob("*/expected.py"))


def _flat_flow(folder: Path, size: int, code: str = "return (data or 0) + {index}") -> Path:
    nodes = "".join(
        f'  - {{id: n{i}, type: code, parameters: {{code: "{code.format(index=i)}"}}}}\n'
        for i in range(size)
    )
    edges = "".join(f"  - {{source: n{i - 1}, target: n{i}}}\n" for i in range(1, size))
    path = folder / "flat.yaml"
    path.write_text(f"id: flat\nnodes:\n{nodes}edges:\n{edges}")
    return path


# -- no black, no second compile on the hot path ---------------------------------------------------


def test_a_thousand_plain_nodes_are_laid_out_without_black(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = layout.black.format_str

    def counted(text: str, *, mode: object) -> str:
        calls.append(text)
        return real(text, mode=mode)  # type: ignore[arg-type]

    monkeypatch.setattr(layout.black, "format_str", counted)
    layout._black.cache_clear()
    layout._black_element.cache_clear()
    compiled = compile_blueprint(_flat_flow(tmp_path, 1000), options=CompileOptions(root=tmp_path))
    # Not even the module's docstring, nor the long ``ex.run_tasks(...)`` naming every output.
    assert calls == []
    assert compiled.code.count("def _n") == 1000


def test_node_code_is_compiled_alone_only_when_it_declares_nonlocal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    real = verify.compile_problem

    def counted(text: str) -> tuple[str, str] | None:
        compiled.append(text)
        return real(text)

    monkeypatch.setattr(verify, "compile_problem", counted)
    options = CompileOptions(root=tmp_path)
    compile_blueprint(_flat_flow(tmp_path, 50), options=options)
    assert compiled == []  # the module's own compile judged all 50
    # ``nonlocal`` binds to the task function around the code in the module: judged alone.
    flow = _flat_flow(tmp_path, 3, "x = 1\\n\\ndef f():\\n    nonlocal x\\nreturn {index}")
    compile_blueprint(flow, options=options)
    assert len(compiled) == 1 and compiled[0].count("nonlocal x") == 3


# -- import-time names, from the bytecode ----------------------------------------------------------


def _undefined_by_symtable(code: str) -> list[str]:
    """The names check as it was done by a second parse (``symtable``), for comparison."""
    table = symtable.symtable(code, "<generated module>", "exec")
    defined = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    defined.update(dir(builtins))
    missing = set()
    for scope in [table, *(t for t in table.get_children() if t.get_type() == "class")]:
        for symbol in scope.get_symbols():
            local = scope is not table and (symbol.is_assigned() or symbol.is_imported())
            if symbol.is_referenced() and not local and symbol.get_name() not in defined:
                missing.add(symbol.get_name())
    return sorted(missing)


def _with_a_name_lost(code: str) -> Iterator[str]:
    """``code`` with one import, top-level assignment or class removed at a time."""
    for name in ["Field", "BaseModel", "ConfigDict", "_rt", "Final", "Any", "_TASKS", "Inputs"]:
        lost = re.sub(rf"(import [^\n]*)\b{name}\b", r"\1_lost_", code, count=1)
        lost = re.sub(rf"^(class )?{name}\b", r"\1_lost_", lost, count=1, flags=re.M)
        if lost != code:
            yield lost


def test_names_read_on_import_are_found_in_the_bytecode_as_symtable_finds_them() -> None:
    assert GOLDENS
    missing_found = 0
    for golden in GOLDENS:
        code = golden.read_text()
        assert verify.undefined_at_import(code) == [] == _undefined_by_symtable(code)
        for lost in _with_a_name_lost(code):
            expected = _undefined_by_symtable(lost)
            assert verify.undefined_at_import(compile(lost, "m", "exec")) == expected
            missing_found += bool(expected)
    assert missing_found > len(GOLDENS)


def test_names_read_on_import_in_class_bodies_and_past_256_names() -> None:
    many = "".join(f"v{i} = {i}\n" for i in range(300))  # arguments past one byte
    code = (
        f"{many}from typing import Any\n"
        "class A:\n"
        "    a: Any = 1\n"  # annotations land in ``__annotations__``
        "    b = a + v299\n"
        "    class B:\n"
        "        c = undefined_in_nested_class\n"
        "    def f(self):\n"
        "        return undefined_in_a_function\n"
        "print(v0, undefined_at_top, lambda: undefined_in_a_lambda)\n"
    )
    assert verify.undefined_at_import(code) == ["undefined_at_top", "undefined_in_nested_class"]
    assert verify.undefined_at_import("from os.path import *\nprint(join)\n") == []


# -- the emitter's shortcuts give what the long way gives -----------------------------------------

names = st.sampled_from(["data", "x", "item", "match", "x1e", "None", "True", "n2"])
atoms = st.one_of(
    names,
    st.integers(-5, 10**6).map(str),
    st.sampled_from(["1.5", "1e+20", "1e309", "2j", "...", "'s'", "b'x'", "f'{x}'"]),
)
expressions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "*", "**", "and", "<", "if"]), inner).map(
            lambda t: (
                f"({t[0]} {t[1]} {t[2]} else 0)" if t[1] == "if" else f"({t[0]} {t[1]} {t[2]})"
            )
        ),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}:]"),
        st.tuples(inner, names).map(lambda t: f"({t[0]}).{t[1]}"),
        st.lists(inner, max_size=3).map(lambda items: f"f({', '.join(items)})"),
        st.tuples(names, inner).map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        st.tuples(names, inner).map(lambda t: f"(lambda {t[0]}: {t[1]})"),
        st.tuples(names, inner).map(lambda t: f"[{t[0]} for {t[0]} in {t[1]}]"),
        st.tuples(names, inner).map(lambda t: f"({t[0]} := {t[1]})"),
    ),
    max_leaves=6,
)
statements = st.one_of(
    expressions.map(lambda e: f"return {e}"),
    st.tuples(names, expressions).map(lambda t: f"{t[0]} = {t[1]}\nreturn {t[0]}"),
    st.tuples(expressions, expressions).map(lambda t: f"if {t[0]}:\n    return {t[1]}"),
    expressions.map(lambda e: f"import math\nreturn {e}"),
    expressions.map(lambda e: f"for match in {e}:\n    pass"),
)


@settings(max_examples=300, deadline=None)
@given(source=statements, width=st.sampled_from([84, 40]))
def test_plain_code_stands_as_the_parsed_layout_would_leave_it(source: str, width: int) -> None:
    try:
        body = normalize_body(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "'int' object is not subscriptable": still code
            compile(body, "<body>", "exec")
    except (ExpressionError, SyntaxError, ValueError):
        return
    indented = "\n".join("    " + line for line in body.split("\n"))
    statement = f"def _n_code(data: Any) -> Any:\n{indented}"
    assert layout._own_layout(statement, width) == layout._parsed_layout(statement, width)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab '\"\\\n\t\x00é字"), max_size=12) | st.text())
def test_string_literals_are_quoted_as_black_quotes_them(text: str) -> None:
    assert layout.string(text) == normalize_string_quotes(repr(text))


def _code_chars_one_by_one(text: str) -> Iterator[tuple[int, str]]:
    """Brackets and commas outside string literals, found character by character."""
    quote, index = "", 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif text.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, index) else char
            index += len(quote) - 1
        elif char in "()[]{},":
            yield index, char
        index += 1


@settings(max_examples=600, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("'\"\\()[]{},a\n"), max_size=30))
def test_brackets_outside_strings_are_found_as_one_by_one(text: str) -> None:
    assert list(layout._code_chars(text)) == list(_code_chars_one_by_one(text))


# -- the collector ---------------------------------------------------------------------------------


def test_what_compiling_keeps_alive_is_not_left_for_the_next_young_collection(
    tmp_path: Path,
) -> None:
    flow = _flat_flow(tmp_path, 200)
    options = CompileOptions(root=tmp_path)
    was = gc.isenabled()
    try:
        gc.enable()
        gc.collect()
        compiled = compile_blueprint(flow, options=options)
        # Everything compiling allocated and kept is out of the youngest generation, which
        # would otherwise hold it all (tens of thousands of objects) for a collection to walk.
        assert gc.get_count()[0] < gc.get_threshold()[0]
        assert gc.isenabled() and compiled.graph.nodes
        # Objects the program froze itself stay frozen.
        frozen = [[index] for index in range(100)]
        gc.freeze()
        count = gc.get_freeze_count()
        compile_blueprint(flow, options=options)
        assert gc.get_freeze_count() == count and frozen
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


# -- tuples too long for their line (the source map's file table) ----------------------------------

tuple_items = st.one_of(
    st.text(alphabet=st.sampled_from("ab_/.:é字 '\""), max_size=40).map(layout.string),
    st.integers(-5, 10**6).map(str),
)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(tuple_items, min_size=2, max_size=6), indent=st.sampled_from([4, 8, 12]))
def test_a_long_tuple_element_is_exploded_as_black_explodes_it(
    items: list[str], indent: int
) -> None:
    expression = f"({', '.join(items)})"
    by_black = layout._reindent(
        layout._black_element(expression, layout.LINE_LENGTH - indent), indent
    )
    assert layout.element(expression, indent) == by_black


def test_a_deeply_included_flow_is_laid_out_without_black(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file of the source map's table names where it was included from: long tuples."""
    calls: list[str] = []
    real = layout.black.format_str

    def counted(text: str, *, mode: object) -> str:
        calls.append(text)
        return real(text, mode=mode)  # type: ignore[arg-type]

    interface = (
        "interface:\n  inputs: [{id: value, dataType: any, default: 0}]\n"
        "  outputs: [{id: result, dataType: any}]\n"
    )
    child = "leaf_with_a_rather_long_file_name_for_the_table.yaml"
    for level in range(4):
        if level == 0:  # two nodes: one alone is written ``nodes=(...,)``, which black lays out
            nodes = "".join(
                f"  - {{id: {n}, type: code, parameters: {{code: 'return data'}}}}\n" for n in "cd"
            )
            edges = "  - {source: input.value, target: c}\n  - {source: c, target: d}\n"
            last = "d"
        else:  # the child twice: two entries in the file table
            nodes = "".join(
                f"  - {{id: {n}, type: blueprint, parameters: {{path: {child}}}}}\n" for n in "ce"
            )
            edges = (
                "  - {source: input.value, target: c, targetHandle: value}\n"
                "  - {source: c, sourceHandle: result, target: e, targetHandle: value}\n"
            )
            last = "e, sourceHandle: result"
        name = f"level_{level}_of_a_nesting_that_makes_long_include_chains.yaml"
        (tmp_path / name).write_text(
            f"id: l{level}\n{interface}nodes:\n{nodes}edges:\n{edges}"
            f"  - {{source: {last}, target: output, targetHandle: result}}\n"
        )
        child = name
    monkeypatch.setattr(layout.black, "format_str", counted)
    layout._black.cache_clear()
    layout._black_element.cache_clear()
    compiled = compile_blueprint(tmp_path / child, options=CompileOptions(root=tmp_path))
    assert [call for call in calls if not call.startswith('"""')] == []
    assert '"level_0_of_a_nesting_that_makes_long_include_chains.yaml",\n' in compiled.code
