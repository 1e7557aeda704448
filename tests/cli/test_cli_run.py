"""``atomiton run``: outputs, inputs, events and failures, in-process and as a real program."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BAD, HELLO, Invoke, WriteBlueprint, run_atomiton

FAILING = """\
nodes:
  - id: greet
    type: edit-fields
    parameters:
      values: {message: hi}
  - id: explode
    type: code
    parameters:
      code: |
        raise ValueError("no " + data["message"])
edges:
  - {source: greet, target: explode}
"""

TYPED = """\
interface:
  inputs:
    - {id: count, dataType: integer}
    - {id: ratio, dataType: number, default: 1.5}
    - {id: loud, dataType: boolean, default: false}
    - {id: tags, dataType: array, default: []}
  outputs:
    - {id: result, dataType: any}
nodes:
  - id: collect
    type: code
    parameters:
      code: |
        return [inputs.count, inputs.ratio, inputs.loud, inputs.tags]
edges:
  - {source: collect, target: output, targetHandle: result}
"""


def test_run_prints_outputs(cli: Invoke, write: WriteBlueprint) -> None:
    write("hello.yaml", HELLO)

    result = cli("run", "hello.yaml", "--input", "name=ada")

    assert result.exit_code == 0, result.output
    assert result.stdout == "message: HI ADA\n"


def test_run_json_prints_one_object(cli: Invoke, write: WriteBlueprint) -> None:
    write("hello.yaml", HELLO)

    result = cli("run", "hello.yaml", "--json", "--inputs-json", '{"name": "bo"}')

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"message": "HI BO"}


def test_inputs_are_coerced_by_type(cli: Invoke, write: WriteBlueprint) -> None:
    write("typed.yaml", TYPED)

    result = cli(
        "run", "typed.yaml", "--json", "-i", "count=3", "-i", "loud=true", "-i", 'tags=["a"]'
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"result": [3, 1.5, True, ["a"]]}


def test_bad_inputs_are_usage_errors(cli: Invoke, write: WriteBlueprint) -> None:
    write("typed.yaml", TYPED)

    unknown = cli("run", "typed.yaml", "-i", "count=1", "-i", "cuont=2")
    assert unknown.exit_code == 2
    assert "unknown input 'cuont'" in unknown.stderr
    assert "count: int (required)" in unknown.stderr

    invalid = cli("run", "typed.yaml", "-i", "count=lots")
    assert invalid.exit_code == 2
    assert "count: Input should be a valid integer" in invalid.stderr


def test_bad_blueprint_exits_1_with_diagnostics(cli: Invoke, write: WriteBlueprint) -> None:
    write("bad.yaml", BAD)

    result = cli("run", "bad.yaml")

    assert result.exit_code == 1
    assert "bad.yaml:2:5: error[E0202]" in result.stderr
    assert "Traceback" not in result.output


def test_failing_node_exits_3_naming_the_node(cli: Invoke, write: WriteBlueprint) -> None:
    write("fail.yaml", FAILING)

    result = cli("run", "fail.yaml")

    assert result.exit_code == 3
    # At the failing line of the node's code, and the node's own place after it.
    assert "fail.yaml:10:9: node 'explode' (code) failed:" in result.stderr
    assert "the node is at fail.yaml:6:5" in result.stderr
    assert "no hi" in result.stderr
    assert "Traceback" not in result.output


def test_events_are_json_lines(cli: Invoke, write: WriteBlueprint, workdir: Path) -> None:
    write("hello.yaml", HELLO)

    result = cli("run", "hello.yaml", "--events", "events.jsonl", "--json")

    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    assert len(events) >= 4
    assert all(isinstance(event, dict) for event in events)
    text = json.dumps(events)
    assert "greet" in text and "shout" in text


# --- the installed program, end to end --------------------------------------------------------


def test_program_compiles_checks_and_runs(write: WriteBlueprint, workdir: Path) -> None:
    write("flows/hello.yaml", HELLO)

    compiled = run_atomiton(["compile", "flows", "-o", "gen"], workdir)
    assert compiled.returncode == 0, compiled.stderr
    assert (workdir / "gen/hello.py").is_file()
    fresh = run_atomiton(["compile", "flows", "-o", "gen", "--check"], workdir)
    assert fresh.returncode == 0, fresh.stderr
    write("flows/hello.yaml", HELLO.replace("hi ", "hey "))
    stale = run_atomiton(["compile", "flows", "-o", "gen", "--check"], workdir)
    assert stale.returncode == 1
    assert "gen/hello.py: would change" in stale.stderr

    checked = run_atomiton(["check", "flows"], workdir)  # with mypy
    assert checked.returncode == 0, checked.stderr
    assert "ok: 1 blueprint checked" in checked.stderr

    ran = run_atomiton(["run", "flows/hello.yaml", "--json", "--input", "name=x"], workdir)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"message": "HEY X"}


def test_program_reports_errors_without_tracebacks(write: WriteBlueprint, workdir: Path) -> None:
    write("bad.yaml", BAD)
    write("fail.yaml", FAILING)

    bad = run_atomiton(["compile", "bad.yaml", "-o", "gen"], workdir)
    assert bad.returncode == 1
    assert "bad.yaml:2:5: error[" in bad.stderr
    assert "Traceback" not in bad.stderr

    failed = run_atomiton(["run", "fail.yaml"], workdir)
    assert failed.returncode == 3
    assert "node 'explode' (code) failed" in failed.stderr
    assert "Traceback" not in failed.stderr

    usage = run_atomiton(["run", "fail.yaml", "--input", "nope=1"], workdir)
    assert usage.returncode == 2
    assert "unknown input 'nope'" in usage.stderr


def test_program_writes_events_to_stdout(write: WriteBlueprint, workdir: Path) -> None:
    write("hello.yaml", HELLO)

    ran = run_atomiton(["run", "hello.yaml", "--events", "-"], workdir)

    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines()]  # stdout holds events only
    assert len(events) >= 4
    assert ran.stderr.splitlines()[-1] == "message: HI WORLD"  # the outputs went to stderr


SLOW = """\
nodes:
  - id: nap
    type: shell-command
    parameters: {program: sleep, args: ["5"]}
  - id: after
    type: code
    parameters: {code: return data}
