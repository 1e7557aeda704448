"""The emitter writes black's layout itself; black over the whole module must change nothing.

Golden cases check this for their modules; here hypothesis throws long ids, long and hostile
strings, nested values and many parameters at it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomiton.compiler import CompileOptions, compile_blueprint
from atomiton.compiler.layout import element, fit, string
from atomiton.compiler.postprocess import format_code

ids = st.from_regex(r"[a-z][a-z0-9_-]{0,60}", fullmatch=True)
texts = st.text(min_size=0, max_size=120)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def blueprint(node_ids: list[str], fields: dict[str, object], description: str) -> str:
    nodes = [
        {
            "id": node_id,
            "type": "edit-fields",
            "description": description,
            "parameters": {"values": fields},
        }
        for node_id in node_ids
    ]
    nodes.append(
        {
            "id": "long-code",
            "type": "code",
            "parameters": {"code": "return [data, 'x' * 200, {'k': 1}]"},
        }
    )
    edges = [{"source": node_ids[0], "target": "long-code"}]
    doc = {
        "id": "layout",
        "description": description,
        "metadata": {"note": description},
        "nodes": nodes,
        "edges": edges,
    }
    return yaml.safe_dump(doc)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    node_ids=st.lists(ids, min_size=1, max_size=4, unique=True),
    fields=st.dictionaries(texts, values, max_size=5),
    description=texts,
)
def test_black_changes_nothing(
    tmp_path: Path, node_ids: list[str], fields: dict[str, object], description: str
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(blueprint(node_ids, fields, description))
    code = compile_blueprint(path, options=CompileOptions(root=tmp_path)).code
    assert format_code(code) == code


@given(texts)
def test_strings_use_blacks_quotes(text: str) -> None:
    literal = string(text)
    assert eval(literal) == text  # noqa: S307 - a literal we just made
    assert format_code(f"x = {literal}\n") == f"x = {literal}\n"


def test_fit_leaves_short_lines_and_splits_long_ones() -> None:
    assert fit("s.a = f(x)", 8) == "s.a = f(x)"
    long = "s.a = f(" + ", ".join(f"argument_{i}=value_{i}" for i in range(8)) + ")"
    laid = fit(long, 8)
    assert laid.splitlines()[0] == "s.a = f("
    assert all(line.startswith(" " * 8) for line in laid.splitlines()[1:])
    wrapped = "def g():\n    if x:\n        " + laid + "\n"
    assert format_code(wrapped) == wrapped


def test_element_keeps_its_trailing_comma() -> None:
    short = element("f(x)", 4)
    assert short == "f(x),"
    long = element("f(" + ", ".join(f"argument_{i}" for i in range(12)) + ")", 4)
    assert long.endswith("),")
