"""Ports derived from ``run`` equal what every built-in node declared by hand before.

``data/specs_before_nodespec.json`` was written from the hand-written specs just before they
were replaced by ``node_spec(run, ...)``; every fact the compiler reads must have survived.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from atomiton.nodes import registry
from atomiton.nodes.spec import NodeSpec

BEFORE: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "specs_before_nodespec.json").read_text(encoding="utf-8")
)


def _facts(spec: NodeSpec) -> dict[str, Any]:
    return {
        "module": spec.module,
        "params": spec.params.__name__,
        "inputs": [dataclasses.asdict(p) for p in spec.inputs],
        "outputs": [dataclasses.asdict(p) for p in spec.outputs],
        "description": spec.description,
        "execution": spec.execution,
        "weight": spec.weight,
        "code_params": {
            name: {
                "kwarg": c.kwarg,
                "kind": c.kind,
                "args": list(c.args),
                "required": c.required,
                "args_for": c.args_for is not None,
            }
            for name, c in spec.code_params.items()
        },
        "needs_context": spec.needs_context,
        "requires": list(spec.requires),
        "extra": spec.extra,
        "aliases": list(spec.aliases),
        "needs": spec.needs is not None,
        "needs_decided_by": list(spec.needs_decided_by),
    }


def test_every_recorded_type_is_still_registered() -> None:
    assert set(BEFORE) <= set(registry.type_names())


@pytest.mark.parametrize("type_name", sorted(BEFORE))
def test_derived_spec_equals_the_declared_one(type_name: str) -> None:
    spec = registry.get(type_name)
    assert spec is not None
    assert spec.type == type_name
    assert _facts(spec) == BEFORE[type_name]


def test_subflows_are_a_parameter_kind() -> None:
    # The compiler used to recognise these by the type names "loop" and "parallel".
    loop, parallel = registry.get("loop"), registry.get("parallel")
    assert loop is not None and parallel is not None
    assert [(s.name, s.prefix, s.many) for s in loop.subflows] == [("body", "body", False)]
    assert [(s.name, s.prefix, s.many) for s in parallel.subflows] == [("branches", "branch", True)]
    assert loop.subflows[0].id_prefix("each", 0) == "each.body."
    assert parallel.subflows[0].id_prefix("fan", 2) == "fan.branch2."
    assert parallel.subflow("branches") is parallel.subflows[0]
    others = [
        name
        for name in BEFORE
        if name not in ("loop", "parallel") and (spec := registry.get(name)) and spec.subflows
    ]
    assert others == []
