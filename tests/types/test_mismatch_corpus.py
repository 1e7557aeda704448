"""Type mismatches, each caught twice: by the compiler's edge check, and by mypy --strict.

``corpus/`` holds one blueprint per kind of mis-wired edge, with ``# E: E0401`` on the edge. The
compiler must report exactly that; compiled again with its own check switched off, the generated
module must fail ``mypy --strict`` (through ``typecheck.check_types``). ``mypy_only/`` holds
mistakes only mypy can see (a user function's real signature), marked ``# M: <mypy code>`` on the
node; ``clean/`` must pass both. mypy runs once for the whole module.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from atomiton.compiler import CompiledModule, CompileOptions, compile_blueprint
from atomiton.compiler.typecheck import check_types
from atomiton.diagnostics import Diagnostic
from atomiton.errors import BlueprintError

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "corpus").glob("*.yaml"))
MYPY_ONLY = sorted((HERE / "mypy_only").glob("*.yaml"))
CLEAN = sorted((HERE / "clean").glob("*.yaml"))
EXPECT = re.compile(r"#\s*(?P<kind>[EM]):\s*(?P<code>[\w-]+)")


def options(*, check: bool = True) -> CompileOptions:
    return CompileOptions(root=HERE, search_path=(), store=HERE / "store", check_edge_types=check)


def expectations(case: Path) -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(case.read_text().splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found.append((number, match["kind"], match["code"]))
    return found


def display(case: Path) -> str:
    return case.relative_to(HERE).as_posix()


def about(case: Path, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Findings located in ``case`` itself, or in a file it includes."""
    name = display(case)
    return [
        d
        for d in diagnostics
        if d.span is not None
        and (d.span.path == name or any(n.startswith(f"included from {name}:") for n in d.notes))
    ]


@pytest.fixture(scope="module")
def mypy_findings() -> list[Diagnostic]:
    modules: list[CompiledModule] = [
        compile_blueprint(case, options=options(check=False))
        for case in (*CORPUS, *MYPY_ONLY, *CLEAN)
    ]
    return check_types(modules, search_path=[HERE])


def test_corpus_covers_many_mistakes() -> None:
    assert len(CORPUS) >= 10


@pytest.mark.parametrize("case", CORPUS, ids=[c.stem for c in CORPUS])
def test_compiler_reports_the_mismatch_at_the_edge(case: Path) -> None:
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(case, options=options())
    got = sorted((d.span.line, d.code) for d in caught.value.diagnostics if d.span is not None)
    want = sorted((line, code) for line, kind, code in expectations(case) if kind == "E")
    assert got == want, "\n".join(d.format() for d in caught.value.diagnostics)
    message = caught.value.diagnostics[0].message
    assert " is " in message and "does not fit" in message  # both ports and both types


@pytest.mark.parametrize("case", CORPUS, ids=[c.stem for c in CORPUS])
def test_mypy_catches_the_mismatch_without_the_compilers_check(
    case: Path, mypy_findings: list[Diagnostic]
) -> None:
    found = [
        d
        for d in about(case, mypy_findings)
        if "[arg-type]" in d.message or "[assignment]" in d.message
    ]
    assert found, f"mypy --strict accepted {case.name} with the edge check off"
    assert all(d.code == "E0601" and d.span is not None and d.span.line > 0 for d in found)


@pytest.mark.parametrize("case", MYPY_ONLY, ids=[c.stem for c in MYPY_ONLY])
def test_mypy_checks_python_nodes_against_the_real_signature(
    case: Path, mypy_findings: list[Diagnostic]
) -> None:
    compile_blueprint(case, options=options())  # the compiler alone can't tell
    ((line, _, code),) = expectations(case)
    found = {
        (d.span.line, d.message.rsplit("[", 1)[-1].rstrip("]"))
        for d in about(case, mypy_findings)
        if d.span
    }
    assert (line, code) in found, found


@pytest.mark.parametrize("case", CLEAN, ids=[c.stem for c in CLEAN])
def test_clean_blueprints_pass_both_checks(case: Path, mypy_findings: list[Diagnostic]) -> None:
    compile_blueprint(case, options=options())
    assert not about(case, mypy_findings), "\n".join(d.format() for d in about(case, mypy_findings))


def test_findings_in_included_files_carry_the_include_chain(
    mypy_findings: list[Diagnostic],
) -> None:
    inner = [
        d
        for d in mypy_findings
        if d.span is not None and d.span.path == "corpus/parts/reverse.yaml"
    ]
    assert inner
    assert inner[0].notes == ("included from corpus/into_sub_blueprint.yaml:7:5",)
    assert "generated line" in (inner[0].hint or "")


def test_no_modules_no_findings() -> None:
    assert check_types([]) == []
