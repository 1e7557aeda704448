"""Every node's declared port types agree with the Python types its ``run`` really returns.

The compiler checks edges with the declared types and mypy checks the generated module with
the Python ones; if they disagreed, a blueprint could pass one check and fail the other.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib

import pytest

from atomiton.compiler.types import parse_type, python_type
from atomiton.nodes import registry
from atomiton.nodes.spec import NodeSpec

SPECS = sorted(
    {
        spec.type: spec
        for name in registry.type_names()
        if (spec := registry.get(name)) is not None
    }.values(),
    key=lambda spec: spec.type,
)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.type for spec in SPECS])
def test_output_ports_match_the_python_types(spec: NodeSpec) -> None:
    module = importlib.import_module(spec.module)
    if len(spec.outputs) > 1:
        fields = {f.name: _without_annotated(f.type) for f in dataclasses.fields(module.Output)}
        annotations = {port.name: fields[port.attr] for port in spec.outputs}
    else:
        returned = _without_annotated(module.run.__annotations__["return"])
        annotations = {port.name: returned for port in spec.outputs}
    for port in spec.outputs:
        declared = parse_type(port.type)
        assert declared is not None, f"{spec.type}.{port.name}: {port.type!r} is no port type"
        expected = python_type(declared)
        actual = str(annotations[port.name])
        # Either side Any: mypy accepts the wiring and the value is checked at run time. A mapping
        # of str may be narrower (it is read, not written to).
        assert (
            "Any" in (expected, actual)
            or actual.replace("dict[str, str]", "dict[str, Any]") == expected
        ), f"{spec.type}.{port.name} is declared {port.type} ({expected}) but run() gives {actual}"


@pytest.mark.parametrize("spec", SPECS, ids=[spec.type for spec in SPECS])
def test_every_port_type_parses(spec: NodeSpec) -> None:
    for port in (*spec.inputs, *spec.outputs):
        assert parse_type(port.type) is not None, f"{spec.type}.{port.name}: {port.type!r}"


def _without_annotated(annotation: object) -> str:
    """``Annotated[list[Any], Port(...)]`` -> ``list[Any]``: the type mypy sees."""
    text = str(annotation)
    tree = ast.parse(text, mode="eval").body
    if (
        isinstance(tree, ast.Subscript)
        and isinstance(tree.value, ast.Name)
        and tree.value.id == "Annotated"
        and isinstance(tree.slice, ast.Tuple)
    ):
        return ast.unparse(tree.slice.elts[0])
    return text
