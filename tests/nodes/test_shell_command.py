"""Tests of the shell-command node with real subprocesses."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from atomiton.errors import CancelledError
from atomiton.nodes import shell_command
from atomiton.nodes.shell_command import CommandError, CommandTimeoutError, Params, run
from atomiton.runtime.context import NodeContext

PY = sys.executable


def cmd(**kwargs: object) -> Params:
    return Params.model_validate(kwargs)


def is_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return False


def test_argv_is_never_a_shell() -> None:
    out = run(cmd(program="echo", args=["$HOME", "a;b", "*", "it's"]))
    assert out.stdout == "$HOME a;b * it's\n"
    assert out.exit_code == 0 and out.success and not out.timed_out and out.stderr == ""
    assert out.duration > 0


def test_numbers_in_args_become_text() -> None:
    out = run(cmd(program="echo", args=["n", 3, 1.5, True]))
    assert out.stdout == "n 3 1.5 true\n"


def test_stdin_is_piped_and_args_edge_wins() -> None:
    script = "import sys; data = sys.stdin.read(); print(data.upper(), sys.argv[1:])"
    params = cmd(program=PY, args=["-c", "print('param')"], stdin="param stdin")
    out = run(params, stdin="from the edge", args=["-c", script, "x"])
    assert out.stdout == "FROM THE EDGE ['x']\n"
    assert run(cmd(program=PY, args=["-c", script]), stdin=b"bytes").stdout == "BYTES []\n"


def test_no_stdin_means_empty_input() -> None:
    # stdin is /dev/null, not this process's terminal: a program reading it ends at once.
    out = run(
        cmd(program=PY, args=["-c", "import sys; print(repr(sys.stdin.read()))"], timeout=5000)
    )
    assert out.stdout == "''\n"


def test_environment_is_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMITON_BASE", "inherited")
    script = "import os; print(os.environ['ATOMITON_BASE'], os.environ['ATOMITON_EXTRA'])"
    out = run(cmd(program=PY, args=["-c", script], environment={"ATOMITON_EXTRA": 42}))
    assert out.stdout == "inherited 42\n"


def test_working_directory(tmp_path: Path) -> None:
    out = run(
        cmd(
            program=PY,
            args=["-c", "import os; print(os.getcwd())"],
            working_directory=str(tmp_path),
        )
    )
    assert Path(out.stdout.strip()).resolve() == tmp_path.resolve()
    with pytest.raises(FileNotFoundError, match="working directory .*nowhere.* does not exist"):
        run(cmd(program="true", working_directory=str(tmp_path / "nowhere")))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        run(cmd(program="true", working_directory=str(tmp_path / "file")))


def test_missing_and_unrunnable_programs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="'no-such-program-xyz' was not found on PATH"):
        run(cmd(program="no-such-program-xyz"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run(cmd(program=str(tmp_path / "missing.sh")))
    script = tmp_path / "plain.txt"
    script.write_text("echo hi\n")
    with pytest.raises(PermissionError, match="not executable"):
        run(cmd(program=str(script)))


def test_fail_on_error_both_ways() -> None:
    script = "import sys; print('out'); sys.stderr.write('first\\nlast words\\n'); sys.exit(3)"
    with pytest.raises(
        CommandError, match=r"exited with code 3; stderr ends with:\nfirst\nlast words"
    ) as info:
        run(cmd(program=PY, args=["-c", script]))
    assert info.value.exit_code == 3 and info.value.stdout == "out\n"
    out = run(cmd(program=PY, args=["-c", script], fail_on_error=False))
    assert (out.exit_code, out.success, out.stdout, out.stderr) == (
        3,
        False,
        "out\n",
        "first\nlast words\n",
    )


def test_capture_output_false(capfd: pytest.CaptureFixture[str]) -> None:
    out = run(cmd(program="echo", args=["passed through"], capture_output=False))
    assert out.stdout == "" and out.success
    assert "passed through" in capfd.readouterr().out


def test_large_output_does_not_deadlock() -> None:
    script = "import sys; sys.stdout.write('x' * 3_000_000); sys.stderr.write('y' * 1_000_000)"
    out = run(cmd(program=PY, args=["-c", script], timeout=20000))
    assert len(out.stdout) == 3_000_000 and len(out.stderr) == 1_000_000


def test_timeout_kills_the_whole_group() -> None:
    # sh starts a background grandchild, prints its pid, then waits on a foreground child.
    params = cmd(
        program="/bin/sh",
        args=["-c", "sleep 30 & echo $!; sleep 30"],
        timeout=500,
        fail_on_error=False,
    )
    started = time.perf_counter()
    out = run(params)
    assert time.perf_counter() - started < 5
    assert out.timed_out is True and out.success is False and out.exit_code == -9
    grandchild = int(out.stdout.split()[0])
    assert wait_gone(grandchild), f"grandchild {grandchild} survived the timeout"


def test_timeout_fails_by_default() -> None:
    with pytest.raises(CommandTimeoutError, match="sleep timed out after 300 ms") as info:
        run(cmd(program="sleep", args=["30"], timeout=300))
    assert isinstance(info.value, TimeoutError)


def test_cancellation_is_prompt() -> None:
    context = NodeContext.detached("sleep")
    threading.Timer(0.3, context.cancel).start()
    started = time.perf_counter()
    with pytest.raises(CancelledError, match="sleep was cancelled"):
        run(cmd(program="sleep", args=["30"]), context=context)
    assert time.perf_counter() - started < 3


def test_cancellation_leaves_no_survivor(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    context = NodeContext.detached("sh")

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 5
        while not pid_file.exists() or not pid_file.read_text().strip():
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        context.cancel()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    with pytest.raises(CancelledError):
        run(
            cmd(program="/bin/sh", args=["-c", f"sleep 30 & echo $! > {pid_file}; sleep 30"]),
            context=context,
        )
    assert wait_gone(int(pid_file.read_text()))
    with pytest.raises(CancelledError):  # already cancelled: nothing starts
        run(cmd(program="true"), context=context)


def test_spec_shape() -> None:
    spec = shell_command.SPEC
    assert spec.needs_context and spec.execution == "thread"
    assert [p.attr for p in spec.outputs] == list(shell_command.Output.__dataclass_fields__)
    assert [p.name for p in spec.outputs][:3] == ["stdout", "stderr", "exitCode"]


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_pipes_an_input(tmp_path: Path) -> None:
    from atomiton.compiler import compile_blueprint, load_module

    path = tmp_path / "flow.yaml"
    path.write_text("""
id: sh
interface:
  inputs: [{id: word, dataType: string, default: hi}]
nodes:
  - id: upper
    type: shell-command
    parameters: {program: tr, args: [a-z, A-Z]}
edges:
  - {source: input, sourceHandle: word, target: upper, targetHandle: stdin}
""")
    compiled = compile_blueprint(path)
    compile(compiled.code, str(path), "exec")
    assert "context=ex.context(0)" in compiled.code
    module = load_module(compiled)
    assert module.run(module.Inputs(word="shout")).upper == "SHOUT"
