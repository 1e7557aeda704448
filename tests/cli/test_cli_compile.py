"""``atomiton compile``: writing modules, ``--check``, diagnostics and usage errors (in-process)."""

from __future__ import annotations

from pathlib import Path

from conftest import BAD, HELLO, Invoke, WriteBlueprint

from atomiton.cli.compile_cmd import PACKAGE_INIT


def test_writes_one_module_per_blueprint_and_a_package_init(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("flows/hello.yaml", HELLO)
    write("flows/nested/other.flow.yaml", HELLO.replace("id: hello", "id: other"))

    result = cli("compile", "flows", "-o", "build/flows")

    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (workdir / "build/flows").iterdir()) == [
        "__init__.py",
        "hello.py",
        "other.py",
    ]
    module = (workdir / "build/flows/hello.py").read_text()
    assert "from hello.yaml." in module  # paths are recorded relative to the blueprint
    assert str(workdir) not in module
    assert result.stderr.strip() == "compiled 2 blueprints -> build/flows"
    assert result.stdout == ""


def test_existing_package_init_is_kept_and_quiet_prints_nothing(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("hello.yaml", HELLO)
    write("out/__init__.py", "X = 1\n")

    result = cli("compile", "hello.yaml", "-o", "out", "-q")

    assert result.exit_code == 0
    assert result.output == ""
    assert (workdir / "out/__init__.py").read_text() == "X = 1\n"


def test_check_reports_missing_stale_and_fresh(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("hello.yaml", HELLO)

    missing = cli("compile", "hello.yaml", "-o", "out", "--check")
    assert missing.exit_code == 1
    assert "out/hello.py: missing" in missing.stderr
    assert not (workdir / "out").exists()  # --check writes nothing

    assert cli("compile", "hello.yaml", "-o", "out").exit_code == 0
    fresh = cli("compile", "hello.yaml", "-o", "out", "--check")
    assert fresh.exit_code == 0, fresh.stderr
    assert "1 module up to date" in fresh.stderr

    write("hello.yaml", HELLO.replace("hi ", "hello "))
    stale = cli("compile", "hello.yaml", "-o", "out", "--check")
    assert stale.exit_code == 1
    assert "out/hello.py: would change" in stale.stderr


def test_unchanged_modules_are_not_rewritten(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("hello.yaml", HELLO)
    cli("compile", "hello.yaml", "-o", "out")
    module = workdir / "out/hello.py"
    before = module.stat().st_mtime_ns
    module.touch()
    touched = module.stat().st_mtime_ns

    assert cli("compile", "hello.yaml", "-o", "out").exit_code == 0
    assert module.stat().st_mtime_ns == touched >= before
    assert not [p for p in module.parent.iterdir() if p.name.endswith(".tmp")]


def test_errors_in_any_file_are_all_reported_and_nothing_is_written(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("flows/good.yaml", HELLO)
    write("flows/bad.yaml", BAD)
    write("flows/worse.yaml", BAD)

    result = cli("compile", "flows", "-o", "out")

    assert result.exit_code == 1
    assert "flows/bad.yaml:2:5: error[E0202]: unknown node type 'edit-fieldz'" in result.stderr
    assert "  hint: did you mean 'edit-fields'?" in result.stderr
    assert "flows/worse.yaml:8:5: error[" in result.stderr
    assert result.stderr.rstrip().endswith("found 6 errors in 2 files")
    assert "Traceback" not in result.output
    assert not (workdir / "out").exists()


def test_two_blueprints_with_one_module_name_is_a_usage_error(
    cli: Invoke, write: WriteBlueprint
) -> None:
    write("a/hello.yaml", HELLO)
    write("b/hello.flow.yaml", HELLO)

    result = cli("compile", "a", "b", "-o", "out")

    assert result.exit_code == 2
    assert "a/hello.yaml and b/hello.flow.yaml both compile to module 'hello'" in result.stderr


def test_a_folder_without_blueprints_is_a_usage_error(cli: Invoke, workdir: Path) -> None:
    (workdir / "empty").mkdir()

    result = cli("compile", "empty", "-o", "out")

    assert result.exit_code == 2
    assert "no blueprints" in result.stderr


def test_missing_output_option_and_missing_path_are_usage_errors(
    cli: Invoke, write: WriteBlueprint
) -> None:
    write("hello.yaml", HELLO)

    assert cli("compile", "hello.yaml").exit_code == 2
    assert cli("compile", "nowhere.yaml", "-o", "out").exit_code == 2


def test_sub_blueprints_are_found_on_the_search_path(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write(
        "lib/shout.yaml",
        """\
        interface:
          inputs: [{id: data, dataType: object}]
          outputs: [{id: result, dataType: any}]
        nodes:
          - {id: up, type: code, parameters: {code: 'return data["message"].upper()'}}
        edges:
          - {source: input, sourceHandle: data, target: up}
          - {source: up, target: output, targetHandle: result}
        """,
    )
    write(
        "flows/main.yaml",
        """\
        nodes:
          - {id: greet, type: edit-fields, parameters: {values: {message: hi}}}
          - {id: loud, type: blueprint, parameters: {path: shout.yaml}}
        edges:
          - {source: greet, target: loud}
        """,
    )

    without = cli("compile", "flows", "-o", "out")
    assert without.exit_code == 1
    assert "flows/main.yaml:" in without.stderr

    found = cli("compile", "flows", "-o", "out", "--path", "lib")
    assert found.exit_code == 0, found.stderr


def test_package_init_text_is_a_docstring() -> None:
    assert PACKAGE_INIT.startswith('"""') and PACKAGE_INIT.endswith('"""\n')


def test_an_output_folder_that_cannot_be_made_is_a_usage_error(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    write("hello.yaml", HELLO)
    write("blocker", "a file where the output folder should go\n")

    result = cli("compile", "hello.yaml", "-o", "blocker/flows")

    assert result.exit_code == 2
    assert "cannot write to" in result.stderr
    assert "Traceback" not in result.output
