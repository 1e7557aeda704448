"""Values in the history: JSON inline, bytes and large values as content-addressed blobs, and
a marker (never a copy) for anything over the cap or that is not data."""

from __future__ import annotations

import hashlib
import json
import mmap
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from atomiton.store import RunRecorder, RunStore
from atomiton.store.values import MARKER, encode


class Model(BaseModel):
    name: str
    data: bytes
    rows: list[int]


def test_json_values_are_stored_inline() -> None:
    encoded = encode({"a": [1, 2.5, None, True], "b": "é"})
    assert json.loads(encoded.text) == {"a": [1, 2.5, None, True], "b": "é"}
    assert encoded.blobs == ()


def test_bytes_become_a_blob_under_their_sha256() -> None:
    encoded = encode(Model(name="x", data=b"\x00\xff" * 10, rows=[1]))
    data = json.loads(encoded.text)
    digest = hashlib.sha256(b"\x00\xff" * 10).hexdigest()
    assert data["data"] == {MARKER: "blob", "sha256": digest, "kind": "bytes", "size": 20}
    assert data["name"] == "x" and data["rows"] == [1]
    assert [(b.sha256, b.data) for b in encoded.blobs] == [(digest, b"\x00\xff" * 10)]


def test_a_large_json_value_goes_to_a_json_blob() -> None:
    rows = list(range(20_000))
    encoded = encode({"rows": rows}, inline_limit=1000)
    marker = json.loads(encoded.text)
    assert marker[MARKER] == "blob" and marker["kind"] == "json"
    (blob,) = encoded.blobs
    assert json.loads(blob.data) == {"rows": rows}
    assert blob.sha256 == hashlib.sha256(blob.data).hexdigest() == marker["sha256"]


def test_a_value_over_the_cap_is_a_marker_and_is_never_copied() -> None:
    # 1 GiB of address space that is never touched: a copy would take seconds and a gigabyte.
    huge = mmap.mmap(-1, 1 << 30)
    try:
        started = time.perf_counter()
        encoded = encode({"stream": memoryview(huge), "small": "kept"}, cap=1 << 20)
        assert time.perf_counter() - started < 1.0
    finally:
        huge.close()
    data = json.loads(encoded.text)
    assert data["stream"] == {MARKER: "omitted", "type": "memoryview", "size": 1 << 30}
    assert data["small"] == "kept"  # the cap is per value
    assert encoded.blobs == ()


def test_a_long_list_over_the_cap_stops_being_measured_early() -> None:
    rows = list(range(2_000_000))
    started = time.perf_counter()
    data = json.loads(encode({"rows": rows}, cap=10_000).text)
    assert time.perf_counter() - started < 0.5
    assert data["rows"] == {MARKER: "omitted", "type": "list", "size": 2_000_000}


def test_what_is_not_data_is_marked_and_not_consumed() -> None:
    consumed: list[int] = []

    def stream() -> Iterator[int]:
        consumed.append(1)
        yield 1

    data = json.loads(encode({"s": stream(), "f": float("nan"), "p": Path("a/b")}).text)
    assert data["s"][MARKER] == "unstorable" and data["s"]["type"] == "generator"
    assert consumed == []
    assert data["f"] == "nan" and data["p"] == "a/b"


def test_recorded_outputs_with_bytes_can_be_read_back(tmp_path: Path, two_nodes: object) -> None:
    db = tmp_path / "h.db"
    recorder = RunRecorder(db, inputs={"payload": b"raw bytes"})
    two_nodes.run(two_nodes.Inputs(n=1), hooks=recorder)  # type: ignore[attr-defined]
    recorder.record_outputs(recorder.run_ids[0], {"image": b"\x89PNG..."})
    recorder.close()
    with RunStore.open(db) as store:
        run = store.get_run(recorder.run_ids[0])
        assert run is not None
        assert isinstance(run.inputs, dict) and isinstance(run.outputs, dict)
        assert store.blob(run.inputs["payload"]["sha256"]) == b"raw bytes"
        assert store.blob(run.outputs["image"]["sha256"]) == b"\x89PNG..."


class Hostile(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[no-untyped-def, override]
        raise RuntimeError("cannot be read")


def test_a_value_that_fails_to_convert_is_marked_and_the_rest_kept() -> None:
    data = json.loads(encode({"bad": Hostile(a=1), "good": [1, 2]}).text)
    assert data["bad"][MARKER] == "unstorable" and data["good"] == [1, 2]
