"""The node cache's storage: entries in the run history's database (``cache_entries``), each a
node call's value under its cache key, and the runs that wrote or reused each (``cache_runs``,
what ``run --resume`` reuses).

A value is stored in a typed JSON form that gives back an equal value of the same type (the run
records' form in ``values.py`` is for reading, and loses types): tuples, sets, bytes, dates,
enums, dataclasses and pydantic models are tagged objects (``{"$t": [...]}``). A class is found
again by module and name among the modules already imported, never by importing one a stored
entry names; nothing is pickled. A value that has no such form, holds a secret or is over the
size cap is not stored (``Unstorable``: the call stays uncached). A form longer than
``INLINE_LIMIT`` goes to the shared ``blobs`` table. Computing keys and deciding what to cache
is the runtime's (``runtime/cache.py``); this module only keeps and finds values.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import hashlib
import json
import math
import os
import pathlib
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..runtime.model import NodeInfo
from .schema import StoreError, connect, default_db_path, write_transaction
from .values import INLINE_LIMIT, VALUE_CAP

_TAG: Final = "$"
# Queued writes are written in one transaction when this many are queued, or this old.
_BATCH: Final = 256
_FLUSH_SECONDS: Final = 1.0
_MAX_DEPTH: Final = 200


class Unstorable(Exception):
    """A value has no typed JSON form (or is over the cap, or holds a secret)."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One stored value, as ``atomiton cache ls`` shows it."""

    key: str
    blueprint_id: str
    node_id: str
    version: str
    size: int
    created: float
    used: float
    hits: int


# -- the typed JSON form ------------------------------------------------------------------------


