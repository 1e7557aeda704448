"""The bad-blueprint corpus: every ``tests/diagnostics/<case>.yaml`` must fail to compile with
exactly the diagnostics its comments announce.

An expectation is a comment on the offending line, as in mypy's ``.test`` files::

    - {source: read, target: filter, targetHandle: inptu}   # E: E0203

Several codes may share a line (``# E: E0203 E0206``). A case that includes other files keeps
them in ``includes/<case>/``; expectations written there count too. The test compares the set of
(file, line, code) triples and prints both sides on a mismatch.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from atomiton.codes import CODES
from atomiton.compiler import CompileOptions, compile_blueprint
from atomiton.diagnostics import Diagnostic
from atomiton.errors import BlueprintError

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*.yaml"))
EXPECTATION = re.compile(r"#\s*E:\s*(?P<codes>(?:[EW]\d{4}\s*)+)$")
FORMATTED = re.compile(
    r"^(?P<path>[^\s:][^:\n]*):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): "
    r"(?P<severity>error|warning)\[(?P<code>[EW]\d{4})\]: \S.*$"
)

Triple = tuple[str, int, str]


def case_files(case: Path) -> list[Path]:
    """The case file and the files it includes (kept in ``includes/<case stem>/``)."""
    folder = HERE / "includes" / case.stem
    extra = sorted(folder.rglob("*.yaml")) if folder.is_dir() else []
    return [case, *extra]


def expected_diagnostics(case: Path) -> set[Triple]:
    expected: set[Triple] = set()
    for path in case_files(case):
        display = path.relative_to(HERE).as_posix()
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            match = EXPECTATION.search(line)
            if match:
                expected.update((display, number, code) for code in match["codes"].split())
    return expected


def compile_case(case: Path) -> list[Diagnostic]:
    options = CompileOptions(root=HERE, search_path=(), store=HERE / "store")
    try:
        compile_blueprint(case, options=options)
    except BlueprintError as exc:
        return list(exc.diagnostics)
    pytest.fail(f"{case.name} compiled without errors; every case here must fail")


def describe(triples: set[Triple], diagnostics: list[Diagnostic] | None = None) -> str:
    if not triples:
        return "    (none)"
    lines = []
    for path, line, code in sorted(triples):
        text = ""
        if diagnostics is not None:
            found = [
                d
                for d in diagnostics
                if d.span and (d.span.path, d.span.line, d.code) == (path, line, code)
            ]
            text = f"  {found[0].message}" if found else ""
        lines.append(f"    {path}:{line}: {code}{text}")
    return "\n".join(lines)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30, f"only {len(CASES)} cases in {HERE}"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_diagnostics(case: Path) -> None:
    expected = expected_diagnostics(case)
    assert expected, f"{case.name} has no '# E: CODE' expectation comment"
    diagnostics = compile_case(case)
    actual = {(d.span.path, d.span.line, d.code) for d in diagnostics if d.span is not None}
    unplaced = [d.format() for d in diagnostics if d.span is None or d.span.line == 0]
    assert not unplaced, "diagnostics without a line:\n" + "\n".join(unplaced)
    if actual != expected:
        report = "\n".join(d.format() for d in diagnostics)
        pytest.fail(
            f"{case.name}: diagnostics differ from the '# E:' comments\n"
            f"  expected but missing:\n{describe(expected - actual)}\n"
            f"  reported but not expected:\n{describe(actual - expected, diagnostics)}\n"
            f"  full report:\n{report}"
        )


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_diagnostics_are_formatted_like_a_compiler(case: Path) -> None:
    for diagnostic in compile_case(case):
        assert diagnostic.code in CODES, f"{diagnostic.code} is not in atomiton.codes"
        first, *rest = diagnostic.format().split("\n")
        assert FORMATTED.match(first), f"not 'path:line:col: error[CODE]: message': {first!r}"
        for line in rest:
            assert line.startswith(
                ("  hint: ", "  note: ")
            ), f"unexpected continuation line {line!r}"


def messages(case: str) -> list[str]:
    return [d.format() for d in compile_case(HERE / f"{case}.yaml")]


def test_cycle_message_prints_the_chain() -> None:
    (text,) = [m for m in messages("cycle") if "E0207" in m]
    assert "the graph has a cycle: a -> b -> c -> a" in text, text


def test_include_cycle_message_prints_the_files() -> None:
    (text,) = messages("include_cycle")
    assert (
        "includes/include_cycle/a.yaml -> includes/include_cycle/b.yaml -> includes/include_cycle/a.yaml"
        in text
    ), text


@pytest.mark.parametrize(
    ("case", "code", "hint"),
    [
        ("unknown_keys", "E0101", "did you mean 'nodes'?"),
        ("unknown_keys", "E0101", "did you mean 'parameters'?"),
        ("unknown_target_port", "E0203", "did you mean 'data'?"),
        ("unknown_source_port", "E0204", "did you mean 'rows'?"),
        ("unknown_edge_nodes", "E0205", "did you mean 'source'?"),
        ("parameter_errors", "E0210", "did you mean 'transformFunction'?"),
        ("python_code_errors", "E0302", "Atomiton flows used JavaScript"),
        ("template_errors", "E0301", "not arbitrary code"),
        ("yaml_booleans", "E0102", "quote it"),
    ],
)
def test_hints(case: str, code: str, hint: str) -> None:
    found = [m for m in messages(case) if f"[{code}]" in m]
    assert any(hint in m for m in found), f"no {code} of {case} mentions {hint!r}:\n" + "\n".join(
        found
    )
