"""SIGTERM and SIGHUP to ``atomiton run`` cancel the run like Ctrl-C: every program it started
(and their children) is killed, and the exit status is 128 + the signal (issue 9, item 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import WriteBlueprint, atomiton_command

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to find processes")

# The shell starts a grandchild (the backgrounded sleep) besides its own child.
FLOW = """\
nodes:
  - id: nap
    type: shell-command
    parameters:
      program: sh
      args: ["-c", "sleep {a} & sleep {b}; wait"]
  - id: after
    type: code
    parameters:
      code: return data
edges:
  - {{source: nap, sourceHandle: stdout, target: after}}
"""


def _markers() -> tuple[str, str]:
    """Two sleep durations no other test runs at the same time (60 s and a bit)."""
    base = 60 + (os.getpid() % 997) / 1000 + time.monotonic_ns() % 1000 / 1_000_000
    return f"{base:.6f}", f"{base + 1:.6f}"


def _procs() -> dict[int, tuple[int, list[bytes]]]:
    """Every live process: pid -> (process group, argv)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat[0] != "Z":
            found[int(entry.name)] = (int(stat[2]), argv)
    return found


def _sleepers(markers: tuple[str, str]) -> dict[int, int]:
    """pid -> process group of the ``sleep`` processes started with one of ``markers``."""
    wanted = {m.encode() for m in markers}
    return {
        pid: group
        for pid, (group, argv) in _procs().items()
        if len(argv) >= 2 and argv[0].endswith(b"sleep") and argv[1] in wanted
    }


def _wait_for_sleepers(process: subprocess.Popen[str], markers: tuple[str, str]) -> dict[int, int]:
    deadline = time.monotonic() + 20
    while len(found := _sleepers(markers)) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sleeps never started"
        time.sleep(0.05)
    return found


def _survivors(groups: set[int], pids: set[int]) -> list[int]:
    deadline = time.monotonic() + 2
    while True:
        left = [pid for pid, (group, _) in _procs().items() if group in groups or pid in pids]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)
def test_signal_cancels_the_run_and_kills_every_program(
    write: WriteBlueprint, workdir: Path, signum: int, status: int
) -> None:
    markers = _markers()
    write("slow.yaml", FLOW.format(a=markers[0], b=markers[1]))
    process = subprocess.Popen(
        [*atomiton_command(), "run", "slow.yaml"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Give the command the dispositions a terminal would (a background job ignores SIGINT).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        sleepers = _wait_for_sleepers(process, markers)
        started = time.monotonic()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=15)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for pid in _sleepers(markers):
            os.kill(pid, signal.SIGKILL)

    assert process.returncode == status, stderr
    assert took < 5, f"took {took:.1f}s to stop"
    assert "Traceback" not in stderr
    assert "stopped 1 running node: nap" in stderr
    assert "skipped 1 node that had not run: after" in stderr
    if signum != signal.SIGINT:
        assert f"terminated: the run was cancelled ({signal.Signals(signum).name}" in stderr
    assert stdout == ""
    assert _survivors(set(sleepers.values()), set(sleepers)) == []


def test_a_service_forwards_sigterm_with_cancel_on_signals(tmp_path: Path) -> None:
    """The documented recipe for code that embeds ``run()``: a real process, a real signal."""
    markers = _markers()
    (tmp_path / "slow.yaml").write_text(FLOW.format(a=markers[0], b=markers[1]))
    script = tmp_path / "service.py"
    script.write_text(textwrap.dedent("""\
        import sys
        from pathlib import Path

        from atomiton import CancelledError
        from atomiton.compiler import CompileOptions, compile_blueprint, load_module
        from atomiton.runtime import cancel_on_signals

        here = Path(__file__).parent
        flow = load_module(
            compile_blueprint(here / "slow.yaml", options=CompileOptions(root=here))
        )
        with cancel_on_signals() as stop:
            print("ready", flush=True)
            try:
                flow.run()
            except CancelledError as exc:
                print("cancelled:", exc, flush=True)
        sys.exit(128 + stop.signal if stop.signal else 0)
        """))
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        sleepers = _wait_for_sleepers(process, markers)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for pid in _sleepers(markers):
            os.kill(pid, signal.SIGKILL)
    assert process.returncode == 143, stderr
    assert "cancelled:" in stdout
    assert _survivors(set(sleepers.values()), set(sleepers)) == []


def test_an_ignored_sighup_stays_ignored_as_under_nohup(
    write: WriteBlueprint, workdir: Path
) -> None:
    marker = f"3.{os.getpid() % 1000:03d}{time.monotonic_ns() % 1000:03d}"
    write(
        "quick.yaml",
        f"nodes: [{{id: nap, type: shell-command, parameters: {{program: sleep, args: ['{marker}']}}}}]\n",
    )
    process = subprocess.Popen(
        [*atomiton_command(), "run", "quick.yaml"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 20
        while not _sleepers((marker, marker)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sleep never started"
            time.sleep(0.02)
        process.send_signal(signal.SIGHUP)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "nap" in stdout
