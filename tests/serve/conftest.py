"""Fixtures of the serve tests: blueprints in ``tmp_path`` and a real server in a subprocess.

The server is ``python -m atomiton serve --port 0`` started for the test, in the test's own
folder; its address is read from the line it prints. Nothing is mocked: real sockets on
127.0.0.1, real runs on real threads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is part of the dev extra")

SLOW = """\
id: steps
name: Steps
interface:
  outputs:
    - {id: total, dataType: integer}
nodes:
  - {id: first, type: code, parameters: {code: "return 1"}}
  - {id: middle, type: code, parameters: {code: "import time\\ntime.sleep(DELAY)\\nreturn data + 1"}}
  - {id: last, type: code, parameters: {code: "return data * 10"}}
edges:
  - {source: first, target: middle}
  - {source: middle, target: last}
  - {source: last, target: output, targetHandle: total}
"""

FAILS = """\
id: fails
name: Fails
nodes:
  - {id: start, type: code, parameters: {code: "import time\\ntime.sleep(0.3)\\nreturn 1"}}
  - id: boom
    type: code
    parameters: {code: "raise ValueError('the numbers do not add up')"}
edges:
  - {source: start, target: boom}
"""
# Line and column of the node ``boom`` in FAILS, as positions are reported.
BOOM_AT = "fails.yaml:5:5"


@dataclass
class Served:
    """A running server: its address and process."""

    url: str
    process: subprocess.Popen[bytes]
    folder: Path
    log: Path

    def stderr(self) -> str:
        return self.log.read_text()

    @property
    def rpc(self) -> str:
        return self.url.replace("http://", "ws://").split("?")[0].rstrip("/") + "/rpc"


def write_flows(folder: Path, delay: float = 1.0) -> None:
    (folder / "steps.yaml").write_text(SLOW.replace("DELAY", str(delay)))
    (folder / "fails.yaml").write_text(FAILS)


def start_server(folder: Path, *args: str) -> Served:
    """Start ``atomiton serve --port 0`` in ``folder``; return once it printed its address.

    Its stderr goes to a file (a pipe nobody reads could fill up and stall the server).
    """
    env = {**os.environ, "ATOMITON_HOME": str(folder / "home"), "PYTHONUNBUFFERED": "1"}
    log = folder / f"server-{len(list(folder.glob('server-*.log')))}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "atomiton",
                "serve",
                "--port",
                "0",
                "--blueprints",
                str(folder / "blueprints"),
                *args,
            ],
            cwd=folder,
            env=env,
            stderr=stderr,
        )
    deadline = time.monotonic() + 60
    while "serving on" not in (text := log.read_text()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not start: {text}")
        time.sleep(0.05)
    line = next(line for line in text.splitlines() if "serving on" in line)
    return Served(line.split("serving on ", 1)[1].strip(), process, folder, log)


def stop_server(served: Served) -> int:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
    try:
        return served.process.wait(timeout=30)
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    write_flows(tmp_path)
    return tmp_path


@pytest.fixture
def server(flows: Path) -> Iterator[Served]:
    served = start_server(flows, "--db", str(flows / "history.db"))
    yield served
    stop_server(served)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the tests that only talk to it (it keeps no state between them)."""
    folder = tmp_path_factory.mktemp("shared")
    write_flows(folder)
    served = start_server(folder, "--no-record")
    yield served
    stop_server(served)


ServerFactory = Callable[..., Served]


@pytest.fixture
def server_factory(flows: Path) -> Iterator[ServerFactory]:
    started: list[Served] = []

    def make(*args: str) -> Served:
        served = start_server(flows, *args)
        started.append(served)
        return served

    yield make
    for served in started:
        stop_server(served)


def dedent(text: str) -> str:
    return textwrap.dedent(text)
