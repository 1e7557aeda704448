"""Node values on ``NodeCompleted``: only for a run with a hook that ``wants_values``, for every
kind of node boundary (inline, the policy path, a thread node, loop bodies, parallel branches)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from atomiton.compiler import compile_blueprint, load_module
from atomiton.runtime import BaseHooks, Event, NodeCompleted, Subscriptions, event_to_dict

FLOW = """\
id: node-values
variables:
  words: {type: array, defaultValue: [ab, cd]}
  numbers: {type: array, defaultValue: [3, 1, 2]}
nodes:
  - id: joined
    type: code
    parameters: {code: "return '-'.join(inputs.words)"}
  - id: shout
    type: code
    parameters: {code: "return data.upper()", retries: 1, retryDelay: 1}
  - id: timed
    type: code
    parameters: {code: "return len(data)", timeout: 5000}
  - id: each
    type: loop
    parameters:
      loopType: forEach
      body:
        nodes:
          - id: upper
            type: code
            parameters: {code: "return data.upper()"}
        edges:
          - {source: input, sourceHandle: item, target: upper}
          - {source: upper, target: output, targetHandle: upper}
  - id: both
    type: parallel
    parameters:
      strategy: all
      branches:
        - nodes:
            - {id: total, type: code, parameters: {code: "return sum(data)"}}
          edges:
            - {source: input, target: total}
        - nodes:
            - {id: biggest, type: code, parameters: {code: "return max(data)"}}
          edges:
            - {source: input, target: biggest}
edges:
  - {source: joined, target: shout}
  - {source: shout, target: timed}
  - {source: input, sourceHandle: words, target: each, targetHandle: array}
  - {source: input, sourceHandle: numbers, target: both}
  - {source: timed, target: output, targetHandle: size}
  - {source: each, sourceHandle: results, target: output, targetHandle: words}
  - {source: both, sourceHandle: results, target: output, targetHandle: results}
"""


class Collect(BaseHooks):
    """Keeps every ``NodeCompleted`` (thread-safe enough: list.append is atomic)."""

    def __init__(self, *, wants_values: bool) -> None:
        self.wants_values = wants_values
        self.completed: list[NodeCompleted] = []

    def on_node_completed(self, *, event: NodeCompleted) -> None:
        self.completed.append(event)


@pytest.fixture
def flow(tmp_path: Path) -> ModuleType:
    path = tmp_path / "values.yaml"
    path.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    return load_module(compile_blueprint(path))


def _values(events: list[NodeCompleted]) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    for event in events:
        found.setdefault(event.node_id, []).append(event.value)
    return found


def test_a_hook_that_wants_values_sees_every_kind_of_node_produce(flow: ModuleType) -> None:
    hook = Collect(wants_values=True)
    flow.run(flow.Inputs(), hooks=hook)
    values = _values(hook.completed)
    assert values["joined"] == ["ab-cd"]
    assert values["shout"] == ["AB-CD"]  # the policy path (retries)
    assert values["timed"] == [5]  # a node timeout: called from a helper thread
    body = [key for key in values if key.endswith("upper")]
    assert body and sorted(v for key in body for v in values[key]) == ["AB", "CD"]
    total = [key for key in values if key.endswith("total")]
    biggest = [key for key in values if key.endswith("biggest")]
    assert [values[key] for key in total] == [[6]]
    assert [values[key] for key in biggest] == [[3]]
    outputs = {key: values[key] for key in ("each", "both")}
    assert outputs["each"][0] is not None and outputs["both"][0] is not None


def test_without_such_a_hook_no_value_is_handed_over(flow: ModuleType) -> None:
    hook = Collect(wants_values=False)
    flow.run(flow.Inputs(), hooks=hook)
    assert hook.completed and all(event.value is None for event in hook.completed)
    assert all("value" not in event_to_dict(event) for event in hook.completed)


def test_one_hook_wanting_values_gives_them_to_all_and_json_never_carries_them(
    flow: ModuleType,
) -> None:
    seen: list[Event] = []
    listener = Subscriptions(wants_values=True).on(NodeCompleted, seen.append)
    other = Collect(wants_values=False)
    flow.run(flow.Inputs(), hooks=[other, listener])
    by_id = {event.node_id: event for event in other.completed}
    assert by_id["joined"].value == "ab-cd"
    data = event_to_dict(by_id["timed"])
    assert by_id["timed"].value == 5
    assert "value" not in data and data["event"] == "node.completed"
    assert len(seen) == len(other.completed)
