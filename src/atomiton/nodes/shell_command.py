"""The ``shell-command`` node: run one program with an argument vector, never through a shell.

It owns process start (argv, stdin, environment, working directory), output capture, and the
end of a run that goes wrong: a timeout or a cancellation kills the program's whole process
group, so children it started do not outlive it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

from pydantic import Field, field_validator

from ..errors import CancelledError
from ..runtime.confine import check_path
from .spec import NodeParams, Port, node_spec

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

# How much of stderr an error message quotes: enough for a compiler's last error, not a log.
_STDERR_TAIL: Final = 2000


class CommandError(RuntimeError):
    """The program exited with a non-zero code and ``failOnError`` is true.

    Attributes:
        program: the program that ran.
        exit_code: its exit code (negative: killed by that signal number).
        stdout: everything it wrote to stdout (when captured).
        stderr: everything it wrote to stderr (when captured).
    """

    def __init__(self, program: str, exit_code: int, stdout: str, stderr: str) -> None:
        self.program = program
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        how = f"exited with code {exit_code}"
        if exit_code < 0:
            try:
                how = f"was killed by {signal.Signals(-exit_code).name}"
            except ValueError:
                how = f"was killed by signal {-exit_code}"
        tail = stderr.strip()[-_STDERR_TAIL:]
        super().__init__(f"{program} {how}" + (f"; stderr ends with:\n{tail}" if tail else ""))


class CommandTimeoutError(TimeoutError):
    """The program ran longer than ``timeout`` and ``failOnError`` is true; it was killed."""

    def __init__(self, program: str, timeout_ms: float, stdout: str, stderr: str) -> None:
        self.program = program
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"{program} timed out after {timeout_ms:g} ms; its process group was killed"
        )


def _as_text(value: object) -> object:
    # YAML reads `args: [--count, 3]` with an int in it; a command line is text either way.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class Params(NodeParams):
    """Parameters of the ``shell-command`` node."""

    program: str = Field(
        description="The program to run: a name looked up on PATH (of the merged environment) or a path."
    )
    args: list[str] = Field(
        default_factory=list,
        description="Arguments, passed as they are: no shell quoting or expansion.",
    )
    stdin: str | bytes | None = Field(
        default=None,
        description="Text or bytes written to the program's standard input, which is then closed.",
    )
    working_directory: str | None = Field(
        default=None, description="Folder to run in; it must exist. Default: the current folder."
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Variables set on top of this process's environment."
    )
    capture_output: bool = Field(
        default=True,
        description="Capture stdout and stderr as text; false lets them through to this process's own.",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Milliseconds before the program and every process it started are killed; null: no limit.",
    )
    fail_on_error: bool = Field(
        default=True,
        description="A non-zero exit code or a timeout fails the node; false reports them in the outputs.",
    )

    @field_validator("args", mode="before")
    @classmethod
    def _args_text(cls, value: object) -> object:
        return [_as_text(v) for v in value] if isinstance(value, (list, tuple)) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _env_text(cls, value: object) -> object:
        return {k: _as_text(v) for k, v in value.items()} if isinstance(value, Mapping) else value


@dataclass(frozen=True, slots=True)
class Output:
    """What the ``shell-command`` node produces.

    Attributes:
        stdout: standard output decoded as UTF-8 (invalid bytes replaced); "" when not captured.
        stderr: standard error, likewise.
        exit_code: the exit code; negative when a signal ended the program (-9 after a timeout).
        success: exit code 0 and no timeout.
        timed_out: the program was killed because it exceeded ``timeout``.
        duration: milliseconds from start to the end of the process and its output.
    """

    stdout: Annotated[str, Port(description="Standard output.")]
    stderr: Annotated[str, Port(description="Standard error.")]
    exit_code: Annotated[int, Port(description="Exit code; negative when ended by a signal.")]
    success: Annotated[bool, Port(description="Exit code 0 and no timeout.")]
    timed_out: Annotated[bool, Port(description="Killed because it exceeded the timeout.")]
    duration: Annotated[float, Port(description="Milliseconds the program ran.")]


def run(
    params: Params,
    *,
    stdin: Annotated[
        str | bytes | None,
        Port(description="Text or bytes for standard input (overrides the stdin parameter)."),
    ] = None,
    args: Annotated[
        Sequence[str] | None, Port(description="Arguments (replace the args parameter).")
    ] = None,
    context: NodeContext | None = None,
) -> Output:
    """Run ``params.program`` with its arguments and wait for it.

    Args:
        params: the node's parameters.
        stdin: overrides ``params.stdin``.
        args: replace ``params.args``.
        context: cancellation: cancelling kills the process group and raises ``CancelledError``.

    Returns:
        The captured output, exit code and flags.

    Raises:
        FileNotFoundError: the program or the working directory does not exist.
        NotADirectoryError: the working directory is a file.
        PermissionError: the program is not executable.
        CommandError: non-zero exit with ``failOnError`` true.
        CommandTimeoutError: timeout with ``failOnError`` true.
        CancelledError: the run was cancelled.
    """
    argv = [
        params.program,
        *(str(_as_text(a)) for a in (args if args is not None else params.args)),
    ]
    feed = stdin if stdin is not None else params.stdin
    data = _stdin_bytes(feed)
    env = {**os.environ, **params.environment}
    cwd = _working_directory(params.working_directory)
    if context is not None:
        check_path(cwd or ".", context.allowed_paths, action="run a program in")
        context.check()
    pipe = subprocess.PIPE if params.capture_output else None
    started = time.perf_counter()
    try:
        # A session of its own makes the program a process-group leader, so killpg reaches every
        # child it starts (unless one starts its own session, which nothing can follow).
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=pipe,
            stderr=pipe,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise FileNotFoundError(_not_found(params.program, env, cwd)) from None
    except PermissionError:
        raise PermissionError(f"program {params.program!r} is not executable") from None

    group = _Group(process.pid)
    unregister = context.on_cancel(group.kill) if context is not None else (lambda: None)
    timed_out = False
    try:
        try:
            out, err = process.communicate(
                data, timeout=params.timeout / 1000 if params.timeout else None
            )
        except subprocess.TimeoutExpired:
            timed_out = True
            group.kill()
            out, err = process.communicate()
    except BaseException:
        group.kill()
        process.wait()
        raise
    finally:
        group.finish()
        unregister()
    duration = (time.perf_counter() - started) * 1000
    stdout = out.decode("utf-8", "replace") if out else ""
    stderr = err.decode("utf-8", "replace") if err else ""
    if context is not None and context.cancelled:
        raise CancelledError(f"{params.program} was cancelled; its process group was killed")
    code = process.returncode
    if params.fail_on_error:
        if timed_out:
            assert params.timeout is not None
            raise CommandTimeoutError(params.program, params.timeout, stdout, stderr)
        if code != 0:
            raise CommandError(params.program, code, stdout, stderr)
    return Output(stdout, stderr, code, code == 0 and not timed_out, timed_out, duration)


def _stdin_bytes(feed: object) -> bytes | None:
    """What to write to the program's stdin: text as UTF-8, numbers as text, data as JSON."""
    if feed is None or isinstance(feed, bytes):
        return feed
    if isinstance(feed, (bytearray, memoryview)):
        return bytes(feed)
    text = _as_text(feed)
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False, default=str)
    return text.encode("utf-8")


class _Group:
    """Kills a process group, once, and never after the run is over (the id could be reused)."""

    __slots__ = ("_pgid", "_done", "_lock")

    def __init__(self, pgid: int) -> None:
        self._pgid = pgid
        self._done = False
        self._lock = threading.Lock()

    def kill(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                os.killpg(self._pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # everyone in it has already exited

    def finish(self) -> None:
        with self._lock:
            self._done = True


def _working_directory(folder: str | None) -> str | None:
    if folder is None or folder == "":
        return None
    path = Path(folder)
    if not path.exists():
        raise FileNotFoundError(f"working directory {folder!r} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"working directory {folder!r} is a file, not a folder")
    return folder


def _not_found(program: str, env: Mapping[str, str], cwd: str | None) -> str:
    if os.sep in program or (os.altsep and os.altsep in program):
        base = Path(cwd) if cwd else Path.cwd()
        return f"program {program!r} does not exist (looked in {str(base)!r})"
    if shutil.which(program, path=env.get("PATH")) is None:
        return f"program {program!r} was not found on PATH"
    return f"program {program!r} could not be started (its interpreter may be missing)"


SPEC: Final = node_spec(
    run,
    description="Run a program with an argument list (never a shell); a timeout kills its process group.",
    execution="thread",
)
