"""``atomiton.naming``: the one module of case conversion, shared by the node library and the
compiler, standard library only, and the only place that converts cases."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.alias_generators import to_camel

from atomiton.naming import camel_case, kebab_case, pascal_case, snake_case
from atomiton.nodes import registry

PACKAGE = Path(__file__).parents[1] / "src" / "atomiton"
NAMING = PACKAGE / "naming.py"

# Names a node's fields, ports or a python node's arguments may have, odd ones included.
NAMES = (
    "target_path",
    "path",
    "targetPath",
    "http2_client",
    "x_1",
    "a_b_c",
    "_private",
    "__dunder__",
    "foo__bar",
    "Foo_bar",
    "URL",
    "url_2x",
    "already_camelCase",
    "trailing_",
    "",
)


def test_camel_case_spells_as_the_node_models_aliases_always_did() -> None:
    for name in NAMES:
        assert camel_case(name) == to_camel(name), name
    assert camel_case("target_path") == "targetPath"
    assert camel_case("http2_client") == "http2Client"


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True))
def test_camel_case_agrees_with_pydantic_on_any_identifier(name: str) -> None:
    assert camel_case(name) == to_camel(name)


def test_snake_pascal_and_kebab() -> None:
    assert snake_case("targetPath") == "target_path"
    assert snake_case("read-file") == "read_file"
    assert snake_case("already_snake") == "already_snake"
    assert pascal_case("read_orders") == "ReadOrders"
    assert pascal_case("_loop_2_") == "Loop2"
    assert kebab_case("http_request") == "http-request"


def test_node_types_and_yaml_keys_come_from_the_naming_module() -> None:
    camel_aliases = 0
    for type_name, source in registry.builtin_sources(PACKAGE / "nodes").items():
        assert type_name == kebab_case(source.module.rsplit(".", 1)[-1])
        spec = registry.get(type_name)
        assert spec is not None and spec.type == type_name
        for name, info in spec.params.model_fields.items():
            assert info.alias == camel_case(name), (type_name, name)
            camel_aliases += info.alias != name
    assert camel_aliases > 10  # the library does have multi-word parameters


def test_naming_imports_only_the_standard_library() -> None:
    tree = ast.parse(NAMING.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "naming imports nothing of the package"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


# What converting a case looks like when written out by hand.
_HAND_WRITTEN = (
    re.compile(r"alias_generators"),
    re.compile(re.escape(r"(?<=[a-z0-9])(?=[A-Z])")),
    re.compile(r"part\.title\(\)"),
    re.compile(r"def _?(camel|snake|pascal|kebab)"),
)


def test_no_other_module_converts_cases_by_hand() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == NAMING:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in _HAND_WRITTEN:
            if pattern.search(text):
                found.append(f"{path.relative_to(PACKAGE)}: {pattern.pattern}")
    assert not found, found
