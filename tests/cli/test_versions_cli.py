"""Code versions on the command line: ``graph --versions`` prints them, ``run`` records them in
the run history, and ``check --changed-since RUN`` lists what would compute again since a real
recorded run (a real SQLite store, real runs)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from atomiton.compiler import compile_blueprint, load_module
from atomiton.store import RunStore
from atomiton.store.schema import connect

from conftest import Invoke, WriteBlueprint

FLOW = """\
id: chain
variables:
  words: {type: array, defaultValue: [a, b]}
nodes:
  - id: first
    type: code
    parameters: {code: "return [w * 2 for w in data]"}
  - id: middle
    type: code
    parameters: {code: "return [w.upper() for w in data]"}
  - id: last
    type: code
    parameters: {code: "return len(data)"}
  - id: aside
    type: code
    parameters: {code: "return 'unrelated'"}
  - id: each
    type: loop
    parameters:
      loopType: forEach
      body:
        nodes:
          - {id: twice, type: code, parameters: {code: "return data + data"}}
        edges:
          - {source: input, sourceHandle: item, target: twice}
          - {source: twice, target: output, targetHandle: twice}
edges:
  - {source: input, sourceHandle: words, target: first}
  - {source: first, target: middle}
  - {source: middle, target: last}
  - {source: input, sourceHandle: words, target: each, targetHandle: array}
  - {source: last, target: output, targetHandle: count}
  - {source: each, sourceHandle: results, target: output, targetHandle: doubled}
