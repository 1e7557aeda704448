"""Run ids: unique across processes and machines, and sortable by when the run started.

An id is UUIDv7 text (RFC 9562): 48 bits of Unix time in milliseconds, then 74 bits that are a
per-process random prefix followed by a per-process counter. Sorting ids as strings sorts runs by
start time (to the millisecond; within one process, in the order they started), so a log or a
run store can use them as keys. The prefix is drawn again in a forked child, so two processes
never share one.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Final

_TIME_MASK: Final = (1 << 48) - 1
_COUNTER_BITS: Final = 32
_PREFIX_BITS: Final = 74 - _COUNTER_BITS


def _reseed() -> None:
    global _prefix, _counter
    _prefix = int.from_bytes(os.urandom(8), "big") >> (64 - _PREFIX_BITS)
    _counter = itertools.count(int.from_bytes(os.urandom(2), "big"))


_prefix: int = 0
_counter: itertools.count[int] = itertools.count()
_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_run_id() -> str:
    """A fresh run id, such as ``019ac9f2-6b1e-7a3c-9d4e-5f60718293a4``.

    ``itertools.count`` is atomic under the GIL, so threads starting runs at once get distinct
    ids without a lock.
    """
    millis = time.time_ns() // 1_000_000
    tail = (_prefix << _COUNTER_BITS) | (next(_counter) & ((1 << _COUNTER_BITS) - 1))
    # Version 7 in bits 48-51, variant 0b10 in bits 64-65; the 74 tail bits fill the rest.
    value = (
        ((millis & _TIME_MASK) << 80)
        | (0x7 << 76)
        | ((tail >> 62) << 64)
        | (0b10 << 62)
        | (tail & ((1 << 62) - 1))
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
