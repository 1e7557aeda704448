"""Ctrl-C during ``atomiton run``: the run is cancelled, its programs killed, exit status 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import WriteBlueprint, atomiton_command

SLOW = """\
nodes:
  - id: nap
    type: shell-command
    parameters:
      program: sleep
      args: ["{marker}"]
  - id: after
    type: code
    parameters:
      code: return data
edges:
  - {{source: nap, sourceHandle: stdout, target: after}}
"""


def _sleep_pids(marker: str) -> list[int]:
    """Processes running ``sleep <marker>`` (the marker is unique to this test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 2 and argv[0].endswith(b"sleep") and argv[1] == marker.encode():
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to find the sleeping child")
def test_ctrl_c_cancels_the_run_and_kills_its_programs(
    write: WriteBlueprint, workdir: Path
) -> None:
    marker = f"{30 + os.getpid() % 1000 / 1000:.3f}"  # a 30 s sleep no one else is running
    write("slow.yaml", SLOW.format(marker=marker))
    process = subprocess.Popen(
        [*atomiton_command(), "run", "slow.yaml"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Whoever started the tests may ignore SIGINT (a background job does); a user's shell
        # does not, so give the command the default disposition a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 15
        while not _sleep_pids(marker):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "sleep never started"
            time.sleep(0.05)

        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "stopped 1 running node: nap" in stderr
    assert "skipped 1 node that had not run: after" in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    time.sleep(0.2)
    assert _sleep_pids(marker) == []