"""


def history() -> Path:
    return Path(os.environ["ATOMITON_HOME"]) / "history.db"


def module_versions(path: Path) -> dict[str, str]:
    module = load_module(compile_blueprint(path))
    return {info.id: info.version for info in module.BLUEPRINT.nodes}


def run_and_get_id(cli: Invoke, path: Path) -> str:
    result = cli("run", str(path))
    assert result.exit_code == 0, result.stderr
    runs = json.loads(cli("runs", "--json", "--last", "1").stdout)
    run_id: str = runs[0]["id"]
    return run_id


def test_graph_versions_prints_every_node_with_the_modules_version(
    cli: Invoke, write: WriteBlueprint
) -> None:
    path = write("flow.yaml", FLOW)
    result = cli("graph", str(path), "--versions")
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == [
        "first",
        "middle",
        "last",
        "aside",
        "each",
        "each.body.twice",
    ]
    assert {row[0]: row[2] for row in rows} == module_versions(path)
    assert {row[0]: row[1] for row in rows}["each"] == "loop"


def test_a_run_records_each_nodes_version(cli: Invoke, write: WriteBlueprint) -> None:
    path = write("flow.yaml", FLOW)
    run_id = run_and_get_id(cli, path)
    with RunStore.open(history()) as store:
        detail = store.get_run(run_id)
    assert detail is not None
    assert {n.node_id: n.version for n in detail.nodes} == module_versions(path)
    assert all(n.to_json()["version"] == n.version for n in detail.nodes)


def test_a_history_from_before_versions_gets_the_column(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old = connect(db, target=3)
    old.execute(
        "INSERT INTO runs (id, blueprint_id, status, started) VALUES ('r1', 'b', 'completed', 1)"
    )
    old.execute(
        "INSERT INTO nodes (run_id, node_id, idx, type, state) VALUES ('r1', 'a', 0, 'code', 'done')"
    )
    old.close()
    with RunStore.open(db) as store:
        detail = store.get_run("r1")
    assert detail is not None and detail.nodes[0].version is None
    columns = [row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(nodes)")]
    assert columns[-1] == "version"


def test_changed_since_lists_the_changed_node_and_its_downstream(
    cli: Invoke, write: WriteBlueprint
) -> None:
    path = write("flow.yaml", FLOW)
    run_id = run_and_get_id(cli, path)
    old = module_versions(path)["middle"]

    same = cli("check", str(path), "--no-mypy", "--changed-since", run_id)
    assert same.exit_code == 0, same.stderr
    assert "no node computes again (6 unchanged)" in same.stdout

    write("flow.yaml", FLOW.replace("w.upper()", "w.lower()"))
    result = cli("check", str(path), "--no-mypy", "--changed-since", run_id[:12])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"since run {run_id}: 2 of 6 nodes compute again"
    rows = [line.split(None, 2) for line in lines[1:]]
    new = module_versions(path)["middle"]
    assert rows == [
        ["middle", "changed", f"version {old} -> {new}"],
        ["last", "downstream", "downstream of 'middle'"],
    ]


def test_changed_since_new_removed_and_loop_body_nodes_as_json(
    cli: Invoke, write: WriteBlueprint
) -> None:
    path = write("flow.yaml", FLOW)
    run_id = run_and_get_id(cli, path)
    edited = (
        FLOW.replace("data + data", "data * 3")
        .replace(
            "  - id: aside\n    type: code\n    parameters: {code: \"return 'unrelated'\"}\n", ""
        )
        .replace(
            "nodes:\n  - id: first",
            "nodes:\n  - {id: fresh, type: code, parameters: {code: 'return 0'}}\n  - id: first",
        )
    )
    write("flow.yaml", edited)
    result = cli("check", str(path), "--no-mypy", "--format", "json", "--changed-since", run_id)
    assert result.exit_code == 0, result.stderr
    [line] = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["changed_since"] == run_id
    assert line["removed"] == ["aside"]
    kinds = {node["node"]: node["kind"] for node in line["nodes"]}
    # The body node changed, and the loop with it (a body is part of its loop's version).
    assert kinds == {"fresh": "new", "each": "changed", "each.body.twice": "changed"}
    fresh = next(node for node in line["nodes"] if node["node"] == "fresh")
    assert fresh["recorded"] is None and fresh["reason"] == "not in the run"


def test_changed_since_an_unknown_run_is_a_clear_error(cli: Invoke, write: WriteBlueprint) -> None:
    path = write("flow.yaml", FLOW)
    nothing = cli("check", str(path), "--no-mypy", "--changed-since", "nope")
    assert nothing.exit_code == 1
    assert "no run 'nope': there is no run history" in nothing.stderr
    run_and_get_id(cli, path)
    unknown = cli("check", str(path), "--no-mypy", "--changed-since", "nope")
    assert unknown.exit_code == 1
    assert "error: no run 'nope' in the run history" in unknown.stderr
    assert "atomiton runs" in unknown.stderr and "Traceback" not in unknown.stderr
    other = write("other.yaml", FLOW)
    two = cli("check", str(path), str(other), "--no-mypy", "--changed-since", "nope")
    assert two.exit_code == 2 and "one blueprint" in two.stderr


def test_an_edited_helper_shows_in_the_next_runs_version(
    cli: Invoke, write: WriteBlueprint, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = workdir / "vcli_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(
        "from .text import tidy\n\ndef clean(data):\n    return tidy(data)\n"
    )
    helper = package / "text.py"
    helper.write_text("def tidy(value):\n    return value.strip()\n")
    path = write(
        "py.yaml",
        """\
        id: py
        variables:
          text: {type: string, defaultValue: " x "}
        nodes:
          - id: clean
            type: python
            function: "vcli_pkg.core:clean"
            inputPorts: [{id: data, dataType: string}]
            outputPorts: [{id: result, dataType: string}]
          - {id: after, type: code, parameters: {code: "return data"}}
        edges:
          - {source: input, sourceHandle: text, target: clean, targetHandle: data}
          - {source: clean, target: after}
        """,
    )
    monkeypatch.syspath_prepend(str(workdir))
    for file in (*package.iterdir(), workdir / path):
        os.utime(file, (1_000_000_000, 1_000_000_000))  # settled: the run caches its module
    first = run_and_get_id(cli, path)
    entries = list((Path(os.environ["ATOMITON_CACHE_DIR"]) / "run").glob("*.entry"))
    assert (
        len(entries) == 1
        and str(helper.resolve()) in entries[0].read_bytes().split(b"\n")[0].decode()
    )
    helper.write_text("def tidy(value):\n    return value.strip().upper()\n")
    # The run's compile cache holds the module: the helper's file is one of its files.
    result = cli("check", str(path), "--no-mypy", "--changed-since", first)
    assert result.exit_code == 0, result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [
        ["clean", "changed"],
        ["after", "downstream"],
    ]
    second = run_and_get_id(cli, path)
    with RunStore.open(history()) as store:
        before, after = (store.get_run(run) for run in (first, second))
    assert before is not None and after is not None
    versions = [{n.node_id: n.version for n in d.nodes} for d in (before, after)]
    assert versions[0]["clean"] != versions[1]["clean"]
    assert versions[0]["after"] == versions[1]["after"]
