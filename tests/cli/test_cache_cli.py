"""``atomiton run --cache / --refresh / --resume / --from`` and ``atomiton cache``, with real
recorded runs in a real SQLite history: executions are counted by python nodes that append to
a file, a failing run fixed and resumed runs only from the failure, and a secret never reaches
the database files."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from atomiton.cli import main
from atomiton.store import RunStore

STEPS = """
from pathlib import Path

from pydantic import SecretStr

LOG = Path(__file__).with_name("calls.log")


def _note(name: str) -> None:
    with LOG.open("a") as log:
        log.write(name + "\\n")


def fetch(n: int) -> list[int]:
    _note("fetch")
    return list(range(n))


def report(total: int) -> str:
    _note("report")
    return f"total {total}"


def token(data: int) -> SecretStr:
    _note("token")
    return SecretStr("hunter2-very-secret")


def use(token: SecretStr) -> str:
    _note("use")
    return "used " + str(len(token.get_secret_value()))
"""

FLOW = """\
id: resumable
interface:
  inputs:
    - {id: n, dataType: integer, default: 4}
  outputs:
    - {id: text, dataType: string}
nodes:
  - id: fetch
    type: python
    function: "cli_steps:fetch"
    inputPorts: [{id: n, dataType: integer}]
    outputPorts: [{id: values, dataType: "array<integer>"}]
  - id: total
    type: code
    parameters: {code: "return sum(data) + BROKEN"}
  - id: report
    type: python
    function: "cli_steps:report"
    inputPorts: [{id: total, dataType: integer}]
    outputPorts: [{id: text, dataType: string}]
    parameters: {pure: true}
edges:
  - {source: input, sourceHandle: n, target: fetch, targetHandle: n}
  - {source: fetch, target: total}
  - {source: total, target: report, targetHandle: total}
  - {source: report, target: output, targetHandle: text}
"""


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def project(workdir: Path, forget_new_modules: None) -> Iterator[Path]:
    (workdir / "cli_steps.py").write_text(STEPS)
    yield workdir
    if str(workdir) in sys.path:  # ``atomiton run`` puts the working directory there
        sys.path.remove(str(workdir))


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    found = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return found


def history() -> Path:
    return Path(os.environ["ATOMITON_HOME"]) / "history.db"


def last_run() -> str:
    with RunStore.open(history()) as store:
        return store.list_runs(last=1)[0].id


def test_a_second_cached_run_recomputes_nothing(project: Path) -> None:
    (project / "flow.yaml").write_text(
        FLOW.replace(" + BROKEN", "").replace(
            "outputPorts: [{id: values", "parameters: {pure: true}\n    outputPorts: [{id: values"
        )
    )
    first = cli("run", "flow.yaml", "--cache", "--json")
    assert first.exit_code == 0, first.stderr
    assert calls(project) == ["fetch", "report"]
    second = cli("run", "flow.yaml", "--cache", "--json")
    assert second.exit_code == 0 and second.stdout == first.stdout
    assert calls(project) == []
    with RunStore.open(history()) as store:
        detail = store.get_run(last_run())
    assert detail is not None
    assert {node.node_id: node.state for node in detail.nodes} == {
        "fetch": "cached",
        "total": "cached",
        "report": "cached",
    }
    # --refresh runs the node again; --no-cache runs everything.
    assert cli("run", "flow.yaml", "--refresh", "fetch").exit_code == 0
    assert calls(project) == ["fetch"]
    assert cli("run", "flow.yaml", "--no-cache").exit_code == 0
    assert calls(project) == ["fetch", "report"]
    listed = cli("cache", "ls")
    assert listed.exit_code == 0 and "resumable" in listed.stdout and "fetch" in listed.stdout
    cleared = cli("cache", "clear", "--node", "fetch")
    assert cleared.exit_code == 0 and "deleted" in cleared.stderr
    assert cli("run", "flow.yaml", "--cache").exit_code == 0
    assert calls(project) == ["fetch"]
    assert cli("cache", "gc", "--older-than", "0s").exit_code == 0
    assert "empty" in cli("cache").stderr


def test_a_failing_run_fixed_and_resumed_runs_only_from_the_failure(project: Path) -> None:
    flow = project / "flow.yaml"
    flow.write_text(FLOW)
    failed = cli("run", "flow.yaml")
    assert failed.exit_code != 0
    assert calls(project) == ["fetch"]
    failed_id = last_run()
    flow.write_text(FLOW.replace(" + BROKEN", ""))
    resumed = cli("run", "flow.yaml", "--resume", failed_id[:10], "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert '"total 6"' in resumed.stdout
    assert calls(project) == ["report"]  # fetch (a side effect) was not repeated
    assert f"resuming run {failed_id}" in resumed.stderr
    assert "reuse fetch" in resumed.stderr
    assert "its code changed" in resumed.stderr or "did not finish" in resumed.stderr
    resumed_id = last_run()
    show = cli("runs", "show", resumed_id)
    assert f"resumed    run {failed_id}" in show.stdout
    assert "resumed" in show.stdout.split("NODE", 1)[1]
    # --from forces the node and what is downstream of it; the rest is reused.
    again = cli("run", "flow.yaml", "--resume", resumed_id, "--from", "total")
    assert again.exit_code == 0, again.stderr
    assert calls(project) == ["report"]
    assert "forced by --from" in again.stderr


def test_resume_and_cache_options_are_checked(project: Path) -> None:
    (project / "flow.yaml").write_text(FLOW.replace(" + BROKEN", ""))
    assert cli("run", "flow.yaml", "--from", "total").exit_code == 2
    assert cli("run", "flow.yaml", "--refresh", "nope").exit_code == 2
    assert cli("run", "flow.yaml", "--no-cache", "--refresh", "fetch").exit_code == 2
    unknown = cli("run", "flow.yaml", "--resume", "0000nope")
    assert unknown.exit_code == 1 and "no run" in unknown.stderr
    assert calls(project) == []


SECRET_FLOW = """\
id: secretive
settings: {cache: auto}
interface:
  inputs:
    - {id: n, dataType: integer, default: 1}
  outputs:
    - {id: text, dataType: string}
