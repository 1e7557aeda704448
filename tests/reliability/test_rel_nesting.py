"""Loops and parallels nested three deep, everything at concurrency 1, cannot deadlock.

A ``loop`` whose body holds a ``parallel`` whose first branch holds another ``loop``: each of
them occupies a worker while it waits for its body, so a scheduler that made nested work queue
behind its parent under the same limit would hang. Each run happens in a watchdog thread so that
a deadlock fails the test instead of hanging the suite.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import FlowFactory
from rel_support import Recorder

from atomiton import runtime as rt

TIMEOUT = 20.0

PURE = """
id: nested
variables:
  items: {type: array, defaultValue: [1, 2, 3]}
nodes:
  - id: outer
    type: loop
    parameters:
      loopType: forEach
      concurrency: 1
      body:
        nodes:
          - id: fan
            type: parallel
            parameters:
              concurrency: 1
              branches:
                - nodes:
                    - {id: pairs, type: code, parameters: {code: "return [data, data * 10]"}}
                    - id: inner
                      type: loop
                      parameters:
                        concurrency: 1
                        body:
                          nodes:
                            - {id: plus, type: code, parameters: {code: "return data + 1"}}
                          edges:
                            - {source: input, sourceHandle: item, target: plus}
                            - {source: plus, target: output, targetHandle: value}
                  edges:
                    - {source: input, target: pairs}
                    - {source: pairs, target: inner, targetHandle: array}
                    - {source: inner, sourceHandle: results, target: output, targetHandle: got}
                - nodes:
                    - {id: neg, type: code, parameters: {code: "return -data"}}
                  edges:
                    - {source: input, target: neg}
        edges:
          - {source: input, sourceHandle: item, target: fan}
          - {source: fan, sourceHandle: results, target: output, targetHandle: fanned}
edges:
  - {source: input, sourceHandle: items, target: outer, targetHandle: array}
  - {source: outer, sourceHandle: results, target: output, targetHandle: results}
"""

# The same shape with blocking nodes (file-system writes and reads, which run on worker
# threads) at every level: the innermost body writes one file per item and reads it back.
BLOCKING = """
id: nested-io
variables:
  items: {type: array, defaultValue: [1, 2, 3]}
nodes:
  - id: outer
    type: loop
    parameters:
      loopType: forEach
      concurrency: 1
      body:
        nodes:
          - id: fan
            type: parallel
            parameters:
              concurrency: 1
              branches:
                - nodes:
                    - {id: paths, type: code, parameters: {code: "return [ROOT + f'/{data}_a.txt', ROOT + f'/{data}_b.txt']"}}
                    - id: inner
                      type: loop
                      parameters:
                        concurrency: 1
                        body:
                          nodes:
                            - {id: put, type: file-system, parameters: {operation: write, content: "{{ inputs.item }}"}}
                            - {id: get, type: file-system, parameters: {operation: read}}
                          edges:
                            - {source: input, sourceHandle: item, target: put, targetHandle: path}
                            - {source: put, sourceHandle: path, target: get, targetHandle: path}
                            - {source: get, target: output, targetHandle: text}
                  edges:
                    - {source: input, target: paths}
                    - {source: paths, target: inner, targetHandle: array}
                    - {source: inner, sourceHandle: results, target: output, targetHandle: got}
                - nodes:
                    - {id: where, type: code, parameters: {code: "return ROOT + f'/{data}_neg.txt'"}}
                    - {id: mark, type: file-system, parameters: {operation: write, content: marked}}
                  edges:
                    - {source: input, target: where}
                    - {source: where, target: mark, targetHandle: path}
                    - {source: mark, sourceHandle: size, target: output, targetHandle: size}
        edges:
          - {source: input, sourceHandle: item, target: fan}
          - {source: fan, sourceHandle: results, target: output, targetHandle: fanned}
edges:
  - {source: input, sourceHandle: items, target: outer, targetHandle: array}
  - {source: outer, sourceHandle: results, target: output, targetHandle: results}
"""


def run_with_watchdog(module: ModuleType, **kwargs: Any) -> Any:
    """Run in a daemon thread; fail (instead of hanging) if it has not finished in TIMEOUT."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["out"] = module.run(**kwargs)
        except BaseException as exc:  # re-raised below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="nesting-watchdog")
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():
        pytest.fail(f"the nested flow did not finish within {TIMEOUT}s: deadlock")
    if "error" in box:
        raise box["error"]
    return box["out"]


MODES = [
    pytest.param({"concurrency": 1}, id="flow-concurrency-1"),
    pytest.param({"concurrency": 1, "hooks": "rec"}, id="flow-concurrency-1-hooked"),
    pytest.param({"concurrency": 1, "cancel": "control"}, id="flow-concurrency-1-control"),
    pytest.param({}, id="default-concurrency"),
]


