"""``atomiton migrate``'s compiler side: an Atomiton file rewritten as a native blueprint.

The text comes from the same fold the compiler reads the file with, so a migrated file means
exactly what the original meant, now without a single dialect warning. Key order is the fold's
(the file's own, with native names); the comments at the top of the file and those just above a
node or an edge are carried to the same node or edge. Command-line handling is
``cli/migrate_cmd.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...diagnostics import Diagnostic, DiagnosticSink
from ..source import Path_, SourceFile, read_source
from . import fold_dialect
from .detect import detect


@dataclass(frozen=True, slots=True)
class Migration:
    """The native text of one file (None when it cannot be read or folded, or is native already)."""

    text: str | None
    diagnostics: tuple[Diagnostic, ...]
    native_already: bool = False


def migrate_file(path: Path, display: str) -> Migration:
    sink = DiagnosticSink()
    src = read_source(path, display, sink)
    if src is None:
        return Migration(None, tuple(sink.items))
    if not isinstance(src.data, dict):
        return Migration(None, tuple(sink.items), native_already=True)
    forced = src.data.get("dialect")
    if forced == "native" or (forced is None and detect(src.data) == "native"):
        return Migration(None, tuple(sink.items), native_already=True)
    folded = fold_dialect(src, sink)
    if sink.has_errors:
        return Migration(None, tuple(sink.items))
    return Migration(render_native(folded.data, src), tuple(sink.items))


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no types here
    """Block style, code as literal blocks, and lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text.strip("\n") or text.endswith("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def _dump(value: object) -> str:
    return str(
        yaml.dump(
            value,
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
    )


def render_native(data: dict[str, Any], src: SourceFile) -> str:
    """``data`` as YAML text, with the original's comments carried where they belong."""
    comments = _Comments(src)
    parts = [comments.header()]
    for key, value in data.items():
        if key in ("nodes", "edges") and isinstance(value, list) and value:
            parts.append(f"\n{key}:\n")
            for item in value:
                above = comments.above(key, item)
                block = _dump([item])
                parts.append(above + "".join(_indent(line) for line in block.splitlines(True)))
        else:
            parts.append(_dump({key: value}))
    return "".join(parts)


def _indent(line: str) -> str:
    return "  " + line if line.strip() else line


class _Comments:
    """Comment lines of the original file, found by what they stand above."""

    def __init__(self, src: SourceFile) -> None:
        self.lines = src.text.splitlines()
        self.src = src
        data = src.data if isinstance(src.data, dict) else {}
        self.where: dict[tuple[str, str], int] = {}
        flow = data.get("flow")
        base: Path_ = ("flow", "data") if isinstance(flow, dict) else ()
        body = flow.get("data") if isinstance(flow, dict) else data
        body = body if isinstance(body, dict) else {}
        for key in ("nodes", "edges"):
            items = body.get(key)
            pairs: list[tuple[Path_, object, object]]
            if isinstance(items, dict):
                pairs = [((*base, key, k), k, v) for k, v in items.items()]
                for loc, name, _ in pairs:
                    self.where[(key, str(name))] = self.src.positions.span(loc, key=True).line or 0
                continue
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    line = self.src.positions.span((*base, key, index)).line or 0
                    self.where[(key, item["id"])] = line

    def header(self) -> str:
        taken = []
        for line in self.lines:
            if not line.startswith("#"):
                break
            taken.append(line + "\n")
        return "".join(taken)

    def above(self, key: str, item: object) -> str:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return ""
        line = self.where.get((key, item["id"]))
        if not line:
            return ""
        found: list[str] = []
        index = line - 2
        while index >= 0 and self.lines[index].strip().startswith("#"):
            found.insert(0, "  " + self.lines[index].strip() + "\n")
            index -= 1
        return "".join(found)
