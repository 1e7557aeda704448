"""Project settings: the ``[tool.atomiton]`` table of the project's ``pyproject.toml``.

The file is found the way black finds its own: the nearest ``pyproject.toml`` in the current
directory or above it, stopping at the top of a repository (a folder holding ``.git`` or ``.hg``).
Each setting is the default of a command-line flag, and a flag given on the command line wins.
Relative paths are relative to the folder of ``pyproject.toml``, so the same settings work from
any subfolder. A mistake (an unknown key, a value of the wrong type, a folder that does not
exist) is a diagnostic at the key's line, and a usage error: nothing runs with half the settings.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import click

from .. import codes
from ..blueprint_paths import display_path
from ..diagnostics import Diagnostic, DiagnosticSink, Span, did_you_mean
from ..naming import kebab_case
from . import status
from .report import Reporter

FILE_NAME: Final = "pyproject.toml"
TABLE: Final = "[tool.atomiton]"

# Key as written in the file (kebab-case, black's style; snake_case is accepted too) -> meaning.
KEYS: Final[dict[str, str]] = {
    "paths": "blueprint files or folders that compile and check use when given no PATH",
    "output": "the folder compile writes to when given no -o",
    "search-path": "folders searched for sub-blueprints when given no --path",
    "concurrency": "run's --concurrency when not given",
}


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """What ``[tool.atomiton]`` says; empty when there is no such table.

    Attributes:
        file: the ``pyproject.toml`` read, None when none was found.
        paths: blueprint files or folders, resolved against the file's folder.
        output: compile's output folder.
        search_path: sub-blueprint search folders.
        concurrency: run's concurrency limit.
    """

    file: Path | None = None
    paths: tuple[Path, ...] = ()
    output: Path | None = None
    search_path: tuple[Path, ...] = ()
    concurrency: int | None = None


class SettingsError(Exception):
    """``[tool.atomiton]`` is wrong; ``diagnostics`` say where and how."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__("\n".join(d.format() for d in diagnostics))
        self.diagnostics = tuple(diagnostics)


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``, not leaving the repository."""
    for folder in (start, *start.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists() or (folder / ".hg").exists():
            return None
    return None


def _key_span(text: str, display: str, key: str | None) -> Span:
    """Where ``key`` of ``[tool.atomiton]`` is written (the table header when key is None)."""
    lines = text.splitlines()
    header = next(
        (i for i, line in enumerate(lines) if line.strip().replace(" ", "") == TABLE), None
    )
    if header is None:
        return Span(display, 1, 1)
    if key is not None:
        pattern = re.compile(rf"^(\s*)[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(header + 1, len(lines)):
            if lines[number].lstrip().startswith("["):
                break
            match = pattern.match(lines[number])
            if match:
                return Span(display, number + 1, len(match.group(1)) + 1)
    return Span(display, header + 1, 1)


def load_settings(start: Path | None = None) -> ProjectSettings:
    """Read ``[tool.atomiton]`` from the nearest ``pyproject.toml``.

    Args:
        start: where to start looking (default: the current directory).

    Raises:
        SettingsError: the file is not TOML, or the table has a mistake.
    """
    path = find_pyproject((start or Path.cwd()).resolve())
    if path is None:
        return ProjectSettings()
    display = display_path(path)
    sink = DiagnosticSink()
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        sink.error(codes.UNREADABLE_SETTINGS, Span(display), file=display, problem=str(exc))
        raise SettingsError(sink.items) from None
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = Span(display, int(found[1]), int(found[2])) if found else Span(display)
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        sink.error(codes.UNREADABLE_SETTINGS, where, file=display, problem=problem)
        raise SettingsError(sink.items) from None
    tool = document.get("tool", {})
    table = tool.get("atomiton") if isinstance(tool, dict) else None
    if table is None:
        return ProjectSettings(file=path)
    if not isinstance(table, dict):
        sink.error(
            codes.SETTING_TYPE_MISMATCH,
            _key_span(text, display, None),
            key="tool.atomiton",
            expected="a table",
            found=type(table).__name__,
        )
        raise SettingsError(sink.items)
    settings = _read_table(table, path, text, display, sink)
    if sink.items:
        raise SettingsError(sink.items)
    return settings


def _read_table(
    table: dict[str, object], path: Path, text: str, display: str, sink: DiagnosticSink
) -> ProjectSettings:
    base = path.parent
    values: dict[str, object] = {}
    for raw_key, value in table.items():
        key = kebab_case(raw_key)
        span = _key_span(text, display, raw_key)
        if key not in KEYS:
            hint = did_you_mean(key, list(KEYS))
            sink.error(
                codes.UNKNOWN_SETTING,
                span,
                key=raw_key,
                file=display,
                hint=hint or f"the keys are {', '.join(KEYS)}",
            )
            continue

        def wrong(expected: str) -> None:
            sink.error(
                codes.SETTING_TYPE_MISMATCH,
                span,
                key=raw_key,
                expected=expected,
                found=_kind(value),
            )

        if key in ("paths", "search-path"):
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                wrong("a list of folder names")
                continue
            folders = tuple(base / item for item in items)
            for item, folder in zip(items, folders):
                if not folder.exists() or (key == "search-path" and not folder.is_dir()):
                    sink.error(
                        codes.SETTING_PATH_MISSING,
                        span,
                        key=raw_key,
                        path=item,
                        folder=display_path(base) or ".",
                    )
            values[key] = folders
        elif key == "output":
            if not isinstance(value, str) or not value:
                wrong("a folder name")
                continue
            values[key] = base / value
        elif key == "concurrency":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                wrong("a whole number >= 1")
                continue
            values[key] = value
    paths = values.get("paths", ())
    search = values.get("search-path", ())
    output = values.get("output")
    concurrency = values.get("concurrency")
    assert isinstance(paths, tuple) and isinstance(search, tuple)
    assert output is None or isinstance(output, Path)
    assert concurrency is None or isinstance(concurrency, int)
    return ProjectSettings(path, paths, output, search, concurrency)


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return f"{name} ({value!r})"
    return "a list" if isinstance(value, list) else "a table" if isinstance(value, dict) else "?"


def project_settings(reporter: Reporter | None = None) -> ProjectSettings:
    """The current directory's settings, for a command; a mistake in them ends it with status 2.

    Args:
        reporter: prints the mistakes (the command's own, so ``--format json`` applies).
    """
    try:
        return load_settings()
    except SettingsError as exc:
        reporter = reporter or Reporter()
        reporter.diagnostics(exc.diagnostics)
        reporter.print_summary()
        raise click.exceptions.Exit(status.USAGE_ERROR) from None
