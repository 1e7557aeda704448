"""Other formats folded into the native blueprint form at the schema boundary.

``fold_dialect`` is the one entry: it reads which dialect a file is in and, for Atomiton's files,
hands back the same file with its data folded into the native form (positions carried over, so
every later diagnostic still points into the original text) and a warning at each place where
the file is read differently from a literal reading. Nothing after the schema knows about it.
"""

from __future__ import annotations

from dataclasses import replace

from ... import codes
from ...diagnostics import DiagnosticSink
from ..source import SourceFile
from .atomiton import fold_atomiton
from .detect import DIALECTS, detect


def fold_dialect(src: SourceFile, sink: DiagnosticSink) -> SourceFile:
    """``src`` in the native form; problems and readings go to ``sink``."""
    data = src.data
    if not isinstance(data, dict):
        return src
    forced = data.get("dialect")
    if "dialect" in data:
        data = {k: v for k, v in data.items() if k != "dialect"}
        if forced not in DIALECTS:
            sink.error(
                codes.UNKNOWN_DIALECT,
                src.positions.span(("dialect",)),
                found=forced,
                hint="write dialect: atomiton or dialect: native, or leave it out to detect it",
            )
            return replace(src, data=data)
    dialect = forced if forced in DIALECTS else detect(data)
    if dialect == "native":
        return src if data is src.data else replace(src, data=data)
    return fold_atomiton(replace(src, data=data), sink)