def _kwargs(mode: dict[str, Any]) -> tuple[dict[str, Any], Recorder | None]:
    kwargs = dict(mode)
    rec = None
    if kwargs.get("hooks") == "rec":
        rec = Recorder()
        kwargs["hooks"] = rec
    if kwargs.get("cancel") == "control":
        kwargs["cancel"] = rt.RunControl()
    return kwargs, rec


@pytest.mark.parametrize("mode", MODES)
def test_nested_loop_parallel_loop(flow: FlowFactory, mode: dict[str, Any]) -> None:
    module = flow(PURE)
    kwargs, rec = _kwargs(mode)
    out = run_with_watchdog(module, **kwargs)
    assert out.results == [[[2, 11], -1], [[3, 21], -2], [[4, 31], -3]]
    if rec is not None:
        assert rec.kinds()[-1] == "execution.completed"
        # outer once; fan per item (3); pairs, neg per item; inner per item; plus per inner item
        counts: dict[str, int] = {}
        for event in rec.of(rt.NodeCompleted):
            counts[event.node_id] = counts.get(event.node_id, 0) + 1
        assert counts == {
            "outer": 1,
            "outer.body.fan": 3,
            "outer.body.fan.branch0.pairs": 3,
            "outer.body.fan.branch0.inner": 3,
            "outer.body.fan.branch0.inner.body.plus": 6,
            "outer.body.fan.branch1.neg": 3,
        }


@pytest.mark.parametrize("mode", MODES)
def test_nested_with_blocking_file_nodes(
    flow: FlowFactory, tmp_path: Path, mode: dict[str, Any]
) -> None:
    root = tmp_path / "out"
    root.mkdir()
    module = flow(BLOCKING.replace("ROOT", repr(str(root))))
    kwargs, rec = _kwargs(mode)
    out = run_with_watchdog(module, inputs=module.Inputs(items=[1, 2, 3, 4]), **kwargs)
    expected = [[[f"{root}/{n}_a.txt", f"{root}/{n}_b.txt"], len("marked")] for n in (1, 2, 3, 4)]
    assert out.results == expected
    assert sorted(p.name for p in root.iterdir()) == sorted(
        f"{n}_{suffix}.txt" for n in (1, 2, 3, 4) for suffix in ("a", "b", "neg")
    )
    assert (root / "3_b.txt").read_text() == f"{root}/3_b.txt"
    if rec is not None:
        assert rec.kinds()[-1] == "execution.completed"
        assert not rec.of(rt.NodeFailed)


# Both branches hold a loop called ``inner`` whose body node is called ``plus``, doing different
# things: nested bodies must keep the ids (and generated functions) of their whole path apart.
SAME_NAMES = """
id: same-names
variables:
  n: {type: integer, defaultValue: 1}
nodes:
  - id: fan
    type: parallel
    parameters:
      concurrency: 1
      branches:
        - nodes:
            - {id: pairs, type: code, parameters: {code: "return [data, data * 10]"}}
            - id: inner
              type: loop
              parameters:
                body:
                  nodes:
                    - {id: plus, type: code, parameters: {code: "return data + 1"}}
                  edges:
                    - {source: input, sourceHandle: item, target: plus}
          edges:
            - {source: input, target: pairs}
            - {source: pairs, target: inner, targetHandle: array}
            - {source: inner, sourceHandle: results, target: output, targetHandle: got}
        - nodes:
            - {id: pairs, type: code, parameters: {code: "return [data]"}}
            - id: inner
              type: loop
              parameters:
                body:
                  nodes:
                    - {id: plus, type: code, parameters: {code: "return data - 1"}}
                  edges:
                    - {source: input, sourceHandle: item, target: plus}
          edges:
            - {source: input, target: pairs}
            - {source: pairs, target: inner, targetHandle: array}
            - {source: inner, sourceHandle: results, target: output, targetHandle: got}
edges:
  - {source: input, sourceHandle: n, target: fan}
  - {source: fan, sourceHandle: results, target: output, targetHandle: results}
"""


def test_same_names_in_sibling_nested_bodies_stay_apart(flow: FlowFactory) -> None:
    module = flow(SAME_NAMES)
    ids = [n.id for n in module.BLUEPRINT.nodes]
    assert len(ids) == len(set(ids)), ids
    assert "fan.branch0.inner.body.plus" in ids and "fan.branch1.inner.body.plus" in ids
    rec = Recorder()
    out = run_with_watchdog(module, inputs=module.Inputs(n=5), concurrency=1, hooks=rec)
    assert out.results == [[6, 51], [4]]
    done = {e.node_id for e in rec.of(rt.NodeCompleted)}
    assert {"fan.branch0.inner.body.plus", "fan.branch1.inner.body.plus"} <= done