nodes:
  - id: token
    type: python
    function: "cli_steps:token"
    outputPorts: [{id: token, dataType: any}]
    parameters: {pure: true}
  - id: use
    type: python
    function: "cli_steps:use"
    inputPorts: [{id: token, dataType: any}]
    outputPorts: [{id: text, dataType: string}]
    parameters: {pure: true}
edges:
  - {source: input, sourceHandle: n, target: token}
  - {source: token, target: use, targetHandle: token}
  - {source: use, target: output, targetHandle: text}
"""


def test_a_secret_never_reaches_the_database(project: Path) -> None:
    (project / "flow.yaml").write_text(SECRET_FLOW)
    for _ in range(2):
        result = cli("run", "flow.yaml", "--json")
        assert result.exit_code == 0, result.stderr
        assert '"used 19"' in result.stdout
    # Neither the secret nor what reads it was cached: both ran twice.
    assert calls(project) == ["token", "use", "token", "use"]
    folder = history().parent
    files = [path for path in folder.iterdir() if path.name.startswith("history.db")]
    assert files
    for path in files:
        assert b"hunter2" not in path.read_bytes(), path.name


SECRET_INPUT_FLOW = """\
id: secret-input
settings: {cache: auto}
interface:
  inputs:
    - {id: token, dataType: string, secret: true, default: "hunter2-default-secret"}
  outputs:
    - {id: text, dataType: string}
nodes:
  - id: use
    type: code
    parameters: {code: 'return "used " + str(len(data))'}
edges:
  - {source: input, sourceHandle: token, target: use}
  - {source: use, target: output, targetHandle: text}
"""


def test_a_secret_input_is_a_secretstr_kept_out_of_keys_and_the_database(project: Path) -> None:
    (project / "flow.yaml").write_text(SECRET_INPUT_FLOW)
    given = ("--input", "token=hunter2-given-secret")
    for _ in range(2):
        result = cli("run", "flow.yaml", "--json", *given)
        assert result.exit_code == 0, result.stderr
        assert '"used 20"' in result.stdout
    with RunStore.open(history()) as store:
        [node] = store.get_run(last_run()).nodes
    assert node.state == "done"  # ran again: a node reading a secret is never cached
    assert cli("run", "flow.yaml", "--json").stdout.strip().endswith('"used 22"}')
    for path in history().parent.iterdir():
        if path.name.startswith("history.db"):
            assert b"hunter2" not in path.read_bytes(), path.name
    compiled = cli("compile", "flow.yaml", "-o", "out")
    assert compiled.exit_code == 0, compiled.stderr
    text = "".join(path.read_text() for path in (project / "out").glob("*.py"))
    assert 'token: SecretStr = SecretStr("hunter2-default-secret")' in text


def test_a_secret_input_that_is_not_a_string_is_a_positioned_error(project: Path) -> None:
    (project / "flow.yaml").write_text(
        SECRET_INPUT_FLOW.replace("dataType: string, secret", "dataType: integer, secret").replace(
            'default: "hunter2-default-secret"', "default: 1"
        )
    )
    result = cli("check", "flow.yaml", "--no-mypy")
    assert result.exit_code != 0
    assert (
        "flow.yaml:5:" in result.stderr + result.stdout and "E0102" in result.stderr + result.stdout
    )
