"""Sub-work under the run's concurrency limit, with no thread parked while others work.

A parallel node without timeouts runs branches on its own thread instead of only watching them,
so the limit bounds every thread the run has alive, not only the ones running nodes; loop items
(nested parallel nodes too) stay within it; cancelling mid-fan-out leaves no thread behind.
Each sleeping node records, from inside, how many nodes run at that instant and how many threads
the run has alive (the sampler of ``test_sched_threads``).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import ModuleType

import pytest
from test_sched_threads import branches, compiled, run_sampled, sampler

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError
from atomiton.nodes.parallel import Params
from atomiton.nodes.parallel import run as run_parallel
from atomiton.runtime.context import NodeContext
from atomiton.runtime.limiter import CapacityLimiter

__all__ = ["sampler"]  # the fixture, used by name


def two_parallel_nodes(sampler: str, count: int, strategy: str = "all") -> str:
    fans = []
    for name in ("left", "right"):
        fans.append(f"""
  - id: {name}
    type: parallel
    parameters:
      concurrency: 20
      strategy: {strategy}
      branches:
{branches(sampler, count)}""")
    return "id: sides\nnodes:" + "".join(fans) + "\n"


def test_two_parallel_nodes_side_by_side_keep_every_thread_within_the_limit(
    tmp_path: Path, sampler: ModuleType
) -> None:
    module = compiled(tmp_path, two_parallel_nodes(sampler.__name__, 20))
    out = run_sampled(module, sampler, 4)
    assert out.model_dump() == {"left": [None] * 20, "right": [None] * 20}  # type: ignore[attr-defined]
    assert sampler.PEAK[0] == 4  # the limit, and parallelism up to it
    # Before: two coordinating threads sat idle beside four branch threads (6 alive). Now the
    # nodes' own threads run branches: 4 alive, +1 for a thread ending as its successor starts.
    assert len(sampler.STARTED) == 80 and max(sampler.STARTED) <= 5


def test_a_race_decided_while_the_node_runs_a_branch_itself_reports_one_winner(
    tmp_path: Path, sampler: ModuleType
) -> None:
    module = compiled(tmp_path, two_parallel_nodes(sampler.__name__, 6, strategy="race"))
    out = run_sampled(module, sampler, 4)
    assert out.model_dump() == {"left": [None], "right": [None]}  # type: ignore[attr-defined]
    # Nothing new starts once a branch won: at most the branches already running finish.
    assert len(sampler.STARTED) < 2 * 2 * 6
    assert max(sampler.STARTED) <= 5


def test_fifty_loop_items_at_concurrency_10_stay_within_a_run_limit_of_3(
    tmp_path: Path, sampler: ModuleType
) -> None:
    items = list(range(50))
    module = compiled(
        tmp_path,
        f"""
        id: items
        variables:
          items: {{type: array, defaultValue: {items}}}
        nodes:
          - id: each
            type: loop
            parameters:
              concurrency: 10
              body:
                nodes:
                  - {{id: step, type: python, function: '{sampler.__name__}:nap'}}
                edges:
                  - {{source: input, sourceHandle: item, target: step}}
                  - {{source: step, target: output, targetHandle: value}}
        edges:
          - {{source: input, sourceHandle: items, target: each, targetHandle: array}}
        """,
    )
    out = run_sampled(module, sampler, 3)
    assert out.model_dump()["each"] == items  # type: ignore[attr-defined]
    assert sampler.PEAK[0] == 3
    assert len(sampler.STARTED) == 100 and max(sampler.STARTED) <= 3


def test_parallel_nodes_inside_loop_items_share_the_run_limit(
    tmp_path: Path, sampler: ModuleType
) -> None:
    module = compiled(
        tmp_path,
        f"""
        id: nested
        variables:
          items: {{type: array, defaultValue: [1, 2, 3, 4, 5, 6]}}
        nodes:
          - id: each
            type: loop
            parameters:
              concurrency: 3
              body:
                nodes:
                  - id: fan
                    type: parallel
                    parameters:
                      concurrency: 4
                      branches:
{textwrap_indent(branches(sampler.__name__, 4), 16)}
                edges:
                  - {{source: input, sourceHandle: item, target: fan}}
                  - {{source: fan, target: output, targetHandle: value}}
        edges:
          - {{source: input, sourceHandle: items, target: each, targetHandle: array}}
        """,
    )
    out = run_sampled(module, sampler, 4)
    results = out.model_dump()["each"]  # type: ignore[attr-defined]
    assert results == [[k] * 4 for k in range(1, 7)]  # item order, branch order
    assert sampler.PEAK[0] == 4
    # The loop runs in the main thread (one task) on its token: 3 more threads at most, +1 for
    # a thread ending as its successor starts.
    assert len(sampler.STARTED) == 48 and max(sampler.STARTED) <= 4


def textwrap_indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


SLOW_BRANCHES = """
id: slow
nodes:
  - id: fan
    type: parallel
    parameters:
      concurrency: 8
      branches:
{branches}
  - id: each
    type: loop
    parameters:
      concurrency: 8
      body:
        nodes:
          - {{id: wait, type: shell-command, parameters: {{program: sleep, args: ["30"]}}}}
