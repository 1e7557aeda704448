"""The node cache and resume, as a ``Supplier`` (``supply.py``): a node call whose code version
and input values were seen before gets its value from the store instead of running.

``make_supplier`` turns a run's ``cache=`` argument (``CacheArg``: off, on, a database, or a
``Cache`` of options) and the blueprint's ``settings.cache`` into a ``CacheSupplier``, or None
when the run uses no cache; the runner binds it to the run's ``Execution`` (``bind``). The
supplier computes each call's key, the node's code version (``NodeInfo.version``) plus a
stable hash of the values the call depends on (``cache_keys.py``), serves a stored value when
there is one, and stores the value of a call that ran. Which nodes
are cached is the compiler's decision, emitted per node as ``NodeInfo.cache`` (``off``, ``on``,
``files``: also fingerprint the files its string inputs name); ``docs/caching.md`` has the rules.

Resume (``Cache(resume=RUN_ID)``) serves, for every node whatever its cache policy, only the
values that run wrote or reused, so a resumed run repeats exactly what did not finish or changed;
``journal=True`` stores every node's value (a recorded run that can be resumed later).

Where values are kept is the store's (``store/cache_store.py``, the run history's database),
imported only when a run uses the cache: the runtime does not depend on it otherwise.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from .cache_keys import FileMode, SecretValue, Unhashable, digest
from .model import Blueprint, CacheUse, NodeInfo
from .supply import Supplied

if TYPE_CHECKING:
    from .execution import Execution

# A node's policy as written in a blueprint (``cache:`` on a node).
CachePolicy = Literal["auto", "always", "never"]
CACHE_POLICIES: Final[tuple[CachePolicy, ...]] = ("auto", "always", "never")
# Bumped when the key's recipe changes: every old entry then misses, none is misread.
_KEY_RECIPE: Final = b"atomiton-node-cache/1"
_RESOURCE: Final = "node_cache_store"


@dataclass(frozen=True, slots=True)
class Cache:
    """How a run uses the node cache.

    Attributes:
        db: the database that holds the values (default: the project's run history).
        files: how a file a node reads is fingerprinted: ``stat`` (path, size, mtime) or
            ``content`` (also a hash of its bytes).
        refresh: ids of nodes that run again even when cached (their new value is stored); a
            container's id covers the nodes inside it.
        serve: serve cached values of the nodes whose policy caches them.
        resume: the id of a run whose values are reused, for every node that finished in it.
        force: ids of nodes never reused by ``resume`` (``--from`` and what is downstream).
        journal: store every node's value, whatever its policy, so that this run can be resumed.
    """

    db: str | os.PathLike[str] | None = None
    files: FileMode = "stat"
    refresh: tuple[str, ...] = ()
    serve: bool = True
    resume: str | None = None
    force: tuple[str, ...] = ()
    journal: bool = False


# ``run(..., cache=...)``: None follows the blueprint's ``settings.cache``; False is off; True
# is on with the default database; a path is on with that database; a ``Cache`` says all.
CacheArg = bool | str | os.PathLike[str] | Cache | None


class CacheBackend(Protocol):
    """Where values are kept (``store.cache_store.CacheStore``)."""

    def get(self, key: str, *, run_id: str | None = None) -> tuple[bool, object]: ...

    def save(
        self, key: str, blueprint_id: str, node: NodeInfo, value: object, run_id: str
    ) -> str | None: ...

    def touch(self, key: str, run_id: str | None, node_id: str) -> None: ...


def resolve(cache: CacheArg, blueprint: Blueprint) -> Cache | None:
    """The options ``cache`` stands for in a run of ``blueprint``; None: no cache at all."""
    if cache is None:
        return Cache() if blueprint.cache else None
    if cache is False:
        return None
    if cache is True:
        return Cache()
    if isinstance(cache, Cache):
        return cache if cache.serve or cache.resume or cache.journal else None
    return Cache(db=cache)


def make_supplier(cache: CacheArg, blueprint: Blueprint) -> CacheSupplier | None:
    """The cache supplier of a run of ``blueprint`` for its ``cache=`` argument; None when the
    run uses no cache. The supplier opens its database when the run binds it (``bind``)."""
    options = resolve(cache, blueprint)
    return None if options is None else CacheSupplier(blueprint, None, options)


def node_key(
    blueprint: Blueprint, node: NodeInfo, key_values: tuple[object, ...], files: FileMode = "stat"
) -> str:
    """The cache key of one call of ``node`` with ``key_values``.

    Without a code version (a module compiled by an atomiton that had none) the blueprint's
    hash stands in: any edit of the file then misses, never a stale hit.

    Raises:
        Unhashable: a value has no stable hash.
        SecretValue: a value is or holds a secret.
    """
    values = digest(key_values, files=files, reads_files=node.cache == "files")
    version = node.version or f"blueprint:{blueprint.sha256}"
    sha = hashlib.sha256(_KEY_RECIPE)
    for part in (node.type, node.id, version, values):
        raw = part.encode("utf-8")
        sha.update(len(raw).to_bytes(8, "big") + raw)
    return sha.hexdigest()


class CacheSupplier:
    """Serves and stores node values for one run (the ``Supplier`` protocol).

    The key computed in ``supply`` for a call that then runs is kept per thread and per node
    until ``completed`` stores the value under it: calls of one node from loop items run on
    different threads at once.
    """

    def __init__(
        self,
        blueprint: Blueprint,
        backend: CacheBackend | None,
        options: Cache,
        *,
        run_id: str = "",
        warn: Callable[..., None] | None = None,
    ) -> None:
        self.blueprint = blueprint
        self.backend = backend
        self.options = options
        self.run_id = run_id
        self._warn = warn
        self._pending = threading.local()
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self.refresh = _covering(options.refresh)
        self.force = _covering(options.force)
        self.counts: dict[str, int] = {"cached": 0, "resumed": 0, "stored": 0, "ran": 0}

    def bind(self, ex: Execution) -> None:
        """Attach to run ``ex``: its id, its warnings, and the database, opened as one of the
        run's resources (closed when it ends). A database that cannot be opened leaves the run
        uncached with a warning, never failed."""
        from ..store.cache_store import CacheStore
        from ..store.schema import StoreError

        self.run_id = ex.run_id
        self._warn = ex.log
        db = self.options.db
        try:
            self.backend = ex.resources.get(
                _RESOURCE, lambda: CacheStore.open(db), CacheStore.close
            )
        except StoreError as exc:
            self.backend = None
            ex.log(f"the node cache is off for this run: {exc}", level="warning")

    def _keys(self) -> dict[int, str]:
        keys: dict[int, str] | None = getattr(self._pending, "keys", None)
        if keys is None:
            keys = self._pending.keys = {}
        return keys

    def supply(self, node: NodeInfo, index: int, key_values: tuple[object, ...]) -> Supplied | None:
        """The node's stored value, or None (the node runs; its key is kept for ``completed``)."""
        backend = self.backend
        if backend is None:
            return None
        keys = self._keys()
        keys.pop(index, None)
        cached = self.options.serve and node.cache != "off"
        if not (cached or self.options.resume or self.options.journal):
            return None
        try:
            key = node_key(self.blueprint, node, key_values, self.options.files)
        except SecretValue:
            self.warn_once(node, "reads a secret, so it is never cached or resumed")
            return None
        except Unhashable as exc:
            self.warn_once(node, f"is not cached for this call: {exc}")
            return None
        resume = self.options.resume
        if resume is not None and not self.force(node.id):
            found, value = backend.get(key, run_id=resume)
            if found:
                backend.touch(key, self.run_id, node.id)
                self._count("resumed")
                return Supplied(value, "resumed")
        if cached and not self.refresh(node.id):
            found, value = backend.get(key)
            if found and _still_there(node, value):
                backend.touch(key, self.run_id, node.id)
                self._count("cached")
                return Supplied(value, "cached")
        keys[index] = key
        return None

    def completed(self, node: NodeInfo, index: int, value: object) -> None:
        """Node ``index`` ran and gave ``value``: store it under the key ``supply`` computed."""
        key = self._keys().pop(index, None)
        if key is None or self.backend is None:
            return
        self._count("ran")
        if not (self.options.journal or self.options.resume or node.cache != "off"):
            return
        problem = self.backend.save(key, self.blueprint.id, node, value, self.run_id)
        if problem is None:
            self._count("stored")
        else:
            self.warn_once(node, f"is not cached: {problem}")

    def warn_once(self, node: NodeInfo, problem: str) -> None:
        """A warning event about ``node``, once per run (a loop's items would repeat it)."""
        with self._lock:
            if node.id in self._warned:
                return
            self._warned.add(node.id)
        if self._warn is not None:
            self._warn(f"node {node.id!r} {problem}", level="warning", node_id=node.id)

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1


def _still_there(node: NodeInfo, value: object) -> bool:
    """A cached value of a node that reads files and names the file it made (an image's
    result) counts only while that file is there."""
    if node.cache != "files":
        return True
    path = getattr(value, "path", None)
    return not (isinstance(path, str) and path and not os.path.exists(path))


def _covering(ids: Iterable[str]) -> Callable[[str], bool]:
    """Whether a node id is one of ``ids`` or inside one of them (``loop`` covers ``loop.x``)."""
    exact = frozenset(ids)
    prefixes = tuple(f"{node_id}." for node_id in exact)
    if not exact:
        return lambda node_id: False
    return lambda node_id: node_id in exact or node_id.startswith(prefixes)


__all__ = [
    "CACHE_POLICIES",
    "Cache",
    "CacheArg",
    "CacheBackend",
    "CachePolicy",
    "CacheSupplier",
    "CacheUse",
    "make_supplier",
    "node_key",
    "resolve",
]
