"""Termination signals for programs that embed runs: ``cancel_on_signals``.

A process that receives SIGTERM (a service manager stopping it) or SIGHUP (its terminal went
away) dies at once by default, and the programs its flows started live on, re-parented to init.
Inside ``cancel_on_signals`` those signals cancel every run of the process instead, exactly like
``CancelToken.cancel``: running programs' process groups are killed and nodes not yet started are
reported skipped. The caller then decides how to end (``atomiton run`` exits 128 + the signal).

The handler itself only puts the signal number on a queue (``SimpleQueue.put`` is safe in a signal
handler); a watcher thread does the cancelling, because the main thread may be interrupted while
it holds a lock that cancelling needs.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from .control import CancelToken
from .execution import active_runs

Handler = Callable[[int, FrameType | None], Any] | int | None

#: The signals that ``cancel_on_signals`` handles unless told otherwise (those this OS has).
TERMINATION_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class SignalCancel(CancelToken):
    """The token ``cancel_on_signals`` yields: cancelled by the first signal that arrives.

    Pass it to runs as ``cancel=`` to cancel them too (every active run is cancelled anyway), or
    poll ``cancelled`` / ``wait()`` to shut a service down.
    """

    __slots__ = ("_signal", "_count")

    def __init__(self) -> None:
        super().__init__()
        self._signal: int | None = None
        self._count = 0

    @property
    def signal(self) -> int | None:
        """The number of the first signal received, or None."""
        return self._signal

    @property
    def count(self) -> int:
        """How many of the handled signals have arrived (a second one may mean "hurry")."""
        return self._count

    def _received(self, signum: int) -> None:
        with self._lock:
            self._count += 1
            if self._signal is None:
                self._signal = signum
        self.cancel(f"received {signal_name(signum)}")


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15; ``"signal 99"`` for a number the OS does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def cancel_all_runs(reason: str) -> int:
    """Cancel every run of this process that is still going; return how many were cancelled."""
    runs = active_runs()
    for ex in runs:
        ex.cancel(reason)
    return len(runs)


@contextmanager
def cancel_on_signals(signals: Iterable[int] = TERMINATION_SIGNALS) -> Iterator[SignalCancel]:
    """While active, ``signals`` (default SIGTERM and SIGHUP) cancel every run of the process.

    Each arriving signal cancels every active run (reason ``"received SIGTERM"``, so their
    ``run()`` raises ``CancelledError``), then cancels the yielded token, then calls the handler
    that was installed before, if that was a Python function (a server's own graceful shutdown
    still runs). The signal no longer ends the process by itself: the caller ends it, typically
    with exit status ``128 + token.signal``. A signal that is ignored when the block starts
    (``nohup`` ignores SIGHUP) stays ignored. On leaving, the previous handlers are restored.

    Args:
        signals: the signal numbers to handle.

    Yields:
        A ``SignalCancel`` token: cancelled on the first signal; ``signal`` and ``count`` say
        which arrived and how many.

    Raises:
        ValueError: not called from the main thread (only it may set signal handlers).
    """
    wanted = tuple(dict.fromkeys(int(s) for s in signals))
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("cancel_on_signals() must be used in the main thread")
    token = SignalCancel()
    arrived: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def watch() -> None:
        while (signum := arrived.get()) is not None:
            cancel_all_runs(f"received {signal_name(signum)}")
            token._received(signum)

    watcher = threading.Thread(target=watch, name="atomiton-signals", daemon=True)
    watcher.start()
    previous: dict[int, Handler] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        arrived.put(signum)
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)

    try:
        for signum in wanted:
            # An ignored signal stays ignored: under ``nohup`` SIGHUP must not stop the run.
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, handle)
        yield token
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)
        arrived.put(None)
        watcher.join()