edges:
  - {source: nap, sourceHandle: stdout, target: after}
"""


def test_run_timeout_exits_3_and_lists_what_did_not_run(cli: Invoke, write: WriteBlueprint) -> None:
    write("slow.yaml", SLOW)

    result = cli("run", "slow.yaml", "--timeout", "0.3")

    assert result.exit_code == 3
    assert "timeout" in result.stderr
    assert "stopped 1 running node: nap" in result.stderr
    assert "skipped 1 node that had not run: after" in result.stderr


def test_several_failures_are_each_reported() -> None:
    from atomiton.cli.report import Reporter
    from atomiton.cli.run_cmd import _report_failure
    from atomiton.errors import CancelledError, NodeError

    group = ExceptionGroup(
        "2 tasks of the flow failed",
        [
            NodeError("boom", node_id="a", node_type="code", source="f.yaml", line=3, column=5),
            NodeError("bang", node_id="b", node_type="code", source="f.yaml", line=7, column=5),
            CancelledError("sibling stopped"),
        ],
    )
    reporter = Reporter()
    with reporter.console.capture() as captured:
        code = _report_failure(group, reporter, None, Path("f.yaml"))

    assert code == 3
    assert captured.get().splitlines() == [
        "f.yaml:3:5: node 'a' (code) failed: boom",
        "f.yaml:7:5: node 'b' (code) failed: bang",
    ]


def test_concurrency_reaches_the_run(cli: Invoke, write: WriteBlueprint) -> None:
    write("hello.yaml", HELLO)

    result = cli("run", "hello.yaml", "--concurrency", "1", "--events", "-")

    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout.splitlines()[0])
    assert (started["event"], started["concurrency"]) == ("execution.started", 1)
    assert cli("run", "hello.yaml", "--concurrency", "0").exit_code == 2
