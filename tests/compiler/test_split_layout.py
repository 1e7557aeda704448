"""The ``_TASKS`` tuple of a large flow is laid out by hand (``task_slots.tasks_tuple`` through
``layout.exploded_call``) exactly as black lays it out, one-element tuples and nested splits
included; and the store modules split this round stay within the module bounds."""

from __future__ import annotations

import ast
from pathlib import Path

import black
import pytest

from atomiton.compiler import layout
from atomiton.compiler.layout import BLACK_MODE
from atomiton.compiler.task_slots import names_tuple, tasks_tuple


def _task(t: int, reads: int, writes: int) -> str:
    args = [f"_task_{t}"]
    if t:
        args.append(f"after=({t - 1},)")
    if reads:
        args.append(f"reads={names_tuple([f'node_{t}_read_{k}' for k in range(reads)])}")
    if writes:
        slots = [f"result_of_node_{t}_{k}" for k in range(writes)]
        args.append(f"writes={names_tuple(slots)}")
        makers = ", ".join(str(t * 10 + k) for k in range(writes))
        args.append(f"makers=({makers}{',' if writes == 1 else ''})")
    return f"_rt.Task({', '.join(args)})"


@pytest.mark.parametrize("reads, writes", [(0, 1), (1, 1), (2, 3), (6, 1), (9, 9)])
@pytest.mark.parametrize("tasks", [1, 2, 60])
def test_tasks_tuple_is_what_black_writes(reads: int, writes: int, tasks: int) -> None:
    items = [_task(t, (t + reads) % (reads + 1), writes) for t in range(tasks)]
    text = tasks_tuple(items)
    assert black.format_str(text + "\n", mode=BLACK_MODE) == text + "\n"


def test_exploded_call_splits_outside_strings_and_drops_a_trailing_comma() -> None:
    call = "_rt.Task(" + ", ".join([f"'a, {k} (b'" for k in range(8)]) + ", reads=('only',))"
    text = layout.exploded_call(call, 4)
    assert "    'a, 0 (b',\n" in text
    assert "        reads=('only',),\n" in text
    wrapped = f"_ = (\n{text})\n"
    assert black.format_str(wrapped, mode=BLACK_MODE).replace('"', "'") == wrapped


def test_the_modules_split_this_round_stay_within_bounds() -> None:
    src = Path(__file__).parents[2] / "src" / "atomiton"
    for path in (src / "store" / "recorder.py", src / "store" / "record_rows.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 600, path.name
        assert ast.get_docstring(ast.parse(text)), path.name
