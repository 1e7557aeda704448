"""The node cache's table (``store/cache_store.py``) in a real SQLite file: values come back
equal and of the same type, what cannot be stored is refused, gc and clear delete entries and
the blobs only they used, and the runs' gc keeps the blobs cache entries use."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import sqlite3
import time
import uuid
from pathlib import Path, PurePosixPath

import pytest
from pydantic import BaseModel, SecretStr

from atomiton.runtime.model import NodeInfo
from atomiton.store import RunStore
from atomiton.store.cache_store import CacheStore, Unstorable, dump, load
from atomiton.store.values import INLINE_LIMIT


class Size(enum.Enum):
    SMALL = 1


@dataclasses.dataclass(frozen=True)
class Box:
    width: int
    label: str | None = None


class Row(BaseModel):
    name: str
    box: Box | None = None


ROUND_TRIPS: list[object] = [
    None,
    True,
    3,
    2.5,
    float("inf"),
    "text",
    b"\x00\xffbytes",
    [1, "a", None],
    (1, (2, 3)),
    {"a": [1, 2], "b": {"c": b"x"}},
    {1: "one", (1, 2): "pair"},
    {"$odd": 1},
    {1, 2},
    frozenset({"a"}),
    Size.SMALL,
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    datetime.date(2024, 1, 2),
    datetime.timedelta(days=1, seconds=3),
    decimal.Decimal("1.10"),
    uuid.UUID(int=5),
    PurePosixPath("a/b"),
    Box(3, "x"),
    Row(name="r", box=Box(1)),
    [Row(name="a"), Row(name="b")],
]


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=lambda v: type(v).__name__)
def test_a_stored_value_comes_back_equal_and_of_the_same_type(value: object) -> None:
    back = load(dump(value))
    assert back == value
    assert type(back) is type(value)


def test_what_has_no_typed_form_is_refused() -> None:
    with pytest.raises(Unstorable):
        dump(object())
    with pytest.raises(Unstorable):
        dump(SecretStr("hunter2"))
    with pytest.raises(Unstorable):
        dump({"nested": [SecretStr("hunter2")]})


def test_a_class_that_is_not_loaded_is_never_imported_to_read_a_value() -> None:
    text = '{"$dc": "some_module_nobody_imported:Thing", "f": {}}'
    with pytest.raises(Unstorable):
        load(text)


NODE = NodeInfo(id="n", type="code", line=1, column=1, version="v1")


def test_entries_are_found_by_key_and_by_the_run_that_wrote_them(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "history.db")
    try:
        assert store.get("k1") == (False, None)
        assert store.save("k1", "flow", NODE, {"a": (1, 2)}, "run-1") is None
        assert store.get("k1") == (True, {"a": (1, 2)})
        assert store.get("k1", run_id="run-1") == (True, {"a": (1, 2)})
        assert store.get("k1", run_id="run-2") == (False, None)
        store.touch("k1", "run-2", "n")
        assert store.get("k1", run_id="run-2")[0]
        assert store.run_nodes("run-1") == {"n"}
        [entry] = store.entries()
        assert (entry.node_id, entry.version, entry.hits) == ("n", "v1", 1)
        assert store.save("k2", "flow", NODE, object(), "run-1") is not None
        assert store.get("k2") == (False, None)
    finally:
        store.close()


def test_large_values_live_in_blobs_that_gc_deletes_with_their_entry(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = CacheStore.open(db)
    big = "x" * (INLINE_LIMIT + 10)
    try:
        assert store.save("big", "flow", NODE, big, "run-1") is None
        assert store.get("big") == (True, big)
        # The runs' own gc must not take a blob a cache entry still uses.
        store.flush()
        with RunStore.open(db) as runs:
            runs.gc(keep=0)
        assert store.get("big") == (True, big)
        assert store.save("small", "flow", NODE, 1, "run-1") is None
        assert store.gc(max_bytes=100) == 1  # the least recently used beyond the budget
        assert store.get("big") == (False, None)
        assert store.get("small") == (True, 1)
        blobs = sqlite3.connect(db).execute("SELECT count(*) FROM blobs").fetchone()[0]
        assert blobs == 0
        time.sleep(0.01)
        assert store.gc(older_than=0.0) == 1
        assert store.entries() == []
    finally:
        store.close()


def test_clear_deletes_one_nodes_entries_or_all(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "history.db")
    other = NodeInfo(id="m", type="code", line=1, column=1)
    try:
        store.save("a", "flow", NODE, 1, "r")
        store.save("b", "flow", other, 2, "r")
        store.save("c", "other-flow", other, 3, "r")
        assert store.clear(blueprint_id="flow", node_id="m") == 1
        assert {e.key for e in store.entries()} == {"a", "c"}
        assert store.clear() == 2
    finally:
        store.close()
