"""The protocol over a real WebSocket: errors that keep the connection, runs and their events,
late subscribers, clients that leave, cancel/pause/resume, compile/check, the blueprint folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from atomiton.client import Client, RpcCallError

from conftest import BOOM_AT, Served, ServerFactory


def exchange(ws: object, text: str) -> object:
    ws.send(text)  # type: ignore[attr-defined]
    return json.loads(ws.recv(timeout=10))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", -32700),
        ("[]", -32600),
        ("42", -32600),
        ('{"jsonrpc": "1.0", "id": 1, "method": "nodes.list"}', -32600),
        ('{"jsonrpc": "2.0", "id": [1], "method": "nodes.list"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "no.such"}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": "run", "params": {}}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "run", "params": [1]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "runs.list", "params": {"last": "x"}}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "cancel", "params": {"runId": "nope"}}', -32004),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "blueprints.get", "params": {"name": "../x.yaml"}}',
            -32602,
        ),
    ],
)
def test_a_malformed_message_gets_an_error_and_the_connection_stays(
    shared_server: Served, message: str, code: int
) -> None:
    with connect(shared_server.rpc) as ws:
        reply = exchange(ws, message)
        assert isinstance(reply, dict) and reply["error"]["code"] == code, reply
        assert "Traceback" not in json.dumps(reply)
        ok = exchange(ws, '{"jsonrpc": "2.0", "id": 7, "method": "nodes.list"}')
        assert isinstance(ok, dict) and ok["id"] == 7
        assert any(n["type"] == "transform" for n in ok["result"]["nodes"])


def test_a_batch_gets_one_array_and_notifications_get_no_reply(shared_server: Served) -> None:
    with connect(shared_server.rpc) as ws:
        reply = exchange(
            ws,
            '[{"jsonrpc": "2.0", "id": 1, "method": "nodes.list"},'
            ' {"jsonrpc": "2.0", "method": "nodes.list"},'
            ' {"jsonrpc": "2.0", "id": 2, "method": "bad"}]',
        )
        assert isinstance(reply, list) and [r["id"] for r in reply] == [1, 2]
        assert reply[1]["error"]["code"] == -32601


def test_a_run_streams_every_event_in_order_and_ends_recorded(server: Served) -> None:
    with Client.connect(server.rpc) as client:
        run_id = client.run("steps.yaml", concurrency=2)
        events = list(client.events(run_id))
        detail = client.wait(run_id)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "execution.started" and kinds[-1] == "execution.completed"
    assert all(e["run_id"] == run_id for e in events)
    assert kinds.index("node.started") < kinds.index("node.completed")
    assert detail.run.status == "completed"
    assert {n.id: n.state for n in detail.nodes} == {
        "first": "done",
        "middle": "done",
        "last": "done",
    }
    assert detail.events == len(events)
    assert detail.outputs == {"total": 20}


def test_a_late_subscriber_gets_the_events_so_far_then_the_live_ones(server: Served) -> None:
    with Client.connect(server.rpc) as starter, Client.connect(server.rpc) as late:
        run_id = starter.run("steps.yaml")
        time.sleep(0.3)  # the run is inside its slow node
        late.subscribe(run_id)
        seen_late = list(late.events(run_id))
        seen_first = list(starter.events(run_id))
    assert seen_late == seen_first
    assert seen_late[0]["event"] == "execution.started"


def test_a_client_that_leaves_mid_run_does_not_stop_it(server: Served) -> None:
    with Client.connect(server.rpc) as leaving:
        run_id = leaving.run("steps.yaml")
    with Client.connect(server.rpc) as other:
        other.subscribe(run_id)
        detail = other.wait(run_id)
    assert detail.run.status == "completed"
    assert detail.outputs is not None


def test_cancel_pause_and_resume(server: Served) -> None:
    with Client.connect(server.rpc) as client:
        cancelled = client.run("steps.yaml")
        time.sleep(0.2)
        client.cancel(cancelled)
        assert client.wait(cancelled).run.status == "cancelled"

        paused = client.run("fails.yaml")
        client.pause(paused)
        time.sleep(0.8)  # 'start' sleeps 0.3 s: 'boom' would have started by now
        started = [
            e.get("node_id") for e in client.received(paused) if e["event"] == "node.started"
        ]
        assert "boom" not in started
        client.resume(paused)
        detail = client.wait(paused)
    assert detail.run.status == "failed"
    boom = next(n for n in detail.nodes if n.id == "boom")
    assert boom.state == "failed" and boom.position is not None
    assert boom.position.endswith(BOOM_AT) and "do not add up" in (boom.error or "")


def test_run_refuses_bad_blueprints_and_inputs_with_positions(server: Served) -> None:
    (server.folder / "broken.yaml").write_text("id: broken\nnodes:\n  - {id: a, type: transfrom}\n")
    with Client.connect(server.rpc) as client:
        with pytest.raises(RpcCallError) as refused:
            client.run("broken.yaml")
        assert refused.value.code == -32001
        diagnostic = refused.value.data["diagnostics"][0]  # type: ignore[index]
        assert (diagnostic["code"], diagnostic["line"], diagnostic["column"]) == ("E0202", 3, 5)
        with pytest.raises(RpcCallError) as missing:
            client.run("nowhere.yaml")
        assert missing.value.code == -32004
        checked = client.check("broken.yaml")
        assert not checked.ok and checked.diagnostics[0].hint
        compiled = client.compile("steps.yaml")
        assert compiled.ok and compiled.code and "def run(" in compiled.code


def test_blueprints_are_listed_read_and_saved_atomically(server: Served) -> None:
    text = (server.folder / "steps.yaml").read_text()
    with Client.connect(server.rpc) as client:
        assert client.blueprints_list().blueprints == []
        saved = client.blueprints_save("team/steps.yaml", text)
        assert saved.bytes == len(text.encode())
        assert client.blueprints_get("team/steps.yaml").text == text
        assert [b.name for b in client.blueprints_list().blueprints] == ["team/steps.yaml"]
        with pytest.raises(RpcCallError):
            client.blueprints_save("team/steps.yaml", "x", overwrite=False)
        for bad in ("/etc/x.yaml", "a/../../x.yaml", "notes.txt", ""):
            with pytest.raises(RpcCallError) as refused:
                client.blueprints_save(bad, "x")
            assert refused.value.code == -32602
    folder = server.folder / "blueprints"
    assert sorted(p.name for p in (folder / "team").iterdir()) == ["steps.yaml"]


def test_the_view_lays_out_every_node_left_to_right(server: Served) -> None:
    with Client.connect(server.rpc) as client:
        view = client.view(path="steps.yaml")
    at = {n.id: n for n in view.nodes}
    assert set(at) == {"first", "middle", "last"}
    assert at["first"].x < at["middle"].x < at["last"].x
    assert {(e.source, e.target) for e in view.edges} == {("first", "middle"), ("middle", "last")}


def test_a_token_guards_the_socket_and_the_page(server_factory: ServerFactory) -> None:
    served = server_factory("--token", "s3cret", "--no-record")
    with pytest.raises(Exception):
        with connect(served.rpc) as ws:
            ws.recv(timeout=5)
    with Client.connect(served.rpc, token="s3cret") as client:
        assert client.nodes_list().nodes
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(served.url.split("?")[0])
    with urllib.request.urlopen(served.url) as page:  # the printed address carries the token
        assert b"atomiton-data" in page.read()


def test_another_host_needs_a_token(flows: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atomiton",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--no-record",
        ],
        cwd=flows,
        stderr=subprocess.PIPE,
        env={**os.environ, "ATOMITON_SERVE_TOKEN": ""},
    )
    try:
        assert process.stderr is not None
        warning = process.stderr.readline().decode()
        address = process.stderr.readline().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    token = warning.rsplit("token ", 1)[1].strip()
    assert len(token) >= 20
    assert address.strip().endswith(f"?token={token}")


def test_runs_of_a_new_blueprint_started_at_once_all_start(server: Served) -> None:
    import asyncio

    from atomiton.client import AsyncClient

    (server.folder / "fresh.yaml").write_text(
        "id: fresh\nnodes:\n  - {id: a, type: code, parameters: {code: 'return 1'}}\n"
    )

    async def scenario() -> list[str]:
        async with await AsyncClient.connect(server.rpc) as client:
            run_ids = await asyncio.gather(*(client.run("fresh.yaml") for _ in range(6)))
            return [(await client.wait(run_id)).run.status for run_id in run_ids]

    assert asyncio.run(scenario()) == ["completed"] * 6


def test_inputs_that_do_not_fit_are_refused_with_each_problem(shared_server: Served) -> None:
    (shared_server.folder / "typed.yaml").write_text(
        "id: typed\ninterface:\n  inputs:\n    - {id: count, dataType: integer}\n"
        "nodes:\n  - {id: a, type: code, parameters: {code: 'return inputs.count'}}\n"
    )
    with Client.connect(shared_server.rpc) as client:
        with pytest.raises(RpcCallError) as refused:
            client.run("typed.yaml", inputs={"count": "many"})
        assert refused.value.code == -32001
        assert refused.value.data[0]["loc"] == "count"  # type: ignore[index]
        run_id = client.run("typed.yaml", inputs={"count": 3})
        assert client.wait(run_id).run.status == "completed"
