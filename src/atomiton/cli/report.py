"""Printing what the commands have to say: diagnostics, failures and summaries, on stderr.

Diagnostics keep the shape compilers use (``path:line:col: error[CODE]: message`` and indented
``hint:`` / ``note:`` lines) so that editors and CI annotate them. Colour is added only when stderr
is a terminal (rich decides, and honours ``NO_COLOR``); lines are never wrapped, so a piped log
keeps one diagnostic per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.text import Text

from ..blueprint_paths import display_path
from ..diagnostics import Diagnostic, Severity

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow"}


def stderr_console() -> Console:
    """A console on the current ``sys.stderr``: colour on a terminal only, no wrapping."""
    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


def stdout_console() -> Console:
    """A console on the current ``sys.stdout``, same settings as ``stderr_console``."""
    return Console(soft_wrap=True, highlight=False, emoji=False)


def plural(count: int, word: str) -> str:
    """``1 error``, ``3 errors``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def diagnostic_text(diagnostic: Diagnostic) -> Text:
    """One diagnostic as styled text, in the same words as ``Diagnostic.format``."""
    text = Text()
    if diagnostic.span is not None:
        text.append(f"{diagnostic.span}: ", style="bold")
    severity = diagnostic.severity
    text.append(f"{severity.value}[{diagnostic.code}]", style=_SEVERITY_STYLE[severity])
    text.append(f": {diagnostic.message}")
    if diagnostic.hint:
        text.append("\n  ")
        text.append("hint:", style="cyan")
        text.append(f" {diagnostic.hint}")
    for note in diagnostic.notes:
        text.append("\n  ")
        text.append("note:", style="blue")
        text.append(f" {note}")
    return text


def diagnostic_json(diagnostic: Diagnostic, *, path: Path | None = None) -> dict[str, object]:
    """One diagnostic as a JSON object, the form ``check --format json`` prints one per line.

    Positions are 1-based; the ``end_*`` fields are null when the compiler knows only where the
    problem starts, and ``line``/``column`` are null for a problem of the file as a whole.
    """
    span = diagnostic.span
    where = span.path if span is not None else (display_path(path) if path else None)
    line = span.line if span is not None and span.line else None
    column = span.column if span is not None and span.column and line else None
    return {
        "path": where,
        "line": line,
        "column": column,
        "end_line": getattr(span, "end_line", None) or None,
        "end_column": getattr(span, "end_column", None) or None,
        "severity": diagnostic.severity.value,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "hint": diagnostic.hint,
        "notes": list(diagnostic.notes),
    }


class Reporter:
    """Prints diagnostics as they are found and keeps the counts for the summary line.

    With ``json_out`` set, diagnostics are written there as JSON lines (``diagnostic_json``)
    instead of as text; everything else still goes to the console.
    """

    def __init__(self, console: Console | None = None, *, json_out: IO[str] | None = None) -> None:
        self.console = console or stderr_console()
        self.json_out = json_out
        self.errors = 0
        self.warnings = 0
        self._files_with_errors: set[str] = set()

    def diagnostics(self, items: Iterable[Diagnostic], *, path: Path | None = None) -> None:
        """Print ``items`` (found while compiling ``path``) and count them."""
        for diagnostic in items:
            if self.json_out is not None:
                record = diagnostic_json(diagnostic, path=path)
                self.json_out.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.json_out.flush()
            else:
                self.console.print(diagnostic_text(diagnostic))
            if diagnostic.is_error:
                self.errors += 1
                where = diagnostic.span.path if diagnostic.span else None
                self._files_with_errors.add(where or (display_path(path) if path else "?"))
            else:
                self.warnings += 1

    def error(self, message: str) -> None:
        """A plain ``error: message`` line (a problem that is not a blueprint diagnostic)."""
        text = Text()
        text.append("error", style=_SEVERITY_STYLE[Severity.ERROR])
        text.append(f": {message}")
        self.console.print(text)

    def warning(self, message: str) -> None:
        """A plain ``warning: message`` line."""
        text = Text()
        text.append("warning", style=_SEVERITY_STYLE[Severity.WARNING])
        text.append(f": {message}")
        self.console.print(text)

    def info(self, message: str) -> None:
        self.console.print(Text(message))

    @property
    def has_errors(self) -> bool:
        return self.errors > 0

    def summary(self) -> str:
        """``found 3 errors in 2 files`` (with warnings, if any), or an empty string."""
        parts = []
        if self.errors:
            files = plural(len(self._files_with_errors), "file")
            parts.append(f"found {plural(self.errors, 'error')} in {files}")
        if self.warnings:
            parts.append(plural(self.warnings, "warning"))
        return ", ".join(parts)

    def print_summary(self) -> None:
        """Print the summary line when there is something to sum up."""
        line = self.summary()
        if line:
            self.console.print(Text(line, style="bold" if self.errors else ""))
