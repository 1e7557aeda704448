"""Code versions are a function of each node's content only: the order nodes and edges are
written in and the names of nodes it does not read leave it alone, and so do the process (hash
seed) and the folder the blueprint is compiled in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomiton.compiler.versions import node_versions

from flowfiles import compile_data


@st.composite
def flows(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str], list[int], list[int]]:
    """A chain-and-fan DAG of code nodes, a renaming of some of them, and a new order of the
    nodes and of the edges."""
    count = draw(st.integers(min_value=2, max_value=6))
    ids = [f"n{i}" for i in range(count)]
    feeders = [None] + [
        draw(st.one_of(st.none(), st.sampled_from(ids[:i]))) for i in range(1, count)
    ]
    nodes = [
        {"id": node_id, "type": "code", "parameters": {"code": f"return {i}"}}
        for i, node_id in enumerate(ids)
    ]
    edges = [
        {"source": feeder, "target": node_id}
        for node_id, feeder in zip(ids, feeders)
        if feeder is not None
    ]
    renamed = draw(st.sets(st.sampled_from(ids)))
    renames = {node_id: (f"r_{node_id}" if node_id in renamed else node_id) for node_id in ids}
    node_order = draw(st.permutations(range(count)))
    edge_order = draw(st.permutations(range(len(edges))))
    return {"id": "f", "nodes": nodes, "edges": edges}, renames, node_order, edge_order


def _rewritten(
    flow: dict[str, Any], renames: dict[str, str], node_order: list[int], edge_order: list[int]
) -> dict[str, Any]:
    nodes = [dict(flow["nodes"][i], id=renames[flow["nodes"][i]["id"]]) for i in node_order]
    edges = [
        {"source": renames[e["source"]], "target": renames[e["target"]]}
        for e in (flow["edges"][i] for i in edge_order)
    ]
    return {"id": "f", "nodes": nodes, "edges": edges}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=flows())
def test_order_and_unrelated_names_leave_versions_alone(
    tmp_path: Path, case: tuple[dict[str, Any], dict[str, str], list[int], list[int]]
) -> None:
    flow, renames, node_order, edge_order = case
    before = node_versions(compile_data(tmp_path / "before", flow).graph).by_id
    after = node_versions(
        compile_data(tmp_path / "after", _rewritten(flow, renames, node_order, edge_order)).graph
    ).by_id
    feeder_of = {e["target"]: e["source"] for e in flow["edges"]}
    for node_id, version in before.items():
        feeder = feeder_of.get(node_id)
        if feeder is None or renames[feeder] == feeder:
            # Its own name, its place in the file and every other node's name: not its content.
            assert after[renames[node_id]] == version, node_id
        else:
            # What it reads is named in its wiring: reading another node is another node.
            assert after[renames[node_id]] != version, node_id


_SCRIPT = textwrap.dedent("""
    import json, sys
    from atomiton.compiler import CompileOptions, compile_blueprint
    from atomiton.compiler.versions import node_versions
    compiled = compile_blueprint("flow.yaml", options=CompileOptions(search_path=()))
    infos = {}
    exec(compiled.code, infos)
    print(json.dumps({
        "module": {n.id: n.version for n in infos["BLUEPRINT"].nodes},
        "graph": dict(node_versions(compiled.graph).by_id),
    }, sort_keys=True))
    """)

_FLOW = textwrap.dedent("""
    id: determinism
    variables:
      words: {type: array, defaultValue: [a, b]}
    nodes:
      - id: fields
        type: edit-fields
        parameters:
          values: {z: 1, a: [1.5, null, true], m: {k2: v, k1: "{{ inputs.words[0] }}"}}
      - id: each
        type: loop
        parameters:
          loopType: forEach
          body:
            nodes:
              - {id: up, type: code, parameters: {code: "return str(data).upper()"}}
            edges:
              - {source: input, sourceHandle: item, target: up}
              - {source: up, target: output, targetHandle: up}
      - id: clean
        type: python
        function: "vdet_pkg.core:clean"
        inputPorts: [{id: text, dataType: any}]
        outputPorts: [{id: result, dataType: any}]
    edges:
      - {source: input, sourceHandle: words, target: each, targetHandle: array}
      - {source: each, sourceHandle: results, target: clean, targetHandle: text}
    """)


def _compile_in(folder: Path, seed: str) -> dict[str, dict[str, str]]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, dict[str, str]] = json.loads(done.stdout)
    return result


def test_versions_are_the_same_in_other_processes_and_folders(tmp_path: Path) -> None:
    first = tmp_path / "one"
    (first / "vdet_pkg").mkdir(parents=True)
    (first / "vdet_pkg" / "__init__.py").write_text("")
    (first / "vdet_pkg" / "core.py").write_text(
        "from .util import tidy\n\ndef clean(text):\n    return tidy(text)\n"
    )
    (first / "vdet_pkg" / "util.py").write_text("def tidy(value):\n    return value\n")
    (first / "flow.yaml").write_text(_FLOW)
    second = tmp_path / "elsewhere" / "two"
    shutil.copytree(first, second)
    one = _compile_in(first, "1")
    two = _compile_in(second, "2")
    assert one == two
    assert one["module"] == one["graph"]
    assert set(one["module"]) == {"fields", "each", "each.body.up", "clean"}
