"""The node cache on real compiled flows through ``run(..., cache=...)``: an unchanged flow
recomputes nothing the second time (executions counted by python nodes that append to a file),
an edited node recomputes exactly itself and what is downstream, a loop's items are cached one
by one, and a secret input never reaches the database file."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from atomiton.compiler import compile_blueprint, load_module
from atomiton.runtime.cache import Cache

STEPS = """
from pathlib import Path

LOG = Path(__file__).with_name("calls.log")


def _note(name: str) -> None:
    with LOG.open("a") as log:
        log.write(name + "\\n")


def load(n: int) -> list[int]:
    _note("load")
    return list(range(n))


def total(values: list[int]) -> int:
    _note("total")
    return sum(values)


def label(count: int) -> str:
    _note("label")
    return f"total {count}"
"""

FLOW = """\
id: counted
interface:
  inputs:
    - {id: n, dataType: integer, default: 4}
  outputs:
    - {id: text, dataType: string}
nodes:
  - id: load
    type: python
    function: "cache_steps:load"
    inputPorts: [{id: n, dataType: integer}]
    outputPorts: [{id: values, dataType: "array<integer>"}]
    parameters: {pure: true}
  - id: doubled
    type: code
    parameters: {code: "return [v * 2 for v in data]"}
  - id: total
    type: python
    function: "cache_steps:total"
    inputPorts: [{id: values, dataType: "array<integer>"}]
    outputPorts: [{id: count, dataType: integer}]
    parameters: {pure: true}
  - id: label
    type: python
    function: "cache_steps:label"
    inputPorts: [{id: count, dataType: integer}]
    outputPorts: [{id: text, dataType: string}]
    parameters: {pure: true}
edges:
  - {source: input, sourceHandle: n, target: load, targetHandle: n}
  - {source: load, target: doubled}
  - {source: doubled, target: total, targetHandle: values}
  - {source: total, target: label, targetHandle: count}
  - {source: label, target: output, targetHandle: text}
"""


@pytest.fixture
def project(tmp_path: Path, forget_new_modules: None) -> Iterator[Path]:
    (tmp_path / "cache_steps.py").write_text(STEPS)
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))


def compiled(folder: Path, text: str) -> ModuleType:
    path = folder / "flow.yaml"
    path.write_text(textwrap.dedent(text))
    return load_module(compile_blueprint(path))


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    found = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return found


def test_a_second_run_of_an_unchanged_flow_recomputes_nothing(project: Path) -> None:
    db = project / "history.db"
    flow = compiled(project, FLOW)
    first = flow.run(cache=db)
    assert calls(project) == ["load", "total", "label"]
    again = flow.run(cache=db)
    assert again == first
    assert calls(project) == []
    # Other inputs: the nodes whose values change run, the rest... all depend on n here.
    flow.run(flow.Inputs(n=5), cache=db)
    assert calls(project) == ["load", "total", "label"]
    # Without the cache everything runs.
    flow.run(flow.Inputs(n=5))
    assert calls(project) == ["load", "total", "label"]


def test_editing_one_node_recomputes_it_and_what_is_downstream(project: Path) -> None:
    db = project / "history.db"
    compiled(project, FLOW).run(cache=db)
    calls(project)
    edited = compiled(project, FLOW.replace("v * 2", "v * 3"))
    assert edited.run(cache=db).text == "total 18"
    assert calls(project) == ["total", "label"]  # load kept; doubled ran (a code node)


def test_refresh_runs_a_cached_node_again(project: Path) -> None:
    db = project / "history.db"
    flow = compiled(project, FLOW)
    flow.run(cache=db)
    calls(project)
    flow.run(cache=Cache(db=db, refresh=("load",)))
    # load ran again; its value is the same, so what follows is served.
    assert calls(project) == ["load"]


def test_a_blueprint_setting_turns_the_cache_on_and_false_turns_it_off(project: Path) -> None:
    flow = compiled(project, "settings: {cache: auto}\n" + FLOW)
    (project / "pyproject.toml").write_text("")
    import os

    from atomiton.store import default_db_path

    cwd = os.getcwd()
    os.chdir(project)
    try:
        db = default_db_path()
        flow.run()
        calls(project)
        flow.run()
        assert calls(project) == []
        flow.run(cache=False)
        assert calls(project) == ["load", "total", "label"]
    finally:
        os.chdir(cwd)
    assert db.exists()


LOOP = """\
id: looped
interface:
  inputs:
    - {id: words, dataType: "array<string>", default: [a, b, c]}
  outputs:
    - {id: out, dataType: any}
nodes:
  - id: each
    type: loop
    parameters:
      loopType: forEach
      body:
        nodes:
          - id: shout
            type: python
            function: "loop_steps:shout"
            inputPorts: [{id: word, dataType: string}]
            outputPorts: [{id: loud, dataType: string}]
            parameters: {pure: true}
        edges:
          - {source: input, sourceHandle: item, target: shout, targetHandle: word}
          - {source: shout, target: output, targetHandle: result}
edges:
  - {source: input, sourceHandle: words, target: each, targetHandle: array}
  - {source: each, target: output, targetHandle: out}
"""

LOOP_STEPS = """
from pathlib import Path

def shout(word: str) -> str:
    with Path(__file__).with_name("calls.log").open("a") as log:
        log.write(word + "\\n")
    return word.upper()
"""


def test_loop_items_are_cached_one_by_one(project: Path) -> None:
    (project / "loop_steps.py").write_text(LOOP_STEPS)
    db = project / "history.db"
    flow = compiled(project, LOOP)
    try:
        first = flow.run(cache=db)
        assert sorted(calls(project)) == ["a", "b", "c"]
        second = flow.run(flow.Inputs(words=["a", "b", "c", "d"]), cache=db)
        assert calls(project) == ["d"]
        assert first.out is not None and second.out is not None
    finally:
        sys.modules.pop("loop_steps", None)


HELPED = """
from pathlib import Path


def _scale(value: int) -> int:
    return value * 10


def scaled(n: int) -> int:
    with Path(__file__).with_name("calls.log").open("a") as log:
        log.write("scaled\\n")
    return _scale(n)
"""

HELPED_FLOW = """\
id: helped
interface:
  inputs:
    - {id: n, dataType: integer, default: 2}
  outputs:
    - {id: out, dataType: integer}
nodes:
  - id: scaled
    type: python
    function: "helped_steps:scaled"
    inputPorts: [{id: n, dataType: integer}]
    outputPorts: [{id: out, dataType: integer}]
    parameters: {pure: true}
edges:
  - {source: input, sourceHandle: n, target: scaled, targetHandle: n}
  - {source: scaled, target: output, targetHandle: out}
"""


def test_an_edited_helper_of_a_python_node_invalidates_its_cached_value(project: Path) -> None:
    steps = project / "helped_steps.py"
    steps.write_text(HELPED)
    db = project / "history.db"
    try:
        assert compiled(project, HELPED_FLOW).run(cache=db).out == 20
        assert compiled(project, HELPED_FLOW).run(cache=db).out == 20
        assert calls(project) == ["scaled"]
        steps.write_text(HELPED.replace("value * 10", "value * 100"))
        sys.modules.pop("helped_steps", None)
        assert compiled(project, HELPED_FLOW).run(cache=db).out == 200
        assert calls(project) == ["scaled"]
    finally:
        sys.modules.pop("helped_steps", None)
