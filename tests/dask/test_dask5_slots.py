"""A task hands on only what later tasks or the outputs read, so W0250 matches what is pickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from atomiton import runtime as rt
from atomiton.errors import NodeError
from dask_flows import compiled

CHAIN = """
id: chain
settings:
  runtime: {{executor: dask}}
nodes:
  - id: read
    type: spreadsheet
    parameters: {{operation: read, path: "{path}", stream: true}}
  - id: count
    type: code
    parameters: {{code: "return sum(1 for _ in data)"}}
edges:
  - {{source: read, sourceHandle: records, target: count}}
  - {{source: count, target: output, targetHandle: total}}
"""

FAN = """
id: fan
settings:
  runtime: {{executor: dask}}
nodes:
  - id: read
    type: spreadsheet
    parameters: {{operation: read, path: "{path}", stream: true}}
  - id: first
    type: code
    parameters: {{retries: 1, code: "return dict(next(iter(data)))"}}
  - id: second
    type: code
    parameters: {{retries: 1, code: "return sum(1 for _ in data)"}}
edges:
  - {{source: read, sourceHandle: records, target: first}}
  - {{source: read, sourceHandle: records, target: second}}
  - {{source: first, target: output, targetHandle: first}}
  - {{source: second, target: output, targetHandle: count}}
"""


def flow(tmp_path: Path, text: str) -> Any:
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    return compiled(tmp_path, text.format(path=table))


def test_a_stream_used_inside_its_chain_stays_in_its_task(
    process_client: Client, tmp_path: Path
) -> None:
    module = flow(tmp_path, CHAIN)
    (task,) = module._TASKS
    assert task.writes == ("count",)  # the stream's slot never leaves the task
    assert module.run(executor="threads").total == 2
    assert module.run(executor=process_client).total == 2


def test_a_stream_crossing_tasks_is_warned_of_and_fails_its_node(
    process_client: Client, tmp_path: Path
) -> None:
    from atomiton.compiler import compile_blueprint

    module = flow(tmp_path, FAN)
    warnings = [w.format() for w in compile_blueprint(tmp_path / "flow.yaml").warnings]
    assert len(warnings) == 1 and "W0250" in warnings[0] and "'read'" in warnings[0]
    writer = {name for task in module._TASKS for name in task.writes}
    readers = {name for task in module._TASKS for name in task.reads}
    assert "read" in writer & readers  # it really crosses: a later task reads it
    with pytest.raises(NodeError, match="cannot be sent to another worker process") as caught:
        module.run(executor=process_client)
    assert caught.value.node_id == "read"


def test_a_module_that_names_no_results_is_refused_on_a_cluster(
    client: Client, tmp_path: Path
) -> None:
    module = flow(tmp_path, FAN)

    def old_body(ex: rt.Execution, inputs: Any) -> Any:
        state = module._State(inputs)
        ex.run_tasks(module._TASKS, state)  # as modules compiled before results= did
        return state

    with pytest.raises(ValueError, match="compile it again"):
        rt.run(module.BLUEPRINT, old_body, module.Inputs(), executor=client)


# The same chain, with a second port of the stream's node read by the outputs.
HEADERS = (
    CHAIN.replace("id: chain", "id: headers")
    + "  - {{source: read, sourceHandle: headers, target: output, targetHandle: headers}}\n"
)


def test_a_port_that_travels_takes_the_stream_of_its_node_along(
    process_client: Client, tmp_path: Path
) -> None:
    from atomiton.compiler import compile_blueprint

    module = flow(tmp_path, HEADERS)
    warnings = [w.format() for w in compile_blueprint(tmp_path / "flow.yaml").warnings]
    # Only the headers are an output, but the node's value is one slot: the stream goes too.
    assert len(warnings) == 1 and "output 'records'" in warnings[0]
    with pytest.raises(NodeError, match="cannot be sent") as caught:
        module.run(executor=process_client)
    assert caught.value.node_id == "read"
