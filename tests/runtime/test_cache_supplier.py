"""``CacheSupplier`` on a real SQLite store: a call that ran is served the next time with the
same version and values, refresh and resume choose what is served, secrets and unhashable
values leave the call uncached with one warning, and calls on several threads keep their keys
apart."""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import SecretStr

from atomiton.runtime.cache import Cache, CacheSupplier, node_key, resolve
from atomiton.runtime.model import Blueprint, NodeInfo
from atomiton.store.cache_store import CacheStore

PURE = NodeInfo(id="double", type="code", line=1, column=1, cache="on", version="v1")
EFFECT = NodeInfo(id="write", type="file-system", line=2, column=1, version="w1")
BLUEPRINT = Blueprint(
    id="flow", name="flow", version="", source="flow.yaml", sha256="s", nodes=(PURE, EFFECT)
)


class Warnings:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, message: str, **_: object) -> None:
        self.seen.append(message)


def supplier(store: CacheStore, options: Cache, run_id: str = "run") -> CacheSupplier:
    return CacheSupplier(BLUEPRINT, store, options, run_id=run_id, warn=Warnings())


def run_node(
    s: CacheSupplier, node: NodeInfo, values: tuple[object, ...], result: object
) -> object:
    """What generated code does around one node: serve, else run and report completion."""
    index = BLUEPRINT.nodes.index(node)
    supplied = s.supply(node, index, values)
    if supplied is not None:
        return (supplied.kind, supplied.value)
    s.completed(node, index, result)
    return ("ran", result)


def test_a_second_call_with_the_same_values_is_served(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "h.db")
    try:
        first = supplier(store, Cache())
        assert run_node(first, PURE, (2,), [4]) == ("ran", [4])
        second = supplier(store, Cache())
        assert run_node(second, PURE, (2,), None) == ("cached", [4])
        assert run_node(second, PURE, (3,), [6]) == ("ran", [6])
        # A node whose policy is off is neither served nor stored by the cache alone.
        assert run_node(second, EFFECT, (1,), "w") == ("ran", "w")
        assert run_node(supplier(store, Cache()), EFFECT, (1,), "w2") == ("ran", "w2")
    finally:
        store.close()


def test_a_changed_version_misses(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "h.db")
    try:
        run_node(supplier(store, Cache()), PURE, (2,), [4])
        edited = NodeInfo(id="double", type="code", line=1, column=1, cache="on", version="v2")
        assert node_key(BLUEPRINT, edited, (2,)) != node_key(BLUEPRINT, PURE, (2,))
        s = supplier(store, Cache())
        assert s.supply(edited, 0, (2,)) is None
    finally:
        store.close()


def test_without_a_version_the_blueprint_hash_keys_the_node() -> None:
    bare = NodeInfo(id="n", type="code", line=1, column=1, cache="on")
    other = Blueprint(id="flow", name="", version="", source="", sha256="t", nodes=(bare,))
    same = Blueprint(id="flow", name="", version="", source="", sha256="s", nodes=(bare,))
    assert node_key(other, bare, ()) != node_key(same, bare, ())


def test_refresh_runs_the_node_again_and_stores_the_new_value(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "h.db")
    try:
        run_node(supplier(store, Cache()), PURE, (2,), "old")
        assert run_node(supplier(store, Cache(refresh=("double",))), PURE, (2,), "new") == (
            "ran",
            "new",
        )
        assert run_node(supplier(store, Cache()), PURE, (2,), None) == ("cached", "new")
    finally:
        store.close()


def test_resume_reuses_only_what_that_run_kept_for_every_node(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "h.db")
    try:
        journal = supplier(store, Cache(serve=False, journal=True), run_id="r1")
        run_node(journal, EFFECT, (1,), "written")
        other = supplier(store, Cache(serve=False, journal=True), run_id="r2")
        run_node(other, EFFECT, (9,), "nine")
        resumed = supplier(store, Cache(serve=False, resume="r1", journal=True), run_id="r3")
        assert run_node(resumed, EFFECT, (1,), None) == ("resumed", "written")
        assert run_node(resumed, EFFECT, (9,), "ran") == ("ran", "ran")  # r2's, not r1's
        forced = supplier(store, Cache(serve=False, resume="r1", force=("write",)), run_id="r4")
        assert run_node(forced, EFFECT, (1,), "again") == ("ran", "again")
    finally:
        store.close()


def test_secrets_and_unhashable_values_leave_the_call_uncached_with_one_warning(
    tmp_path: Path,
) -> None:
    store = CacheStore.open(tmp_path / "h.db")
    try:
        s = supplier(store, Cache())
        for _ in range(3):
            assert run_node(s, PURE, (SecretStr("hunter2"),), 1) == ("ran", 1)
        assert run_node(s, PURE, (threading.Lock(),), 2) == ("ran", 2)
        warnings = s._warn
        assert isinstance(warnings, Warnings)
        assert len(warnings.seen) == 1 and "secret" in warnings.seen[0]
        assert store.entries() == []
        # A value that cannot be stored is reported, not cached.
        s2 = supplier(store, Cache())
        assert run_node(s2, PURE, (5,), object())[0] == "ran"
        assert store.entries() == []
        assert any("not cached" in w for w in s2._warn.seen)  # type: ignore[union-attr]
    finally:
        store.close()
    assert b"hunter2" not in (tmp_path / "h.db").read_bytes()


def test_calls_on_several_threads_store_each_value_under_its_own_key(tmp_path: Path) -> None:
    store = CacheStore.open(tmp_path / "h.db")
    try:
        s = supplier(store, Cache())
        barrier = threading.Barrier(8)

        def item(n: int) -> None:
            supplied = s.supply(PURE, 0, (n,))
            assert supplied is None
            barrier.wait()  # every thread has its key pending before any completes
            s.completed(PURE, 0, n * 10)

        threads = [threading.Thread(target=item, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        again = supplier(store, Cache())
        for n in range(8):
            assert run_node(again, PURE, (n,), None) == ("cached", n * 10)
    finally:
        store.close()


def test_the_cache_argument() -> None:
    on = Blueprint(id="f", name="", version="", source="", sha256="", nodes=(), cache=True)
    off = Blueprint(id="f", name="", version="", source="", sha256="", nodes=())
    assert resolve(None, on) == Cache()
    assert resolve(None, off) is None
    assert resolve(False, on) is None
    assert resolve(True, off) == Cache()
    assert resolve("x.db", off) == Cache(db="x.db")
    assert resolve(Cache(serve=False), on) is None
