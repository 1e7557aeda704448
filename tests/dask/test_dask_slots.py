"""What crosses between tasks: the slots each generated task reads and writes, on a cluster."""

from __future__ import annotations

from pathlib import Path

from distributed import Client

from dask_flows import Recorder, compiled

# Blocking nodes (a retry makes a code node leave the scheduling thread) in a diamond, the
# right arm with ``onError: branch``: each arm is its own task, the join reads both arms and
# the guard on the right arm's error slot.
DIAMOND = """
id: diamond
variables:
  word: {type: string, defaultValue: hello}
nodes:
  - id: start
    type: code
    parameters: {retries: 1, retryDelay: 0.01, code: "return data.upper()"}
  - id: leftArm
    type: code
    parameters: {retries: 1, retryDelay: 0.01, code: "return [data + '-left']"}
  - id: rightArm
    type: code
    parameters: {onError: branch, retries: 1, retryDelay: 0.01, code: "return [data + '-right']"}
  - id: join
    type: merge
  - id: shout
    type: code
    parameters: {code: "return ' '.join(str(x) for x in data)"}
edges:
  - {source: input, sourceHandle: word, target: start}
  - {source: start, target: leftArm}
  - {source: start, target: rightArm}
  - {source: leftArm, target: join}
  - {source: rightArm, target: join}
  - {source: join, target: shout}
  - {source: shout, target: output, targetHandle: shout}
  - {source: rightArm, sourceHandle: error, target: output, targetHandle: problem}
"""


def test_tasks_name_what_they_read_and_write(tmp_path: Path) -> None:
    module = compiled(tmp_path, DIAMOND)
    tasks = module._TASKS
    assert len(tasks) >= 3  # each arm runs apart from the other
    writer = {name: k for k, task in enumerate(tasks) for name in task.writes}
    for k, task in enumerate(tasks):
        assert len(task.makers) == len(task.writes)
        for name in task.reads:
            assert writer[name] != k  # only other tasks' slots cross
    by_node = {
        module.BLUEPRINT.nodes[i].id: name
        for task in tasks
        for name, i in zip(task.writes, task.makers)
        if not name.endswith("_error")
    }
    # Only what another task or the outputs read leaves its task: the start (read by the
    # arms), the arms (read by the join's task), the last node (an output); not the join,
    # which only the last node of its own chain reads.
    assert set(by_node) == {"start", "leftArm", "rightArm", "shout"}
    join = next(t for t in tasks if by_node["shout"] in t.writes)  # the join's chain
    # The join reads both arms, and the right arm's error record (its guard).
    assert {by_node["leftArm"], by_node["rightArm"]} <= set(join.reads)
    assert any(name.endswith("_error") for name in join.reads)
    assert by_node["start"] not in join.reads  # what it does not use stays where it is


def test_a_diamond_across_tasks_on_a_cluster(client: Client, tmp_path: Path) -> None:
    module = compiled(tmp_path, DIAMOND)
    here, there = Recorder(), Recorder()
    local = module.run(hooks=here)
    remote = module.run(hooks=there, executor=client)
    assert remote == local
    assert remote.shout == "HELLO-left HELLO-right"
    assert there.kinds() == here.kinds()