def dump(value: object) -> str:
    """The typed JSON text of ``value``.

    Raises:
        Unstorable: the value has no such form or its text is over ``VALUE_CAP``.
    """
    try:
        text = json.dumps(_to_json(value, 0), ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise Unstorable("the value is nested too deep") from None
    if len(text) > VALUE_CAP:
        raise Unstorable(f"the value is over the size cap of {VALUE_CAP:,} bytes")
    return text


def load(text: str) -> object:
    """The value whose typed JSON text is ``text``.

    Raises:
        Unstorable: the text names a class that is not loaded (or not a data class).
    """
    return _from_json(json.loads(text))


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _to_json(value: object, depth: int) -> object:
    if depth > _MAX_DEPTH:
        raise Unstorable("the value is nested too deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, list):
        return [_to_json(item, depth + 1) for item in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"$t": [_to_json(item, depth + 1) for item in value]}
    if isinstance(value, dict) and type(value) is dict:
        if all(isinstance(key, str) and not key.startswith(_TAG) for key in value):
            return {str(key): _to_json(item, depth + 1) for key, item in value.items()}
        return {"$d": [[_to_json(k, depth + 1), _to_json(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)) and type(value) in (set, frozenset):
        tag = "$s" if type(value) is set else "$fs"
        return {tag: [_to_json(item, depth + 1) for item in value]}
    if isinstance(value, enum.Enum):
        return {"$e": _class_name(type(value)), "v": _to_json(value.value, depth + 1)}
    if type(value) in (datetime.datetime, datetime.date, datetime.time):
        return {"$dt": type(value).__name__, "v": value.isoformat()}  # type: ignore[attr-defined]
    if isinstance(value, datetime.timedelta) and type(value) is datetime.timedelta:
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if type(value) is decimal.Decimal:
        return {"$dec": str(value)}
    if type(value) is uuid.UUID:
        return {"$uuid": str(value)}
    if isinstance(value, pathlib.PurePath) and type(value).__module__ == "pathlib":
        return {"$path": type(value).__name__, "v": str(value)}
    cls = type(value)
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, Mapping) and not _is_secret(value):
        items = {name: _to_json(getattr(value, name), depth + 1) for name in fields}
        return {"$pm": _class_name(cls), "f": items}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not all(field.init for field in dataclasses.fields(value)):
            raise Unstorable(f"dataclass {cls.__qualname__} has fields that __init__ does not set")
        items = {
            f.name: _to_json(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        }
        return {"$dc": _class_name(cls), "f": items}
    raise Unstorable(f"a value of type {cls.__module__}.{cls.__qualname__} cannot be stored")


def _is_secret(value: object) -> bool:
    return type(value).__name__ in ("SecretStr", "SecretBytes")


def _from_json(data: Any) -> object:
    if isinstance(data, list):
        return [_from_json(item) for item in data]
    if not isinstance(data, dict):
        return data
    if not any(isinstance(key, str) and key.startswith(_TAG) for key in data):
        return {key: _from_json(item) for key, item in data.items()}
    if "$f" in data:
        return float(data["$f"])
    if "$b" in data:
        return base64.b64decode(data["$b"])
    if "$t" in data:
        return tuple(_from_json(item) for item in data["$t"])
    if "$d" in data:
        return {_hashable(_from_json(k)): _from_json(v) for k, v in data["$d"]}
    if "$s" in data:
        return {_hashable(_from_json(item)) for item in data["$s"]}
    if "$fs" in data:
        return frozenset(_hashable(_from_json(item)) for item in data["$fs"])
    if "$e" in data:
        return _loaded_class(data["$e"], enum.Enum)(_from_json(data["v"]))
    if "$dt" in data:
        if data["$dt"] == "datetime":
            return datetime.datetime.fromisoformat(data["v"])
        if data["$dt"] == "date":
            return datetime.date.fromisoformat(data["v"])
        return datetime.time.fromisoformat(data["v"])
    if "$td" in data:
        days, seconds, micro = data["$td"]
        return datetime.timedelta(days=days, seconds=seconds, microseconds=micro)
    if "$dec" in data:
        return decimal.Decimal(data["$dec"])
    if "$uuid" in data:
        return uuid.UUID(data["$uuid"])
    if "$path" in data:
        return getattr(pathlib, data["$path"], pathlib.Path)(data["v"])
    if "$pm" in data:
        model = _loaded_class(data["$pm"], None)
        fields = {name: _from_json(item) for name, item in data["f"].items()}
        construct = getattr(model, "model_construct", None)
        if construct is None:
            raise Unstorable(f"{data['$pm']} is not a pydantic model")
        return construct(**fields)
    if "$dc" in data:
        cls = _loaded_class(data["$dc"], None)
        if not dataclasses.is_dataclass(cls):
            raise Unstorable(f"{data['$dc']} is not a dataclass")
        return cls(**{name: _from_json(item) for name, item in data["f"].items()})
    raise Unstorable(f"unknown stored form {sorted(data)[:3]}")


def _hashable(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _loaded_class(name: str, base: type | None) -> type:
    """The class ``module:qualname`` from a module already imported (never imports one)."""
    module_name, _, qualname = name.partition(":")
    found: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not isinstance(found, type) or (base is not None and not issubclass(found, base)):
        raise Unstorable(f"class {name} is not loaded")
    return found


# -- the table ----------------------------------------------------------------------------------


class CacheStore:
    """The cache entries of one run history database; safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.Lock()
        self._pending: list[tuple[str, tuple[object, ...]]] = []
        # Written by ``put``/``link`` and not yet in the database: ``get`` sees them first.
        self._unflushed: dict[str, str] = {}
        self._unflushed_links: set[tuple[str, str]] = set()
        self._flushed_at = time.monotonic()
        self.error: StoreError | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> CacheStore:
        """Open (creating and migrating if needed) the database at ``path`` (default: the
        project's run history).

        Raises:
            StoreError: the database cannot be opened.
        """
        where = Path(path) if path is not None else default_db_path()
        return cls(connect(where), where)

    def close(self) -> None:
        """Write what is queued and close the connection."""
        with self._lock:
            self._flush()
            self._conn.close()

    def flush(self) -> None:
        """Write what is queued now (reads other than ``get`` do it first themselves)."""
        with self._lock:
            self._flush()

    def _queue(self, sql: str, params: tuple[object, ...]) -> None:
        """Queue a write (under the lock); written in one transaction per batch, so a cached
        node costs a lookup, not a commit. A batch is written when it is full or old."""
        self._pending.append((sql, params))
        if len(self._pending) >= _BATCH or time.monotonic() - self._flushed_at >= _FLUSH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        """Write the queued batch (under the lock). A cache that cannot be written never fails
        a run: the batch is dropped and the error kept in ``error``."""
        pending, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        if pending:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in pending:
                        self._conn.execute(sql, params)
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self.error = StoreError(f"cannot write the node cache in {self.path}: {exc}")
        self._unflushed.clear()
        self._unflushed_links.clear()

    def get(self, key: str, *, run_id: str | None = None) -> tuple[bool, object]:
        """``(True, value)`` when ``key`` is stored (and, with ``run_id``, was written or
        reused by that run), else ``(False, None)``. A stored form that no longer loads (its
        class is gone) counts as not stored."""
        if run_id is None:
            sql = "SELECT value, blob FROM cache_entries WHERE key = ?"
            params: tuple[str, ...] = (key,)
        else:
            sql = (
                "SELECT e.value, e.blob FROM cache_entries e JOIN cache_runs r ON r.key = e.key"
                " WHERE e.key = ? AND r.run_id = ?"
            )
            params = (key, run_id)
        with self._lock:
            text: str | None = self._unflushed.get(key)
            if (
                text is not None
                and run_id is not None
                and (run_id, key) not in self._unflushed_links
            ):
                text = None
            if text is None:
                try:
                    row = self._conn.execute(sql, params).fetchone()
                    if row is None:
                        return False, None
                    text = row[0]
                    if text is None:
                        blob = self._conn.execute(
                            "SELECT data FROM blobs WHERE sha256 = ?", (row[1],)
                        ).fetchone()
                        if blob is None:
                            return False, None
                        text = bytes(blob[0]).decode("utf-8")
                except sqlite3.Error:
                    return False, None
        try:
            return True, load(text)
        except (Unstorable, ValueError, KeyError, TypeError):
            return False, None

    def put(self, key: str, blueprint_id: str, node_id: str, version: str, text: str) -> None:
        """Keep ``text`` (``dump``'s form) under ``key``, replacing what was there."""
        now = time.time()
        raw = text.encode("utf-8")
        blob = hashlib.sha256(raw).hexdigest() if len(raw) > INLINE_LIMIT else None
        with self._lock:
            if blob is not None:
                self._queue(
                    "INSERT OR IGNORE INTO blobs (sha256, kind, size, data) VALUES (?, ?, ?, ?)",
                    (blob, "json", len(raw), raw),
                )
            self._queue(
                "INSERT OR REPLACE INTO cache_entries (key, blueprint_id, node_id, version,"
                " value, blob, size, created, used, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    key,
                    blueprint_id,
                    node_id,
                    version,
                    None if blob else text,
                    blob,
                    len(raw),
                    now,
                    now,
                ),
            )
            if blob is not None:
                self._queue(
                    "INSERT OR IGNORE INTO cache_blobs (key, sha256) VALUES (?, ?)", (key, blob)
                )
            self._unflushed[key] = text

    def save(
        self, key: str, blueprint_id: str, node: NodeInfo, value: object, run_id: str
    ) -> str | None:
        """Store ``value`` as node ``node``'s under ``key``, written by run ``run_id``; returns
        why it could not be stored, or None."""
        try:
            text = dump(value)
        except Unstorable as exc:
            return str(exc)
        self.put(key, blueprint_id, node.id, node.version, text)
        with self._lock:
            self.link(key, run_id, node.id)
        return None

    def touch(self, key: str, run_id: str | None, node_id: str) -> None:
        """``key`` was used (served, or written) by run ``run_id``: its time, hits and the run."""
        with self._lock:
            self._queue(
                "UPDATE cache_entries SET used = ?, hits = hits + 1 WHERE key = ?",
                (time.time(), key),
            )
            self.link(key, run_id, node_id)

    def link(self, key: str, run_id: str | None, node_id: str) -> None:
        """Note that run ``run_id`` wrote or reused the entry ``key`` (under the lock)."""
        if run_id is not None:
            self._queue(
                "INSERT OR IGNORE INTO cache_runs (run_id, key, node_id) VALUES (?, ?, ?)",
                (run_id, key, node_id),
            )
            self._unflushed_links.add((run_id, key))

    def entries(self, *, blueprint_id: str | None = None) -> list[CacheEntry]:
        """The stored entries, most recently used first."""
        sql = (
            "SELECT key, blueprint_id, node_id, version, size, created, used, hits"
            " FROM cache_entries"
        )
        params: tuple[str, ...] = ()
        if blueprint_id is not None:
            sql += " WHERE blueprint_id = ?"
            params = (blueprint_id,)
        with self._lock:
            self._flush()
            rows = self._conn.execute(sql + " ORDER BY used DESC, key", params).fetchall()
        return [CacheEntry(*row) for row in rows]

    def run_nodes(self, run_id: str) -> set[str]:
        """The ids of the nodes whose values run ``run_id`` wrote or reused."""
        with self._lock:
            self._flush()
            rows = self._conn.execute(
                "SELECT DISTINCT node_id FROM cache_runs WHERE run_id = ?", (run_id,)
            ).fetchall()
        return {str(row[0]) for row in rows}

    def run_versions(self, run_id: str) -> dict[str, set[str]]:
        """Per node id, the code versions of the values run ``run_id`` wrote or reused."""
        with self._lock:
            self._flush()
            rows = self._conn.execute(
                "SELECT r.node_id, e.version FROM cache_runs r JOIN cache_entries e"
                " ON e.key = r.key WHERE r.run_id = ?",
                (run_id,),
            ).fetchall()
        found: dict[str, set[str]] = {}
        for node_id, version in rows:
            found.setdefault(str(node_id), set()).add(str(version))
        return found

    def gc(self, *, older_than: float | None = None, max_bytes: int | None = None) -> int:
        """Delete entries not used for ``older_than`` seconds, then the least recently used
        ones until the rest take at most ``max_bytes``; returns how many were deleted.

        Raises:
            StoreError: the database cannot be written.
        """
        with self._lock:
            self._flush()
            failure = f"cannot clean the cache in {self.path}"
            doomed: list[str] = []
            with write_transaction(self._conn, failure):
                if older_than is not None:
                    cutoff = time.time() - older_than
                    rows = self._conn.execute(
                        "SELECT key FROM cache_entries WHERE used < ?", (cutoff,)
                    ).fetchall()
                    doomed.extend(str(row[0]) for row in rows)
                if max_bytes is not None:
                    total = 0
                    gone = set(doomed)
                    rows = self._conn.execute(
                        "SELECT key, size FROM cache_entries ORDER BY used DESC, key"
                    ).fetchall()
                    for key, size in rows:
                        if key in gone:
                            continue
                        total += int(size)
                        if total > max_bytes:
                            doomed.append(str(key))
                self._delete(doomed)
        return len(doomed)

    def clear(self, *, blueprint_id: str | None = None, node_id: str | None = None) -> int:
        """Delete every entry (of one blueprint, of one node); returns how many."""
        sql = "SELECT key FROM cache_entries WHERE 1"
        params: list[str] = []
        if blueprint_id is not None:
            sql += " AND blueprint_id = ?"
            params.append(blueprint_id)
        if node_id is not None:
            sql += " AND node_id = ?"
            params.append(node_id)
        with self._lock:
            self._flush()
            with write_transaction(self._conn, f"cannot clear the cache in {self.path}"):
                keys = [str(row[0]) for row in self._conn.execute(sql, params).fetchall()]
                self._delete(keys)
        return len(keys)

    def _delete(self, keys: list[str]) -> None:
        """Delete entries and the blobs only they referred to (inside a transaction)."""
        pairs = [(key,) for key in keys]
        self._conn.executemany("DELETE FROM cache_runs WHERE key = ?", pairs)
        self._conn.executemany("DELETE FROM cache_entries WHERE key = ?", pairs)
        self._conn.execute(
            "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM run_blobs)"
            " AND sha256 NOT IN (SELECT sha256 FROM cache_blobs)"
        )
