"""Fixtures for the command-line tests: a scratch folder as the current directory, blueprint
writers, and a way to call the command in-process (CliRunner) or as a real program."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from atomiton.cli import main

HELLO = """\
id: hello
interface:
  inputs:
    - {id: name, dataType: string, default: world}
  outputs:
    - {id: message, dataType: string}
nodes:
  - id: greet
    type: edit-fields
    parameters:
      values:
        message: "hi {{ inputs.name }}"
  - id: shout
    type: code
    parameters:
      code: return data["message"].upper()
edges:
  - {source: greet, target: shout}
  - {source: shout, target: output, targetHandle: message}
"""

# Four errors in one file: unknown type, unknown parameter, an edge to a missing node.
BAD = """\
nodes:
  - id: a
    type: edit-fieldz
  - id: b
    type: code
    parameters: {code: "return 1", bogus: 2}
edges:
  - {source: a, target: c}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder that is also the current directory (paths print relative to it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ATOMITON_PATH", raising=False)
    monkeypatch.setenv("ATOMITON_HOME", str(tmp_path / ".atomiton-home"))
    return tmp_path


WriteBlueprint = Callable[[str, str], Path]


@pytest.fixture
def write(workdir: Path) -> WriteBlueprint:
    """``write("flows/a.yaml", text)`` creates a file (and its folders) under ``workdir``."""

    def write(name: str, text: str) -> Path:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return Path(name)

    return write


Invoke = Callable[..., Result]


@pytest.fixture
def cli(workdir: Path) -> Invoke:
    """Run ``atomiton ARGS...`` in-process; stdout and stderr are kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def atomiton_command() -> list[str]:
    """The real console script when installed beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "atomiton"
    return [str(script)] if script.exists() else [sys.executable, "-m", "atomiton"]


def run_atomiton(
    args: Sequence[str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the installed command as a separate process, as a user or CI would.

    The timeout only guards against a hang: a cold ``check`` builds mypy's cache, which takes
    many seconds on a busy 2-core machine, and speed is measured in benchmarks/, not here.
    """
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ATOMITON_PATH", None)
    return subprocess.run(
        [*atomiton_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
