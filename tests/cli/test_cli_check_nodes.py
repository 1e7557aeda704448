"""``atomiton check`` without mypy, ``atomiton nodes``, ``--version`` and every ``--help``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BAD, HELLO, Invoke, WriteBlueprint

from atomiton import __version__
from atomiton.cli.report import Reporter, diagnostic_text
from atomiton.diagnostics import Diagnostic, Severity, Span


def test_check_passes_good_blueprints(cli: Invoke, write: WriteBlueprint, workdir: Path) -> None:
    write("flows/a.yaml", HELLO)
    write("flows/b.yaml", HELLO)

    result = cli("check", "flows", "--no-mypy")

    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == "ok: 2 blueprints checked"
    assert list(workdir.iterdir()) == [workdir / "flows"]  # nothing written


def test_check_reports_every_error(cli: Invoke, write: WriteBlueprint) -> None:
    write("bad.yaml", BAD)

    result = cli("check", "bad.yaml", "--no-mypy")

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "bad.yaml:2:5: error[E0202]: unknown node type 'edit-fieldz' for node 'a'"
    assert lines[1] == "  hint: did you mean 'edit-fields'?"
    assert lines[-1] == "found 3 errors in 1 file"
    assert "\x1b[" not in result.stderr  # no colour when not on a terminal


def test_yaml_syntax_error_is_a_diagnostic(cli: Invoke, write: WriteBlueprint) -> None:
    write("broken.yaml", "nodes:\n  - id: a\n   type: [\n")

    result = cli("check", "broken.yaml", "--no-mypy")

    assert result.exit_code == 1
    assert result.stderr.startswith("broken.yaml:")
    assert "error[" in result.stderr


def test_nodes_lists_every_type_with_a_description(cli: Invoke) -> None:
    result = cli("nodes")

    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    for name in ("code", "edit-fields", "transform", "shell-command", "blueprint", "python"):
        assert name in rows
        assert len(rows[name].split()) > 2, rows[name]  # a description follows the name


def test_nodes_describes_one_type(cli: Invoke) -> None:
    result = cli("nodes", "transform")

    assert result.exit_code == 0
    assert "parameters:" in result.stdout
    assert "operation" in result.stdout
    assert "filter" in result.stdout  # allowed values are listed


def test_nodes_describes_builtin_types(cli: Invoke) -> None:
    result = cli("nodes", "blueprint")

    assert result.exit_code == 0
    assert "inlined at compile time" in result.stdout


def test_unknown_node_type_suggests_the_closest(cli: Invoke) -> None:
    result = cli("nodes", "transfrom")

    assert result.exit_code == 2
    assert "did you mean 'transform'?" in result.stderr


def test_version(cli: Invoke) -> None:
    result = cli("--version")

    assert result.exit_code == 0
    assert result.stdout.strip() == f"atomiton, version {__version__}"


@pytest.mark.parametrize("command", [[], ["compile"], ["check"], ["run"], ["nodes"]])
def test_every_help_explains_with_an_example(cli: Invoke, command: list[str]) -> None:
    result = cli(*command, "--help")

    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "atomiton " + (command[0] if command else "") in result.stdout.split("Examples:")[1]


def test_summary_counts_errors_files_and_warnings() -> None:
    reporter = Reporter()
    assert reporter.summary() == ""
    reporter.errors, reporter.warnings = 1, 2
    reporter._files_with_errors = {"a.yaml"}
    assert reporter.summary() == "found 1 error in 1 file, 2 warnings"


def test_diagnostic_text_matches_the_library_format() -> None:
    diagnostic = Diagnostic(
        "E0203",
        "edge 'e3' targets unknown port 'inptu'",
        Span("flows/a.yaml", 14, 13),
        Severity.WARNING,
        hint="did you mean 'input'?",
        notes=("included from parent.yaml:7:5",),
    )

    assert diagnostic_text(diagnostic).plain == diagnostic.format()


def test_check_reports_mypy_findings_at_yaml_positions(cli: Invoke, write: WriteBlueprint) -> None:
    write("good.yaml", HELLO)
    write(
        "typo.yaml",
        """\
        nodes:
          - id: greet
            type: edit-fields
            parameters: {values: {message: hi}}
          - id: count
            type: code
            parameters:
              code: |
                total: int = "one"
                return total
        edges:
          - {source: greet, target: count}
        """,
    )

    result = cli("check", "good.yaml", "typo.yaml")

    assert result.exit_code == 1
    assert "typo.yaml:9:9: error[E0601]:" in result.stderr  # the code line, not the node
    assert "good.yaml" not in result.stderr
    assert result.stderr.rstrip().endswith("in 1 file")
