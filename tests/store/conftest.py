"""Fixtures for the run-history tests: a scratch folder as the current directory, and real
blueprints compiled into modules (the recorder is tested on real runs, never on fake events)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from atomiton.compiler import compile_blueprint, load_module

# Two nodes: ``double`` doubles ``n``; ``check`` fails when ``n`` is negative, else adds one.
TWO_NODES = """\
id: two-nodes
name: Two nodes
version: 1.2.0
interface:
  inputs:
    - {id: n, dataType: integer, default: 3}
  outputs:
    - {id: total, dataType: integer}
nodes:
  - id: double
    type: code
    parameters:
      code: |
        return inputs.n * 2
  - id: check
    type: code
    parameters:
      code: |
        if inputs.n < 0:
            raise ValueError("negative input")
        return data + 1
edges:
  - {source: double, target: check}
  - {source: check, target: output, targetHandle: total}
"""

# ``wait`` sleeps ``delay`` seconds through its context (so a cancel interrupts it).
SLOW = """\
id: slow
interface:
  inputs:
    - {id: delay, dataType: number, default: 0.2}
  outputs:
    - {id: out, dataType: integer}
nodes:
  - id: wait
    type: code
    parameters:
      code: |
        import time
        time.sleep(inputs.delay)
        return 1
  - id: after
    type: code
    parameters:
      code: |
        return data + 1
edges:
  - {source: wait, target: after}
  - {source: after, target: output, targetHandle: out}
"""

CompileFlow = Callable[..., ModuleType]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder that is also the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def compile_flow(workdir: Path) -> CompileFlow:
    """``compile_flow(text, name="flow.yaml")``: write a blueprint, compile it, load it."""

    def compile_flow(text: str, name: str = "flow.yaml") -> ModuleType:
        path = workdir / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_module(compile_blueprint(path))

    return compile_flow


@pytest.fixture
def two_nodes(compile_flow: CompileFlow) -> ModuleType:
    """The module of ``TWO_NODES`` (blueprint file ``flow.yaml``)."""
    return compile_flow(TWO_NODES)


@pytest.fixture
def slow_flow(compile_flow: CompileFlow) -> ModuleType:
    """The module of ``SLOW`` (blueprint file ``slow.yaml``)."""
    return compile_flow(SLOW, "slow.yaml")
