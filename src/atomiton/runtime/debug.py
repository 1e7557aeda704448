"""Where in the blueprint a node failed: the failing statement, found from the traceback.

A generated module keeps its source map as ``_SOURCE_MAP`` (written by the compiler's
``writer``): runs of generated lines, each with the blueprint file, line, column and node it
comes from. When a node fails, ``locate`` walks the exception's traceback to the deepest frame
of a generated module, looks its line up in that module's map and, when the line is one of the
node's own code (a line of a ``code:`` block, a transform's function), moves the ``NodeError``
to that statement: a failing statement on line 4 of a block starting on YAML line 30 is
reported at line 33. For a ``python`` node it names the line of the user's function file that
failed, next to the node's place. Either way the place is also added as a note, so that a plain
traceback shows it. Building the ``NodeError`` itself, and when one is raised, is
``execution``'s; this module only reads frames and the map (stdlib only, runs only on failure).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import FrameType
from typing import Final

from ..errors import NodeError

# The name under which a generated module keeps its map.
MAP_NAME: Final = "_SOURCE_MAP"


@dataclass(frozen=True, slots=True)
class Place:
    """A blueprint position a run of generated lines comes from."""

    source: str
    line: int
    column: int
    node: int
    included_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceMap:
    """A decoded ``_SOURCE_MAP``: run starts (ascending) and the place of each run."""

    starts: tuple[int, ...]
    places: tuple[Place | None, ...]

    def place(self, line: int) -> Place | None:
        """The place generated ``line`` comes from (None: the module's own framing)."""
        after = bisect.bisect_right(self.starts, line)  # the last run starting at or before it
        return self.places[after - 1] if after else None


@lru_cache(maxsize=16)
def decode(stored: tuple[object, ...]) -> SourceMap | None:
    """The map a module stores (see the compiler's ``writer.encode``), or None if malformed."""
    try:
        files_stored, *chunks = stored
        files: list[tuple[str, tuple[str, ...]]] = []
        for entry in files_stored:  # type: ignore[attr-defined]
            if isinstance(entry, str):
                files.append((entry, ()))
            else:
                path, *included = entry
                files.append((str(path), tuple(str(i) for i in included)))
        starts: list[int] = []
        places: list[Place | None] = []
        line = 0
        for run in "".join(str(chunk) for chunk in chunks).split():
            gap, *fields = run.split(":")
            line += int(gap)
            starts.append(line)
            if not fields:
                places.append(None)
                continue
            file, at_line, at_column, node = (int(field) for field in fields)
            path, included = files[file]
            places.append(Place(path, at_line, at_column, node, included))
    except (TypeError, ValueError, IndexError):
        return None
    return SourceMap(tuple(starts), tuple(places))


def _frames(exc: BaseException) -> Iterator[tuple[FrameType, int]]:
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _module_map(frame: FrameType) -> SourceMap | None:
    stored = frame.f_globals.get(MAP_NAME)
    return decode(stored) if isinstance(stored, tuple) else None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def statement_place(exc: BaseException, index: int) -> Place | None:
    """Where node ``index``'s code failed: the deepest generated line of the traceback, when
    the map gives it to one of that node's lines. A node that wraps its code's failure (a
    transform's ``TransformError``) keeps the code's frames in the cause: the innermost
    exception that reached the code is asked first."""
    for inner in reversed(_chain(exc)):
        found: Place | None = None
        for frame, line in _frames(inner):
            source_map = _module_map(frame)
            if source_map is not None:
                place = source_map.place(line)
                found = place if place is not None and place.node == index else None
        if found is not None:
            return found
    return None


def function_line(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the deepest failing line of a ``python`` node's function: the first
    frame below the generated module that is not atomiton's, followed down its own file."""
    frames = list(_frames(exc))
    generated = [k for k, (frame, _) in enumerate(frames) if _module_map(frame) is not None]
    start = generated[-1] + 1 if generated else 0
    user: tuple[str, int] | None = None
    for frame, line in frames[start:]:
        name = str(frame.f_globals.get("__name__", ""))
        filename = frame.f_code.co_filename
        if user is None:
            if name == "atomiton" or name.startswith("atomiton."):
                continue
            user = (filename, line)
        elif filename == user[0]:
            user = (filename, line)
    return user


def _shown(filename: str) -> str:
    """A file named from the current folder when it lies below it, else as it is."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def locate(error: NodeError, exc: BaseException, index: int) -> NodeError:
    """``error`` (blaming node ``index`` for ``exc``) moved to the failing statement when the
    traceback shows it, with a note saying where; ``error`` itself otherwise."""
    included: tuple[str, ...] = ()
    try:
        if error.node_type == "python":
            found = function_line(exc)
            if found is None:
                return error
            statement = f"{_shown(found[0])}:{found[1]}"
            where, line, column = error.source, error.line, error.column
            what = "the function of"
        else:
            place = statement_place(exc, index)
            if place is None or (place.line, place.column) == (error.line, error.column):
                return error
            where, line, column = place.source, place.line, place.column
            included = place.included_from
            statement = f"{where}:{line}:{column}"
            what = "the code of"
    except Exception:  # noqa: BLE001 - finding the place must never hide the failure itself
        return error
    located = NodeError(
        error.message,
        node_id=error.node_id,
        node_type=error.node_type,
        source=where,
        line=line,
        column=column,
        node_line=error.node_line,
        node_column=error.node_column,
        statement=statement,
        included_from=included,
    )
    node_at = f"{error.source}:{error.node_line}:{error.node_column}"
    note = f"failing statement: {statement}, in {what} node {error.node_id!r} at {node_at}"
    if included:
        note += f", included from {', '.join(included)}"
    located.add_note(note)
    return located
