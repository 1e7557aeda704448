"""Diagnostic codes: named constants with their message templates (``atomiton.codes``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from atomiton import codes
from atomiton.codes import CODES, ErrorCode
from atomiton.diagnostics import DiagnosticSink, Severity

SRC = Path(__file__).resolve().parent.parent / "src" / "atomiton"


def test_every_code_is_a_named_constant_in_the_registry() -> None:
    constants = {v for v in vars(codes).values() if isinstance(v, ErrorCode)}
    assert set(CODES.values()) == constants
    assert all(re.fullmatch(r"[EW]\d{4}", code) for code in CODES)
    assert list(CODES) == sorted(CODES)


def test_a_code_is_its_text_and_fills_exactly_its_fields() -> None:
    code = codes.UNKNOWN_NODE_TYPE
    assert code == "E0202" and f"{code}" == "E0202" and code.fields == {"type", "node"}
    assert code.message(type="transfrom", node="big") == (
        "unknown node type 'transfrom' for node 'big'"
    )
    with pytest.raises(TypeError, match="takes"):
        code.message(type="transfrom")
    with pytest.raises(TypeError, match="takes"):
        code.message(type="transfrom", node="big", extra=1)
    # str.format would give back "E0202": the message comes from .message() only.
    with pytest.raises(TypeError, match="message"):
        code.format(type="transfrom", node="big")


def test_the_sink_builds_diagnostics_from_constants() -> None:
    sink = DiagnosticSink()
    sink.warning(codes.DISABLED_NODE, None, node="n", count=2)
    (found,) = sink.items
    assert (found.code, found.severity) == ("W0001", Severity.WARNING)
    assert found.message == "node 'n' is disabled; 2 node(s) that depend on it are skipped too"


def test_no_code_is_spelled_as_a_string_outside_the_registry() -> None:
    literal = re.compile(r"""(?<![\w.])["'][EW]\d{4}["']""")
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "codes.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line)
    ]
    assert found == []
