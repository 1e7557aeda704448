"""The CI script's own step for the JavaScript extra: run as CI runs it, it passes with the
engine installed and fails, saying so, when the engine cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dialect_support import needs_javascript

CI_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "run"
STEP_TITLE = "CI step: JavaScript extra"


def _step() -> str:
    """The step's lines: from its comment block to its closing ``fi``."""
    lines = CI_SCRIPT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if STEP_TITLE in line)
    end = next(i for i in range(start, len(lines)) if lines[i] == "fi")
    return "\n".join(lines[start : end + 1])


def _run_step(tmp_path: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    # A wrapper, not a link: a link to a venv's python outside the venv loses the venv.
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    script = "set -euo pipefail\n" + _step() + "\n"
    return subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_step_runs_after_the_dev_install_and_before_the_tests() -> None:
    text = CI_SCRIPT.read_text(encoding="utf-8")
    install = text.index('pip install --quiet -e ".[dev]"')
    assert install < text.index(STEP_TITLE) < text.index("python -m pytest")


def test_the_step_passes_with_the_engine(tmp_path: Path) -> None:
    needs_javascript()
    done = _run_step(tmp_path)
    assert done.returncode == 0, done.stderr
    assert STEP_TITLE in done.stdout


def test_the_step_fails_clearly_without_the_engine(tmp_path: Path) -> None:
    # A package of the engine's name that cannot be imported, found first on the path.
    shadow = tmp_path / "shadow" / "py_mini_racer"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError('no engine here')\n")
    done = _run_step(tmp_path, pythonpath=shadow.parent)
    assert done.returncode == 1
    assert "JavaScript engine (mini-racer, from the js extra) is missing" in done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="the CI script is bash")
def test_the_ci_script_is_valid_bash() -> None:
    assert subprocess.run(["bash", "-n", str(CI_SCRIPT)], timeout=30).returncode == 0
