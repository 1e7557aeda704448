"""A generated module run as a script: ``python -m app.flows.x`` and ``python path/to/x.py``.

Each test starts a real interpreter on a compiled module written to ``tmp_path``; the module's
``__main__`` entry (``atomiton.runtime.main``) parses the arguments, runs the flow and prints
the outputs as one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from atomiton.compiler import compile_blueprint

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _package(tmp_path: Path, name: str, code: str) -> Path:
    """``code`` written as the module ``app.flows.<name>`` under ``tmp_path``."""
    flows = tmp_path / "app" / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    for folder in (tmp_path / "app", flows):
        (folder / "__init__.py").write_text("", encoding="utf-8")
    module = flows / f"{name}.py"
    module.write_text(code, encoding="utf-8")
    return module


def _compiled(tmp_path: Path, yaml_text: str, name: str) -> Path:
    blueprint = tmp_path / f"{name}.yaml"
    blueprint.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return _package(tmp_path, name, compile_blueprint(blueprint).code)


def _python(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_module_runs_with_python_dash_m_and_prints_outputs_as_json(tmp_path: Path) -> None:
    _package(tmp_path, "hello", (GOLDEN / "hello" / "expected.py").read_text(encoding="utf-8"))
    done = _python(tmp_path, "-m", "app.flows.hello", "--input", "name=Ada")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"shout": "HELLO, ADA!HELLO, ADA!"}


def test_module_runs_by_its_path_with_inputs_json_from_stdin_and_from_a_file(
    tmp_path: Path,
) -> None:
    module = _package(
        tmp_path, "hello", (GOLDEN / "hello" / "expected.py").read_text(encoding="utf-8")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    piped = _python(elsewhere, str(module), "--inputs-json", "-", stdin='{"name": "Bo"}')
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout) == {"shout": "HELLO, BO!HELLO, BO!"}
    file = elsewhere / "inputs.json"
    file.write_text('{"name": "Cy"}', encoding="utf-8")
    # --input wins over --inputs-json, as with `atomiton run`.
    both = _python(elsewhere, str(module), "--inputs-json", str(file), "--input", "name=Di")
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout) == {"shout": "HELLO, DI!HELLO, DI!"}


def test_golden_outputs_match_when_run_as_a_script(tmp_path: Path) -> None:
    """A golden flow with typed inputs: values are coerced by their field's type."""
    case = GOLDEN / "transform_ops"
    _package(tmp_path, "ops", (case / "expected.py").read_text(encoding="utf-8"))
    done = _python(tmp_path, "-m", "app.flows.ops", "--input", "minimum=6")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((case / "outputs.json").read_text("utf-8"))


TYPED = """\
    id: typed
    interface:
      inputs:
        - {id: n, dataType: number, required: true}
        - {id: tags, dataType: array, default: []}
      outputs:
        - {id: total, dataType: number}
    nodes:
      - id: add
        type: code
        parameters:
          code: "return inputs.n + len(inputs.tags)"
    edges:
      - {source: add, target: output, targetHandle: total}
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--input", "n=oops"], "n: "),
        (["--input", "nope=1"], "unknown input 'nope'"),
        (["--input", "n"], "expected NAME=VALUE"),
        ([], "n: Field required"),
        (["--inputs-json", "[1]"], "must be a JSON object"),
        (["--inputs-json", "{oops"], "not valid JSON"),
        (["--inputs-json", "missing.json"], "cannot read missing.json"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-i", "n=1", "--executor", "ray"], "--executor: expected 'threads', 'dask'"),
        (["-i", "n=1", "--concurrency", "0"], "invalid int value: '0'"),
        (["-i", "n=1", "--timeout", "nan"], "invalid float value: 'nan'"),
    ],
)
def test_bad_input_is_a_message_and_exit_2_never_a_traceback(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    _compiled(tmp_path, TYPED, "typed")
    done = _python(tmp_path, "-m", "app.flows.typed", *args)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_typed_values_are_read_as_json(tmp_path: Path) -> None:
    _compiled(tmp_path, TYPED, "typed")
    done = _python(tmp_path, "-m", "app.flows.typed", "-i", "n=2", "-i", 'tags=["a", "b"]')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 4}


def test_a_failing_node_prints_its_node_error_and_exits_1(tmp_path: Path) -> None:
    _compiled(
        tmp_path,
        """\
        id: failing
        nodes:
          - id: boom
            type: code
            parameters:
              code: |
                x = 1
                raise ValueError("no good")
        """,
        "failing",
    )
    done = _python(tmp_path, "-m", "app.flows.failing")
    assert done.returncode == 1, done.stderr
    # The NodeError names the node and the failing statement's line in the blueprint.
    assert "failing.yaml:8:9:" in done.stderr
    assert "node 'boom' (code) failed: ValueError: no good" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_executor_option_is_refused_clearly_by_a_module_without_executors(
    tmp_path: Path,
) -> None:
    module = _package(
        tmp_path, "hello", (GOLDEN / "hello" / "expected.py").read_text(encoding="utf-8")
    )
    code = module.read_text(encoding="utf-8")
    done = _python(tmp_path, "-m", "app.flows.hello", "--executor", "threads")
    if "executor: " in code:  # run() has the parameter: threads is the local executor
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"shout": "HELLO, WORLD!HELLO, WORLD!"}
    else:
        assert done.returncode == 2
        assert "takes no executor: compile it again" in done.stderr


def test_sigterm_cancels_the_run_and_exits_143(tmp_path: Path) -> None:
    _compiled(
        tmp_path,
        """\
        id: sleepy
        nodes:
          - id: wait
            type: shell-command
            parameters:
              program: sh
              args: ["-c", "echo $$ > pid.txt; exec sleep 30"]
        """,
        "sleepy",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app.flows.sleepy"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid_file = tmp_path / "pid.txt"
        deadline = time.monotonic() + 30
        while not pid_file.is_file() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        program = int(pid_file.read_text())
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert time.monotonic() - started < 10
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):  # the program was killed with the run
        os.kill(program, 0)


def test_the_entry_is_not_run_on_import(tmp_path: Path) -> None:
    """Importing the module (a worker process unpickling its functions) runs nothing."""
    _package(tmp_path, "hello", (GOLDEN / "hello" / "expected.py").read_text(encoding="utf-8"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import app.flows.hello as m; print(m.run().shout)", "--input"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "HELLO, WORLD!HELLO, WORLD!"
