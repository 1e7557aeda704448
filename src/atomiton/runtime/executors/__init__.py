"""Executors: where the work of a run goes, behind one small interface.

``Executor`` is what a run needs from whatever runs its work: submit a task with the tasks it
waits for, cancel everything, wait for the end. Two implementations live here:

* ``ThreadExecutor`` (``threads.py``, the default): the run's tasks, started as their
  dependencies finish, on worker threads under the run's ``CapacityLimiter``; the only
  dependency scheduler of the runtime (``Execution.run_tasks`` goes through it).
* ``ProcessExecutor`` (``process.py``): calls of ``execution: process`` nodes, in a process pool
  the run owns and ends.

* ``DaskExecutor`` (``dask.py``, the ``dask`` extra): the run's tasks on a Dask cluster, each
  submitted with the futures of the tasks it reads from (``Execution.run_tasks`` hands them to
  it when ``run`` was given an ``executor``). It is not imported here: a run on threads never
  imports ``distributed``.

What a task does, which node events it reports and how failures are blamed stay with
``Execution``; sub-work of a node (loop items, parallel branches) borrows the same limiter
through its ``NodeContext``, or, on a Dask worker, runs as tasks of the cluster
(``dask_items.py``, the ``Offload`` the worker-side execution lends its nodes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from .process import ProcessExecutor as ProcessExecutor
from .threads import ThreadExecutor as ThreadExecutor

H = TypeVar("H")


class Executor(Protocol[H]):
    """Runs submitted tasks once the tasks they wait for have finished.

    ``H`` is the executor's handle of a submitted task (a task index, a future): what ``after``
    names and what ``submit`` returns.
    """

    def submit(self, fn: Callable[[], object], after: Sequence[H] = ()) -> H:
        """Queue ``fn()``; it starts once every task in ``after`` finished without failing."""

    def cancel(self, reason: str) -> None:
        """Start nothing more and stop what runs (at its next node boundary, or by force)."""

    def wait(self) -> None:
        """Return once every started task has finished; raise what failed."""


__all__ = ["Executor", "ProcessExecutor", "ThreadExecutor"]
