"""``atomiton run``: stdout shared by nothing, unique run ids, JSON outputs that are JSON, list
inputs that say how to write them, and running out of memory that is never exit 0."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from conftest import HELLO, Invoke, WriteBlueprint, run_atomiton

STREAMS = """\
interface:
  outputs:
    - {id: squares, dataType: any}
    - {id: endless, dataType: any}
    - {id: raw, dataType: any}
    - {id: nested, dataType: any}
nodes:
  - id: squares
    type: code
    parameters: {code: "return (i * i for i in range(4))"}
  - id: endless
    type: code
    parameters:
      code: |
        import itertools
        return itertools.count()
  - id: raw
    type: code
    parameters: {code: "return [b'ok', bytes([255, 0])]"}
  - id: nested
    type: code
    parameters: {code: "return {'rows': iter([{'a': 1}]), 'nan': float('nan'), 'obj': object()}"}
edges:
  - {source: squares, target: output, targetHandle: squares}
  - {source: endless, target: output, targetHandle: endless}
  - {source: raw, target: output, targetHandle: raw}
  - {source: nested, target: output, targetHandle: nested}
"""


def test_events_on_stdout_send_the_outputs_to_stderr(cli: Invoke, write: WriteBlueprint) -> None:
    write("hello.yaml", HELLO)

    for extra in ((), ("--json",)):
        result = cli("run", "hello.yaml", "--events", "-", *extra)

        assert result.exit_code == 0, result.output
        kinds = [json.loads(line)["event"] for line in result.stdout.splitlines()]
        assert kinds[0] == "execution.started" and kinds[-1] == "execution.completed"
        assert "HI WORLD" not in result.stdout
        last = result.stderr.splitlines()[-1]
        assert last == ('{"message": "HI WORLD"}' if extra else "message: HI WORLD")


def test_events_to_a_file_leave_the_outputs_on_stdout(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("hello.yaml", HELLO)

    result = cli("run", "hello.yaml", "--events", "log.jsonl", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"message": "HI WORLD"}
    assert (workdir / "log.jsonl").read_text().count("\n") >= 4
    missing = cli("run", "hello.yaml", "--events", "no/such/folder/log.jsonl")
    assert missing.exit_code == 2
    assert "cannot write no/such/folder/log.jsonl" in missing.stderr


def _run_ids(stdout: str) -> set[str]:
    return {json.loads(line)["run_id"] for line in stdout.splitlines()}


def test_every_run_has_its_own_sortable_run_id(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("hello.yaml", HELLO)

    first = run_atomiton(["run", "hello.yaml", "--events", "-"], workdir)
    time.sleep(0.002)
    second = run_atomiton(["run", "hello.yaml", "--events", "-"], workdir)
    third = cli("run", "hello.yaml", "--events", "-")

    ids = [_run_ids(r.stdout) for r in (first, second)] + [_run_ids(third.stdout)]
    assert all(len(one) == 1 for one in ids)  # every event of a run carries the same id
    (a,), (b,), (c,) = ids
    assert len({a, b, c}) == 3  # two processes and an in-process run: never the same id
    assert a < b < c  # ids sort by start time
    assert all(uuid.UUID(i).version == 7 for i in (a, b, c))


def test_a_list_input_given_as_text_says_to_write_json(cli: Invoke, write: WriteBlueprint) -> None:
    write(
        "typed.yaml",
        """\
        interface:
          inputs:
            - {id: tags, dataType: array, default: []}
            - {id: sizes, dataType: "array<integer>", default: []}
            - {id: options, dataType: object, default: {}}
        nodes:
          - {id: c, type: code, parameters: {code: "return 1"}}
        """,
    )

    tags = cli("run", "typed.yaml", "--input", "tags=a,b")
    sizes = cli("run", "typed.yaml", "--input", "sizes=1,2")
    options = cli("run", "typed.yaml", "--input", "options=a")

    assert tags.exit_code == sizes.exit_code == options.exit_code == 2
    assert """hint: tags takes a list: give it as JSON, e.g. --input 'tags=["a", "b"]'""" in (
        tags.stderr
    )
    assert "e.g. --input 'sizes=[1, 2]'" in sizes.stderr
    assert (
        """options takes an object: give it as JSON, e.g. --input 'options={"key": "value"}'"""
        in (options.stderr)
    )
    assert cli("run", "typed.yaml", "--input", 'tags=["a", "b"]').exit_code == 0


def test_json_outputs_never_hold_an_iterator_repr(cli: Invoke, write: WriteBlueprint) -> None:
    write("streams.yaml", STREAMS)

    started = time.monotonic()
    result = cli("run", "streams.yaml", "--json")

    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 10  # the endless stream is not read forever
    data = json.loads(result.stdout)
    assert data["squares"] == [0, 1, 4, 9]
    assert data["endless"] == "<stream of more than 100000 items, not printed>"
    assert "warning: output 'endless' is a stream of more than 100000 items" in result.stderr
    assert data["raw"] == ["ok", {"base64": "/wA=", "bytes": 2}]
    assert data["nested"] == {"rows": [{"a": 1}], "nan": None, "obj": "<object object>"}
    assert "<generator" not in result.stdout and "iterator object" not in result.stdout
    human = cli("run", "streams.yaml")
    assert human.exit_code == 0
    assert "<generator" not in human.stdout and "count(" not in human.stdout


MEMORY = """\
interface:
  outputs:
    - {id: rows, dataType: any}
nodes:
  - id: rows
    type: code
    parameters:
      code: |
        class Rows:
            def __iter__(self) -> "Rows":
                return self

            def __next__(self) -> int:
                raise MemoryError()

        return Rows()
edges:
  - {source: rows, target: output, targetHandle: rows}
"""


def test_running_out_of_memory_is_never_exit_0(cli: Invoke, write: WriteBlueprint) -> None:
    write("memory.yaml", MEMORY)
    write("node.yaml", MEMORY.replace("return Rows()", "return list(Rows())"))

    printing = cli("run", "memory.yaml", "--json")
    in_node = cli("run", "node.yaml", "--json")

    assert printing.exit_code == 3
    assert "out of memory" in printing.stderr
    assert printing.stdout == ""
    assert in_node.exit_code == 3
    assert "node 'rows' (code) failed: MemoryError" in in_node.stderr


def test_a_failing_node_is_named_by_the_path_the_user_gave(tmp_path: Path) -> None:
    # Modules record sources relative to the blueprint's folder; the command line shows them
    # from the current folder, so the position opens in an editor from where the user is.
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "fail.yaml").write_text(
        "id: fail\n"
        "nodes:\n"
        "  - id: boom\n"
        "    type: code\n"
        "    parameters: {code: 'raise ValueError(\"bad\")'}\n"
    )
    result = run_atomiton(["run", "flows/fail.yaml"], cwd=tmp_path)
    assert result.returncode == 3
    assert "flows/fail.yaml:5:24: node 'boom' (code) failed: ValueError: bad" in result.stderr
    assert "the node is at flows/fail.yaml:3:5" in result.stderr
    inside = run_atomiton(["run", "fail.yaml"], cwd=flows)
    assert "\nfail.yaml:5:24: node 'boom'" in "\n" + inside.stderr
