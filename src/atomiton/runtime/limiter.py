"""``CapacityLimiter``: how many things may run at once, as an object passed around (trio's idea)
rather than a global, and changeable while work runs.

It only counts tokens and tells listeners when more become available; the ``ThreadExecutor``
(``executors/threads.py``) and a node's sub-work (``NodeContext``) decide what to start with them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class CapacityLimiter:
    """At most ``total_tokens`` borrowers at once; ``total_tokens`` may change at any time.

    Lowering the total never interrupts current borrowers: new ones wait until enough have
    released. Raising it calls the listeners so waiting work can start at once.
    """

    __slots__ = ("_total", "_borrowed", "_cond", "_listeners")

    def __init__(self, total_tokens: int) -> None:
        _check_total(total_tokens)
        self._total = total_tokens
        self._borrowed = 0
        self._cond = threading.Condition(threading.Lock())
        self._listeners: list[Callable[[], None]] = []

    @property
    def total_tokens(self) -> int:
        """How many borrowers may hold a token at once."""
        return self._total

    @total_tokens.setter
    def total_tokens(self, value: int) -> None:
        _check_total(value)
        with self._cond:
            grew = value > self._total
            self._total = value
            self._cond.notify_all()
            listeners = list(self._listeners) if grew else []
        # Outside the lock: a listener takes its own locks and then calls back in here.
        for listener in listeners:
            listener()

    @property
    def borrowed_tokens(self) -> int:
        """How many tokens are held now."""
        return self._borrowed

    @property
    def available_tokens(self) -> int:
        """How many more borrowers could start now (0 when over a lowered total)."""
        return max(0, self._total - self._borrowed)

    def acquire_nowait(self) -> bool:
        """Take a token if one is free; return whether it was taken."""
        with self._cond:
            if self._borrowed < self._total:
                self._borrowed += 1
                return True
            return False

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for a token (up to ``timeout`` seconds); return whether it was taken."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._borrowed < self._total, timeout):
                return False
            self._borrowed += 1
            return True

    def release(self, *, notify: bool = False) -> None:
        """Give a token back.

        Args:
            notify: also call the ``on_capacity`` listeners, so work waiting elsewhere can take
                the token (sub-work of a node gives tokens back this way; the scheduler, which
                is itself the listener, does not need to be told).

        Raises:
            RuntimeError: no token is held.
        """
        with self._cond:
            if self._borrowed <= 0:
                raise RuntimeError("release() without a matching acquire()")
            self._borrowed -= 1
            self._cond.notify()
            listeners = list(self._listeners) if notify else []
        for listener in listeners:
            listener()

    def on_capacity(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (from the setting thread) whenever ``total_tokens`` grows, and
        when a token comes back with ``release(notify=True)``.

        Returns:
            A function that removes the listener.
        """
        with self._cond:
            self._listeners.append(listener)

        def remove() -> None:
            with self._cond:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def __repr__(self) -> str:
        return f"CapacityLimiter(borrowed={self._borrowed}, total={self._total})"


def _check_total(value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"total_tokens must be an int of at least 1, got {value!r}")
