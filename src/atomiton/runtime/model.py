"""The plain data a generated module hands to the runtime: ``Blueprint``, ``NodeInfo`` and ``Task``.

These are frozen descriptions written once per module at import time; nothing here runs anything.
Scheduling lives in ``executors/``, per-node policy in ``execution.py`` and ``policy.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from .execution import Execution

OnError = Literal["fail", "continue", "branch"]
ExecutionMode = Literal["inline", "thread", "process"]
TaskMode = Literal["inline", "thread"]
# A node's cache policy as the compiler resolved it: ``on`` (cached when the run uses the cache),
# ``files`` (also fingerprint the files its text inputs name), ``off`` (never cached).
CacheUse = Literal["off", "on", "files"]

S = TypeVar("S")

_EMPTY: Final[Mapping[str, object]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node of a compiled blueprint, as the runtime needs to know it.

    Attributes:
        id: the node's id, prefixed with its sub-blueprint path (``totals.sum``).
        type: the node type name (``transform``).
        line: 1-based line of the node in its blueprint file.
        column: 1-based column of the node in its blueprint file.
        source: the file the node was written in when it differs from the blueprint's own
            (a node of an inlined sub-blueprint); empty means the blueprint's ``source``.
        weight: its share of the progress bar (NODES.md section 4).
        retries: how many times a failed call is tried again.
        retry_delay: seconds before the first retry; each further retry doubles it.
        timeout: seconds one attempt may take, or None for no limit.
        on_error: ``fail`` cancels the run, ``continue`` and ``branch`` record the error and let
            the run go on with a ``None`` result.
        execution: where the call runs: ``inline`` (the calling thread), ``thread`` or ``process``.
        enabled: False when the blueprint disabled the node; generated code then skips it.
        cache: whether a run that uses the node cache may serve and store its values
            (``CacheUse``; ``runtime/cache.py``).
        version: the node's code version, 16 hex digits the compiler works out from what decides
            its behaviour (its type's implementation, its parameters, its code); the same
            version and the same input values give the same result. Empty in modules compiled
            before versions existed.
    """

    id: str
    type: str
    line: int
    column: int
    source: str = ""
    weight: int = 100
    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    on_error: OnError = "fail"
    execution: ExecutionMode = "inline"
    enabled: bool = True
    cache: CacheUse = "off"
    version: str = ""


def runs_in_one_thread(nodes: Sequence[NodeInfo]) -> bool:
    """Whether every node of a run runs inline, so the run never reports from two threads.

    A ``thread`` or ``process`` node (loop and parallel are ``thread`` nodes) runs on a worker
    thread, and a node timeout calls the node from a helper thread.
    """
    return all(info.execution == "inline" and info.timeout is None for info in nodes)


@dataclass(frozen=True, slots=True)
class Blueprint:
    """A compiled blueprint: its identity, its nodes and its run defaults.

    Attributes:
        id: the blueprint id (also names the generated module).
        name: its human title.
        version: its version string.
        source: the blueprint file, relative to where it was compiled.
        sha256: hash of the source file, to tell a stale module.
        nodes: every node after inlining, in the order generated code indexes them.
        concurrency: default limit of thread tasks running at once (None: the runtime's default).
        timeout: default flow timeout in seconds (None: no limit).
        metadata: the blueprint's free-form metadata, never interpreted.
        outputs: each output field with the index of the node producing it (-1: none).
        cache: the blueprint's ``settings.cache`` is ``auto``: runs use the node cache unless
            told otherwise.
    """

    id: str
    name: str
    version: str
    source: str
    sha256: str
    nodes: tuple[NodeInfo, ...]
    concurrency: int | None = None
    timeout: float | None = None
    metadata: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    # Output field -> index of the node that produces it (-1: an input or a constant), so that
    # a value that does not fit its output's type blames that node.
    outputs: tuple[tuple[str, int], ...] = ()
    cache: bool = False
    # The executor runs use unless ``run`` names one (``settings.runtime.executor``).
    executor: str | None = None
    # Progress weights, worked out once here rather than on every observed run.
    weights: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # Whether an observed run reports from one thread only (``runs_in_one_thread``), likewise.
    one_thread: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(max(0, n.weight) for n in self.nodes))
        object.__setattr__(self, "one_thread", runs_in_one_thread(self.nodes))

    def where(self, info: NodeInfo) -> str:
        """The file a node was written in: its own ``source`` or the blueprint's."""
        return info.source or self.source


@dataclass(frozen=True, slots=True)
class Task(Generic[S]):
    """One schedulable unit of a flow: ``fn(ex, state)`` runs once the tasks in ``after`` finished.

    Attributes:
        fn: the task function; it runs one or more nodes and stores their results on ``state``.
        after: indexes (into the same task tuple) of the tasks that must finish first.
        mode: ``inline`` runs in the scheduling thread (cheap, in-memory work); ``thread`` runs on
            the execution's worker threads under the concurrency limit (blocking work).
        reads: the state slots it reads that other tasks write (what an executor whose tasks
            share no memory must hand it).
        writes: the state slots its nodes write (what such an executor hands on).
        makers: for each slot in ``writes``, the index of the node that writes it (so a value
            that cannot be handed on blames its node).
    """

    fn: Callable[[Execution, S], None]
    after: tuple[int, ...] = ()
    mode: TaskMode = "inline"
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    makers: tuple[int, ...] = ()
