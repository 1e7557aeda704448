"""Node code is laid out without black where the emitter knows black's answer; black checks it.

Random short code bodies (expressions, statements, blocks, strings with awkward quotes, slices,
imports) under long names are laid out by ``layout`` and by black alone, and must come out the
same; whole modules built from such bodies must be left unchanged by black.
"""

from __future__ import annotations

import gc
import keyword
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from atomiton.compiler import CompileOptions, compile_blueprint, layout
from atomiton.errors import BlueprintError
from atomiton.compiler.expressions import ExpressionError, normalize_body
from atomiton.compiler.postprocess import format_code

names = st.from_regex(r"[a-z_][a-z0-9_]{0,40}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
)
texts = st.text(alphabet=st.sampled_from("ab \"'\\\n\té字{}"), max_size=12)
atoms = st.one_of(
    names,
    st.integers(-(10**6), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    texts.map(repr),
    texts.map(lambda t: "u" + repr(t)),
    st.binary(max_size=6).map(repr),
    st.sampled_from(["None", "True", "...", "data", "inputs.value", "f'{data!r:>4} x'"]),
)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    operators = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "|", "&", "<<", "@"])
    comparisons = st.sampled_from(["<", "==", "!=", "is", "is not", "in", "not in"])
    bound = st.one_of(st.just(""), inner)
    return st.one_of(
        st.tuples(inner, operators, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, comparisons, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        pair.map(lambda t: f"({t[0]} and not {t[1]})"),
        inner.map(lambda e: f"-{e}"),
        st.tuples(names, st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(names, names, inner).map(lambda t: f"{t[0]}({t[1]}={t[2]})"),
        st.tuples(inner, names).map(lambda t: f"({t[0]}).{t[1]}"),
        pair.map(lambda t: f"({t[0]})[{t[1]}]"),
        st.tuples(inner, bound, bound, bound).map(lambda t: f"({t[0]})[{t[1]}:{t[2]}:{t[3]}]"),
        st.tuples(inner, bound).map(lambda t: f"({t[0]})[{t[1]}:]"),
        st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: f"({', '.join(items)},)"),
        st.lists(pair, max_size=3).map(
            lambda ps: "{" + ", ".join(f"{k}: {v}" for k, v in ps) + "}"
        ),
        st.tuples(inner, names, inner).map(lambda t: f"[{t[0]} for {t[1]} in {t[2]} if {t[1]}]"),
        st.tuples(names, inner).map(lambda t: f"(lambda {t[0]}=1: {t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(names, inner).map(lambda t: f"({t[0]} := {t[1]})"),
        st.tuples(names, inner).map(lambda t: f"f'{{{t[0]}}} and {{{t[1]}!s}}'"),
    )


expressions = st.recursive(atoms, _compound, max_leaves=8)


def _statements(depth: int) -> st.SearchStrategy[list[str]]:
    simple = st.one_of(
        st.tuples(names, expressions).map(lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(names, expressions).map(lambda t: f"{t[0]} += {t[1]}"),
        expressions.map(lambda e: f"return {e}"),
        expressions.map(lambda e: f"print({e})"),
        names.map(lambda n: f"import {n}"),
        st.tuples(names, names).map(lambda t: f"from {t[0]} import {t[1]} as {t[1]}_"),
        expressions.map(lambda e: f"assert {e}, 'no'"),
        st.sampled_from(["pass", "raise ValueError('x')", "del data"]),
    )
    if depth == 0:
        return st.lists(simple.map(lambda s: [s]), min_size=1, max_size=4).map(_flat)
    block = _statements(depth - 1).map(lambda lines: ["    " + line for line in lines])
    compound = st.one_of(
        st.tuples(expressions, block).map(lambda t: [f"if {t[0]}:", *t[1]]),
        st.tuples(expressions, block, block).map(lambda t: [f"if {t[0]}:", *t[1], "else:", *t[2]]),
        st.tuples(names, expressions, block).map(lambda t: [f"for {t[0]} in {t[1]}:", *t[2]]),
        st.tuples(block, block).map(lambda t: ["try:", *t[0], "except (KeyError, E) as e:", *t[1]]),
        st.tuples(expressions, names, block).map(lambda t: [f"with {t[0]} as {t[1]}:", *t[2]]),
    )
    return st.lists(st.one_of(simple.map(lambda s: [s]), compound), min_size=1, max_size=4).map(
        _flat
    )


def _flat(groups: list[list[str]]) -> list[str]:
    return [line for group in groups for line in group]


bodies = _statements(2).map("\n".join)


def _normal(source: str) -> str:
    try:
        body = normalize_body(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "is" with a literal and the like: still code
            compile(body, "<body>", "exec")
    except (ExpressionError, SyntaxError, ValueError):
        assume(False)
        raise AssertionError("unreachable")
    return body


def _function(name: str, args: list[str], body: str) -> str:
    head = ", ".join(f"{arg}: Any" for arg in args)
    indented = "\n".join("    " + line for line in body.split("\n"))
    return f"def {name}({head}) -> Any:\n{indented}"


@pytest.mark.slow  # black on every example
@settings(max_examples=150, deadline=None)
@given(
    body=bodies,
    name=st.from_regex(r"_[a-z][a-z0-9_]{0,70}", fullmatch=True),
    args=st.lists(names, max_size=2, unique=True),
    indent=st.sampled_from([4, 8, 12]),
)
def test_own_layout_equals_blacks(body: str, name: str, args: list[str], indent: int) -> None:
    statement = _function(name, args, _normal(body))
    length = layout.LINE_LENGTH - indent
    try:
        by_black = layout._black(statement, length)
    except ValueError:  # black cannot parse what Python can (rare); nothing to compare
        assume(False)
        return
    own = layout._own_layout(statement, length)
    if own is not None:
        assert own == by_black
    assert layout._black_function(statement, length) == by_black


COMMON = [
    "return (data or 0) + 1",
    "return {'name': data['name'].strip(), 'tags': [t.lower() for t in data['tags']]}",
    "import math\nreturn math.sqrt(data) if data > 0 else None",
    "total = 0\nfor item in data:\n    total += item['price'] * item.get('qty', 1)\nreturn total",
    "try:\n    return int(data)\nexcept (TypeError, ValueError):\n    return None",
    "return f'{data!r} is {len(data)} long'",
    "return data[1:-1]",
    "return sorted(data, key=lambda row: (row['a'], -row['b']))[:10]",
]


def test_common_code_needs_no_black() -> None:
    """The code most nodes hold is laid out by the emitter itself, not handed to black."""
    for index, source in enumerate(COMMON):
        statement = _function(f"_node_{index}_code", ["data"], normalize_body(source))
        own = layout._own_layout(statement, layout.LINE_LENGTH - 4)
        assert own is not None, source
        assert own == layout._black(statement, layout.LINE_LENGTH - 4)


def test_what_black_must_decide_goes_to_black() -> None:
    """Layouts the emitter does not predict are left to black, never guessed."""
    for source in [
        "return data ** 2",  # black hugs simple operands of **
        "return data[len(data) // 2:]",  # black spaces a complex slice's colon
        "return 1e+20",  # black drops the exponent's plus
        "'''A docstring.'''\nreturn data",
        "def inner(x):\n    return x\nreturn inner(data)",
        "return [" + ", ".join(f"'item number {i}'" for i in range(12)) + "]",  # too long
    ]:
        statement = _function("_node_code", ["data"], normalize_body(source))
        assert layout._own_layout(statement, layout.LINE_LENGTH - 4) is None, source
        assert layout._black_function(statement, layout.LINE_LENGTH - 4) == layout._black(
            statement, layout.LINE_LENGTH - 4
        )


node_ids = st.from_regex(r"[a-z][a-z0-9_-]{20,70}", fullmatch=True)


@pytest.mark.slow  # compiles a flow and runs black on it per example
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    sources=st.lists(bodies, min_size=1, max_size=3),
    ids=st.lists(node_ids, min_size=3, max_size=3, unique=True),
)
def test_modules_of_random_code_are_black_stable(
    tmp_path: Path, sources: list[str], ids: list[str]
) -> None:
    normal = [_normal(source) for source in sources]
    nodes = [
        {"id": node_id, "type": "code", "parameters": {"code": source}}
        for node_id, source in zip(ids, normal)
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    path = tmp_path / "flow.yaml"
    interface = {"inputs": [{"id": "value", "dataType": "any", "default": 0}]}
    doc = {"id": "random-code", "interface": interface, "nodes": nodes, "edges": edges}
    path.write_text(yaml.safe_dump(doc))
    try:
        code = compile_blueprint(path, options=CompileOptions(root=tmp_path)).code
    except Exception as exc:  # the compiler may refuse random code; only a module is judged
        assume(type(exc).__name__ != "BlueprintError")
        raise
    assert format_code(code) == code


def test_compiling_pauses_the_collector_and_restores_it(tmp_path: Path) -> None:
    """Compiling turns the cycle collector off for itself and leaves it as it was, errors
    included (benchmarks/compile_speed.py measures what the pause saves)."""
    good = tmp_path / "good.yaml"
    good.write_text("id: good\nnodes:\n  - {id: a, type: code, parameters: {code: 'return 1'}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nnodes:\n  - {id: a, type: code, parameters: {code: 'return ('}}\n")
    was = gc.isenabled()
    try:
        gc.enable()
        compile_blueprint(good, options=CompileOptions(root=tmp_path))
        assert gc.isenabled()
        with pytest.raises(BlueprintError):
            compile_blueprint(bad, options=CompileOptions(root=tmp_path))
        assert gc.isenabled()
        gc.disable()
        compile_blueprint(good, options=CompileOptions(root=tmp_path))
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
