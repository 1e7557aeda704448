"""``atomiton check``: diagnostics as JSON for editors and CI, and no module-name clash when
nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BAD, HELLO, Invoke, WriteBlueprint, run_atomiton

FIELDS = [
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "severity",
    "code",
    "message",
    "hint",
    "notes",
]


def test_format_json_prints_one_object_per_diagnostic(cli: Invoke, write: WriteBlueprint) -> None:
    write("flows/bad.yaml", BAD)

    result = cli("check", "flows", "--no-mypy", "--format", "json")

    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(r) for r in records] == [FIELDS] * len(records)
    found = [(r["path"], r["line"], r["code"], r["severity"]) for r in records]
    assert found == [
        ("flows/bad.yaml", 2, "E0202", "error"),
        ("flows/bad.yaml", 6, "E0210", "error"),
        ("flows/bad.yaml", 8, "E0205", "error"),
    ]
    unknown = records[0]
    assert unknown["column"] == 5 and "edit-fields" in unknown["hint"]
    assert isinstance(unknown["notes"], list)
    # stdout is JSON only; the summary stays on stderr.
    assert "found" in result.stderr and "error[" not in result.stderr


def test_format_json_reports_mypy_findings_too(cli: Invoke, write: WriteBlueprint) -> None:
    write(
        "typed.yaml",
        """\
        interface:
          outputs:
            - {id: n, dataType: integer}
        nodes:
          - id: c
            type: code
            parameters: {code: "return len(data) + 'x'"}
        edges:
          - {source: c, target: output, targetHandle: n}
        """,
    )

    result = cli("check", "typed.yaml", "--format", "json")

    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["code"] for r in records} == {"E0601"}
    assert all(r["path"] == "typed.yaml" and r["line"] for r in records)


def test_clean_blueprints_print_no_json(cli: Invoke, write: WriteBlueprint) -> None:
    write("hello.yaml", HELLO)

    result = cli("check", "hello.yaml", "--no-mypy", "--format", "json")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "ok: 1 blueprint checked" in result.stderr
    assert cli("check", "hello.yaml", "--format", "yaml").exit_code == 2


def test_check_accepts_two_blueprints_that_share_a_module_name(
    cli: Invoke, write: WriteBlueprint
) -> None:
    write("a/orders.yaml", HELLO)
    write("b/orders.yaml", HELLO.replace("hi {{", "hello {{"))

    checked = cli("check", "a", "b", "--no-mypy")
    compiled = cli("compile", "a", "b", "-o", "out")

    assert checked.exit_code == 0, checked.stderr
    assert "ok: 2 blueprints checked" in checked.stderr
    assert compiled.exit_code == 2  # compile writes both to out/orders.py: still refused
    assert "both compile to module 'orders'" in compiled.stderr


def test_check_with_mypy_on_blueprints_sharing_a_name(write: WriteBlueprint, workdir: Path) -> None:
    write("a/orders.yaml", HELLO)
    write("b/orders.yaml", HELLO)

    ran = run_atomiton(["check", "a", "b", "--format", "json"], workdir, timeout=120)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""
