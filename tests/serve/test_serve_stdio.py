"""The protocol over stdio (a real ``atomiton serve --stdio`` subprocess), and SIGTERM: the
server cancels its runs, they end as cancelled, and the process exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from atomiton.client import Client

from conftest import Served

# A program that would run for a minute: cancelling kills it, so the run ends at once.
LONG = """\
id: long
nodes:
  - {id: args, type: code, parameters: {code: "return ['60']"}}
  - {id: wait, type: shell-command, parameters: {program: sleep}}
edges:
  - {source: args, target: wait, targetHandle: args}
"""


def test_stdio_serves_runs_and_answers_garbage_with_errors(flows: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "atomiton", "serve", "--stdio", "--no-record"],
        cwd=flows,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"this is not json\n")
    process.stdin.write(
        b'{"jsonrpc": "2.0", "id": 1, "method": "run", "params": {"path": "steps.yaml"}}\n'
    )
    process.stdin.flush()
    first = json.loads(process.stdout.readline())
    assert first["error"]["code"] == -32700
    kinds = []
    run_id = None
    while True:
        message = json.loads(process.stdout.readline())
        if message.get("id") == 1:
            run_id = message["result"]["runId"]
            continue
        kinds.append(message["params"]["event"]["event"])
        if kinds[-1] == "execution.completed":
            break
    process.stdin.close()  # the client leaves: the server ends once its runs have
    assert process.wait(timeout=30) == 0
    assert run_id and kinds[0] == "execution.started"
    process.stdout.close()


def test_the_typed_client_spawns_a_stdio_server(flows: Path) -> None:
    with Client.spawn(["--no-record"], cwd=str(flows)) as client:
        run_id = client.run("steps.yaml")
        detail = client.wait(run_id)
        assert detail.run.status == "completed"
        assert detail.outputs == {} or detail.outputs is not None


def test_sigterm_cancels_the_runs_of_a_stdio_server(flows: Path) -> None:
    (flows / "long.yaml").write_text(LONG)
    with Client.spawn(["--no-record"], cwd=str(flows)) as client:
        run_id = client.run("long.yaml")
        time.sleep(0.3)
        process = client.process
        assert process is not None
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        kinds = [e["event"] for e in client.events(run_id)]
    assert kinds[-1] == "execution.cancelled"
    assert time.monotonic() - started < 20


def test_sigterm_cancels_the_runs_of_a_websocket_server(server: Served) -> None:
    (server.folder / "long.yaml").write_text(LONG)
    with Client.connect(server.rpc) as client:
        run_id = client.run("long.yaml")
        time.sleep(0.3)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        kinds = [e["event"] for e in client.events(run_id)]
    assert kinds[-1] == "execution.cancelled"
    code = server.process.wait(timeout=30)
    assert code in (0, -signal.SIGTERM), server.stderr()
    assert time.monotonic() - started < 20
