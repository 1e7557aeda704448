"""Run ids: UUIDv7 text, unique across threads and forked processes, sorted by start time."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from atomiton.runtime.run_ids import new_run_id


def test_ids_are_uuid7_and_sort_in_the_order_they_were_made() -> None:
    ids = [new_run_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    millis = int(ids[0].replace("-", "")[:12], 16)
    assert abs(millis / 1000 - time.time()) < 5  # the leading bits are the time


def test_threads_get_distinct_ids() -> None:
    found: list[list[str]] = []

    def make() -> None:
        found.append([new_run_id() for _ in range(2000)])

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for chunk in found for i in chunk]
    assert len(set(every)) == 16000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the id it makes next
        os.write(write, new_run_id().encode())
        os._exit(0)
    os.close(write)
    mine = new_run_id()
    os.waitpid(pid, 0)
    theirs = os.read(read, 100).decode()
    os.close(read)
    # Same millisecond and the same counter position are possible; the random prefix is redrawn.
    assert _prefix(theirs) != _prefix(mine)


def _prefix(run_id: str) -> int:
    """The per-process random part: the 74 bits after the time, less the 32-bit counter."""
    value = uuid.UUID(run_id).int
    tail = ((value >> 64) & 0xFFF) << 62 | (value & ((1 << 62) - 1))
    return tail >> 32
