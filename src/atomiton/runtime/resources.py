"""``RunResources``: objects the nodes of one run share, made on first use, closed with the run.

A node library asks for a resource by key (an HTTP connection pool, say) and gives the factory
and the closer; the runtime only keeps them and closes them when the run ends or is cancelled, so
it never imports what the resources are made of. A caller may hand in its own objects by key;
those are lent, never closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Final, TypeVar, cast

from ..errors import CancelledError

T = TypeVar("T")

# The key under which ``run(..., http_client=...)`` lends the caller's client to http nodes.
HTTP_CLIENT: Final = "http_client"


class RunResources:
    """A per-run registry of shared objects with close-at-end callbacks. Thread-safe."""

    __slots__ = ("_lent", "_made", "_lock", "_closed")

    def __init__(self, lent: Mapping[str, object] | None = None) -> None:
        """Args:
        lent: objects the caller owns, by key: returned by ``lent`` and never closed here.
        """
        self._lent: dict[str, object] = dict(lent or {})
        # Made here, in creation order (closed in reverse), with their closers.
        self._made: dict[str, tuple[object, Callable[[object], None]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def lent(self, key: str) -> object | None:
        """The object the caller lent under ``key``, or None."""
        return self._lent.get(key)

    def get(self, key: str, make: Callable[[], T], close: Callable[[T], None]) -> T:
        """The run's object under ``key``, made by ``make()`` on first use.

        ``close(obj)`` runs once when the run ends. Concurrent first uses make it once.

        Raises:
            CancelledError: the run has ended (its resources are closed).
        """
        with self._lock:
            if self._closed:
                raise CancelledError("the run has ended; its shared resources are closed")
            entry = self._made.get(key)
            if entry is None:
                obj = make()
                self._made[key] = (obj, cast(Callable[[object], None], close))
                return obj
        return cast(T, entry[0])

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close every object made here, newest first; later ``get`` calls raise. Idempotent.

        Every closer runs even if one raises; the first error is raised after the rest.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            made, self._made = list(self._made.values()), {}
        error: BaseException | None = None
        for obj, close in reversed(made):
            try:
                close(obj)
            except BaseException as exc:  # the others must still be closed
                error = error or exc
        if error is not None:
            raise error