edges:
  - {{source: input, sourceHandle: items, target: each, targetHandle: array}}
variables:
  items: {{type: array, defaultValue: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}
"""


def test_cancelling_mid_fan_out_leaves_no_thread(tmp_path: Path) -> None:
    waits = "\n".join(
        [
            '        - nodes: [{id: w, type: shell-command, parameters: {program: sleep, args: ["30"]}}]'
            for _ in range(10)
        ]
    )
    module = compiled(tmp_path, SLOW_BRANCHES.format(branches=waits))
    before = set(threading.enumerate())
    token = rt.CancelToken()
    seen: list[int] = []

    def cancel_when_fanned_out() -> None:
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            alive = len(set(threading.enumerate()) - before - {threading.current_thread()})
            if alive >= 4:  # both nodes are running sub-work on every token
                seen.append(alive)
                break
            time.sleep(0.005)
        token.cancel("enough")

    canceller = threading.Thread(target=cancel_when_fanned_out, name="canceller")
    canceller.start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="enough"):
        module.run(module.Inputs(), cancel=token, concurrency=4)
    canceller.join()
    assert seen and seen[0] <= 5
    assert time.monotonic() - started < 10
    give_up = time.monotonic() + 2.0
    while {t for t in threading.enumerate() if t not in before} and time.monotonic() < give_up:
        time.sleep(0.01)
    assert {t for t in threading.enumerate() if t not in before} == set()


def decided_early(strategy: str) -> str:
    return f"""
id: early
nodes:
  - id: fan
    type: parallel
    parameters:
      concurrency: 2
      strategy: {strategy}
      branches:
        - nodes: [{{id: slow, type: shell-command, parameters: {{program: sleep, args: ["30"]}}}}]
        - nodes: [{{id: quick, type: code, parameters: {{code: "{{{{quick}}}}"}}}}]
"""


@pytest.mark.parametrize(
    ("strategy", "quick", "expected"),
    [("race", "return 7", {"fan": [7]}), ("all", "raise ValueError('boom')", None)],
)
def test_a_decision_stops_the_branch_the_node_runs_itself(
    tmp_path: Path, strategy: str, quick: str, expected: object
) -> None:
    # The node's own thread takes branch 0 (a program sleeping 30 s); branch 1 decides the node
    # on a borrowed thread and cancels branch 0, whose program is killed.
    text = decided_early(strategy).replace("{{quick}}", quick)
    module = compiled(tmp_path, text)
    before = set(threading.enumerate())
    started = time.monotonic()
    if expected is None:
        with pytest.raises(NodeError, match="boom"):
            module.run(module.Inputs(), concurrency=4)
    else:
        assert module.run(module.Inputs(), concurrency=4).model_dump() == expected
    assert time.monotonic() - started < 10
    assert {t for t in threading.enumerate() if t not in before and t.is_alive()} == set()


def test_under_a_limit_the_calling_thread_runs_branches_and_every_token_comes_back() -> None:
    limiter = CapacityLimiter(3)
    ran_on: list[str] = []
    lock = threading.Lock()

    def branch(data: int) -> int:
        with lock:
            ran_on.append(threading.current_thread().name)
        time.sleep(0.01)
        return data

    context = NodeContext("fan", limiter=limiter)
    out = run_parallel(Params(concurrency=10), data=5, branches=[branch] * 10, context=context)
    assert out.results == [5] * 10
    assert threading.current_thread().name in ran_on  # it helped instead of only waiting
    assert len(set(ran_on)) <= 4  # itself and the three tokens it could borrow
    assert limiter.borrowed_tokens == 0


def test_an_interrupt_in_a_branch_the_calling_thread_runs_stops_the_node() -> None:
    def interrupted(data: object) -> object:
        raise KeyboardInterrupt

    limiter = CapacityLimiter(2)
    context = NodeContext("fan", limiter=limiter)
    # allSettled would otherwise record it as a rejected branch and go on.
    with pytest.raises(KeyboardInterrupt):
        run_parallel(
            Params(concurrency=1, strategy="allSettled"),
            branches=[interrupted, lambda d: d],
            context=context,
        )
    assert limiter.borrowed_tokens == 0
