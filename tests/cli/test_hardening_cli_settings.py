"""Project settings in ``[tool.atomiton]`` of pyproject.toml: found from subfolders, overridden by
flags, and every mistake a positioned diagnostic naming the file (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import HELLO, Invoke, WriteBlueprint, run_atomiton

from atomiton.cli.settings import SettingsError, find_pyproject, load_settings

CHILD = """\
interface:
  outputs:
    - {id: out, dataType: string}
nodes:
  - {id: c, type: code, parameters: {code: "return 'from shared'"}}
edges:
  - {source: c, target: output, targetHandle: out}
"""

PARENT = """\
interface:
  outputs:
    - {id: out, dataType: string}
nodes:
  - {id: kid, type: blueprint, parameters: {path: child.yaml}}
edges:
  - {source: kid, sourceHandle: out, target: output, targetHandle: out}
"""

SETTINGS = """\
[project]
name = "demo"

[tool.atomiton]
paths = ["flows"]
output = "app/flows"
search-path = ["shared"]
concurrency = 3
"""


@pytest.fixture
def project(write: WriteBlueprint, workdir: Path) -> Path:
    (workdir / ".git").mkdir()  # the top of the repository: the search for pyproject.toml stops
    write("pyproject.toml", SETTINGS)
    write("flows/hello.yaml", HELLO)
    write("flows/parent.yaml", PARENT)
    write("shared/child.yaml", CHILD)
    (workdir / "deep" / "er").mkdir(parents=True)
    return workdir


def test_settings_are_found_from_a_subfolder_and_resolved_against_the_file(
    project: Path,
) -> None:
    settings = load_settings(project / "deep" / "er")

    assert settings.file == project / "pyproject.toml"
    assert settings.paths == (project / "flows",)
    assert settings.output == project / "app" / "flows"
    assert settings.search_path == (project / "shared",)
    assert settings.concurrency == 3


def test_the_search_stops_at_the_repository_top(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.atomiton]\nconcurrency = 2\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert find_pyproject(repo) is None
    assert load_settings(repo).concurrency is None
    assert find_pyproject(tmp_path) == tmp_path / "pyproject.toml"


def test_compile_and_check_use_paths_output_and_search_path(project: Path) -> None:
    compiled = run_atomiton(["compile"], project / "deep" / "er")
    checked = run_atomiton(["check", "--no-mypy"], project / "deep")

    assert compiled.returncode == 0, compiled.stderr
    assert sorted(p.name for p in (project / "app" / "flows").iterdir()) == [
        "__init__.py",
        "hello.py",
        "parent.py",
    ]
    assert checked.returncode == 0, checked.stderr
    assert "ok: 2 blueprints checked" in checked.stderr


def test_flags_override_the_settings(cli: Invoke, project: Path, write: WriteBlueprint) -> None:
    write("other/child.yaml", CHILD.replace("from shared", "from other"))

    compiled = cli("compile", "flows/hello.yaml", "-o", "elsewhere")
    ran = cli("run", "flows/parent.yaml", "--path", "other", "--json")
    default = cli("run", "flows/parent.yaml", "--json")

    assert compiled.exit_code == 0, compiled.stderr
    assert sorted(p.name for p in (project / "elsewhere").iterdir()) == ["__init__.py", "hello.py"]
    assert not (project / "app").exists()
    assert json.loads(ran.stdout) == {"out": "from other"}
    assert json.loads(default.stdout) == {"out": "from shared"}


def test_concurrency_setting_reaches_the_run_unless_given(cli: Invoke, project: Path) -> None:
    def started(*extra: str) -> int:
        result = cli("run", "flows/hello.yaml", "--events", "-", *extra)
        assert result.exit_code == 0, result.stderr
        concurrency: int = json.loads(result.stdout.splitlines()[0])["concurrency"]
        return concurrency

    assert started() == 3
    assert started("--concurrency", "5") == 5


def test_without_settings_paths_and_output_are_still_required(
    cli: Invoke, write: WriteBlueprint
) -> None:
    write("flows/hello.yaml", HELLO)

    no_paths = cli("check")
    no_output = cli("compile", "flows")

    assert no_paths.exit_code == 2
    assert "give the blueprints to use (PATH...)" in no_paths.stderr
    assert no_output.exit_code == 2
    assert "missing option '-o' / '--output'" in no_output.stderr


BAD = """\
[tool.atomiton]
paths = ["flows", "nope"]
outptu = "app"
search_path = 3
concurrency = 0
"""


def test_every_mistake_is_a_positioned_diagnostic_and_exit_2(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("flows/hello.yaml", HELLO)
    write("pyproject.toml", BAD)

    with pytest.raises(SettingsError) as caught:
        load_settings(workdir)
    found = [(d.code, d.span.line if d.span else 0) for d in caught.value.diagnostics]
    assert found == [("E0804", 2), ("E0802", 3), ("E0803", 4), ("E0803", 5)]

    for command in (
        ["check", "flows"],
        ["run", "flows/hello.yaml"],
        ["compile", "flows", "-o", "x"],
    ):
        result = cli(*command)
        assert result.exit_code == 2, command
        assert "pyproject.toml:3:1: error[E0802]: unknown key 'outptu' in [tool.atomiton]" in (
            result.stderr
        )
        assert "hint: did you mean 'output'?" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (workdir / "x").exists()


def test_invalid_toml_names_the_file_and_position(cli: Invoke, write: WriteBlueprint) -> None:
    write("flows/hello.yaml", HELLO)
    write("pyproject.toml", "[tool.atomiton]\nconcurrency = = 2\n")

    result = cli("check", "flows", "--no-mypy")

    assert result.exit_code == 2
    assert "pyproject.toml:2:15: error[E0801]: cannot read pyproject.toml:" in result.stderr


def test_a_pyproject_without_the_table_changes_nothing(cli: Invoke, write: WriteBlueprint) -> None:
    write("pyproject.toml", "[tool.black]\nline-length = 100\n")
    write("hello.yaml", HELLO)

    assert cli("run", "hello.yaml").stdout == "message: HI WORLD\n"


def test_check_format_json_reports_settings_mistakes_as_json(
    cli: Invoke, write: WriteBlueprint
) -> None:
    write("flows/hello.yaml", HELLO)
    write("pyproject.toml", "[tool.atomiton]\nconcurency = 2\n")

    result = cli("check", "flows", "--format", "json", "--no-mypy")

    assert result.exit_code == 2
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (record["path"], record["line"], record["code"]) == ("pyproject.toml", 2, "E0802")
    assert record["hint"] == "did you mean 'concurrency'?"
