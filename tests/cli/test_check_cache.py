"""``atomiton check`` keeps mypy's incremental cache: it is reused, never hides an error, survives
corruption and concurrent checks.

One cold check per test module builds a cache (through the command, which must say so once);
every other test starts from a copy of it, so that only the modules a test changes are analysed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import sys
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import HELLO, atomiton_command

from atomiton.cli import main
from atomiton.compiler import CompiledModule, compile_blueprint
from atomiton.compiler.typecheck import run_mypy

# Ten nodes of the kinds the warm cache has seen (code, edit-fields), ending in a typed output.
TEN = """\
id: ten
interface:
  outputs:
    - {id: total, dataType: integer}
nodes:
  - id: start
    type: edit-fields
    parameters:
      values: {count: 1}
  - {id: n1, type: code, parameters: {code: "return data['count'] + 1"}}
  - {id: n2, type: code, parameters: {code: "return data + 2"}}
  - {id: n3, type: code, parameters: {code: "return data + 3"}}
  - {id: n4, type: code, parameters: {code: "return data + 4"}}
  - {id: n5, type: code, parameters: {code: "return data + 5"}}
  - {id: n6, type: code, parameters: {code: "return data + 6"}}
  - {id: n7, type: code, parameters: {code: "return data + 7"}}
  - {id: n8, type: code, parameters: {code: "return data + 8"}}
  - id: last
    type: code
    parameters: {code: "return LAST"}
edges:
  - {source: start, target: n1}
  - {source: n1, target: n2}
  - {source: n2, target: n3}
  - {source: n3, target: n4}
  - {source: n4, target: n5}
  - {source: n5, target: n6}
  - {source: n6, target: n7}
  - {source: n7, target: n8}
  - {source: n8, target: last}
  - {source: last, target: output, targetHandle: total}
"""


def ten(last: str) -> str:
    """The ten-node flow whose last node returns ``last`` (a Python expression of 5 chars)."""
    assert len(last) == 5
    return TEN.replace("LAST", last)


# Same length, so that only the content tells them apart; only mypy sees the error.
OK_VALUE = "1 + 1"
WRONG_VALUE = "'x'+1"


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result, Result]:
    """A cache built by a first ``atomiton check`` (in-process), and that check's and a second
    one's results."""
    folder = tmp_path_factory.mktemp("cold")
    (folder / "hello.yaml").write_text(HELLO, encoding="utf-8")
    cache = folder / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("ATOMITON_CACHE_DIR", str(cache))
        runner = CliRunner()
        first = runner.invoke(main, ["check", "hello.yaml"], catch_exceptions=False)
        second = runner.invoke(main, ["check", "hello.yaml"], catch_exceptions=False)
    return cache, first, second


@pytest.fixture
def cache(cold: tuple[Path, Result, Result], workdir: Path) -> Path:
    """A private copy of the warm cache for one test (its own runs change it)."""
    copy = workdir / ".cache-copy"
    shutil.copytree(cold[0] / "check", copy)
    return copy


def compiled(path: Path, text: str) -> CompiledModule:
    path.write_text(text, encoding="utf-8")
    return compile_blueprint(path)


def entries(cache: Path) -> dict[str, object]:
    """The generated modules as written for mypy, and mypy's cache entries for them, each with
    its mtime: a check that analyses a module again rewrites both."""
    found: dict[str, object] = {p.name: p.stat().st_mtime_ns for p in (cache / "modules").iterdir()}
    for database in sorted((cache / "mypy").rglob("*.db")):
        with closing(sqlite3.connect(database)) as db:
            rows = db.execute(
                "SELECT path, mtime FROM files2 WHERE path LIKE '_atomiton_check_%'"
            ).fetchall()
        found.update((path, mtime) for path, mtime in rows)
    return found


@pytest.mark.slow
def test_first_check_says_it_builds_a_cache_and_the_second_reuses_it(
    cold: tuple[Path, Result, Result],
) -> None:
    cache, first, second = cold
    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert first.stderr.count("first check builds a cache") == 1
    assert "first check" not in second.stderr
    assert second.stderr.strip() == "ok: 1 blueprint checked"
    assert (cache / "check" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_unchanged_modules_are_answered_from_the_cache(workdir: Path, cache: Path) -> None:
    module = compiled(workdir / "ten.yaml", ten(OK_VALUE))

    first = run_mypy([module], cache_dir=cache)
    before = entries(cache)
    second = run_mypy([module], cache_dir=cache)

    assert first.rechecked == {module.source}  # new to this cache: analysed
    assert first.diagnostics == second.diagnostics == ()
    assert second.rechecked == frozenset()  # mypy took it from its cache
    assert entries(cache) == before  # and rewrote neither the module nor its entries
    assert any(name.endswith(".data.ff") for name in before)  # (which are where we look)
    assert first.cache_note is None and second.cache_note is None


def test_an_error_is_reported_again_when_answered_from_the_cache(
    workdir: Path, cache: Path
) -> None:
    module = compiled(workdir / "ten.yaml", ten(WRONG_VALUE))

    first = run_mypy([module], cache_dir=cache)
    second = run_mypy([module], cache_dir=cache)

    assert second.rechecked == frozenset()
    assert [d.format() for d in second.diagnostics] == [d.format() for d in first.diagnostics]
    assert [d.code for d in second.diagnostics] == ["E0601"]
    assert second.diagnostics[0].span is not None and second.diagnostics[0].span.line == 20


def test_an_edit_to_the_blueprint_is_caught_by_the_next_check(workdir: Path, cache: Path) -> None:
    path = workdir / "ten.yaml"
    assert run_mypy([compiled(path, ten(OK_VALUE))], cache_dir=cache).diagnostics == ()
    module_file = next((cache / "modules").glob("_atomiton_check_ten_*.py"))
    # Make the module's mtime one mypy has recorded, and later than the clock, so that the edit
    # below is written at an mtime no later to the second: mypy would trust size and mtime.
    future = (int(time.time()) + 100) * 1_000_000_000
    os.utime(module_file, ns=(future, future))
    assert run_mypy([compiled(path, ten(OK_VALUE))], cache_dir=cache).diagnostics == ()

    edited = run_mypy([compiled(path, ten(WRONG_VALUE))], cache_dir=cache)  # same length

    assert [d.code for d in edited.diagnostics] == ["E0601"]
    assert "Unsupported operand types" in edited.diagnostics[0].message
    assert edited.rechecked == {path}
    assert module_file.stat().st_mtime_ns > future  # moved on, to the second
    fixed = run_mypy([compiled(path, ten(OK_VALUE))], cache_dir=cache)
    assert fixed.diagnostics == ()


def test_an_edit_to_a_users_function_is_caught_though_the_module_is_unchanged(
    workdir: Path, cache: Path
) -> None:
    funcs = workdir / "user_funcs.py"
    funcs.write_text("def double(value: int) -> int:\n    return value * 2\n", encoding="utf-8")
    blueprint = """\
id: user
interface:
  inputs: [{id: n, dataType: integer, default: 2}]
  outputs: [{id: twice, dataType: integer}]
nodes:
  - id: double
    type: python
    function: "user_funcs:double"
    inputPorts: [{id: value, dataType: integer}]
    outputPorts: [{id: result, dataType: integer}]
edges:
  - {source: input.n, target: double, targetHandle: value}
  - {source: double, sourceHandle: result, target: output, targetHandle: twice}
"""
    module = compiled(workdir / "user.yaml", blueprint)
    assert run_mypy([module], cache_dir=cache).diagnostics == ()

    funcs.write_text("def double(value: int) -> str:\n    return str(value) * 2\n")
    again = run_mypy([compiled(workdir / "user.yaml", blueprint)], cache_dir=cache)

    assert [d.code for d in again.diagnostics] == ["E0601"], again.diagnostics


@pytest.mark.slow
def test_a_corrupt_cache_is_rebuilt_and_the_check_stays_right(workdir: Path, cache: Path) -> None:
    module = compiled(workdir / "ten.yaml", ten(WRONG_VALUE))
    databases = list((cache / "mypy").rglob("*.db"))
    assert databases  # mypy's cache is where this test corrupts it
    for database in databases:
        database.write_bytes(b"not a database" * 100)
    shutil.rmtree(cache / "modules")
    (cache / "modules").write_text("a file where a folder was")

    result = run_mypy([module], cache_dir=cache)

    assert [d.code for d in result.diagnostics] == ["E0601"]
    assert result.cache_note is not None and "rebuilt" in result.cache_note
    again = run_mypy([module], cache_dir=cache)
    assert again.rechecked == frozenset() and again.cache_note is None  # usable again
    assert [d.code for d in again.diagnostics] == ["E0601"]


@pytest.mark.slow
def test_an_unusable_cache_folder_is_skipped_with_a_note(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "ten.yaml").write_text(ten(WRONG_VALUE), encoding="utf-8")
    (workdir / "blocked").write_text("a file where the cache folder would go")
    monkeypatch.setenv("ATOMITON_CACHE_DIR", str(workdir / "blocked"))

    result = CliRunner().invoke(main, ["check", "ten.yaml"], catch_exceptions=False)

    assert result.exit_code == 1
    assert "ten.yaml:20:24: error[E0601]" in result.stderr
    assert "cannot be used" in result.stderr and "checked without it" in result.stderr


@pytest.mark.slow
def test_no_cache_writes_nothing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # mypy's run without a cache is as slow as the first check: keep its input to one tiny module.
    (workdir / "hello.yaml").write_text(HELLO, encoding="utf-8")
    monkeypatch.delenv("ATOMITON_CACHE_DIR", raising=False)
    result = CliRunner().invoke(main, ["check", "hello.yaml", "--no-cache"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["hello.yaml"]


def start_check(args: list[str], cwd: Path, cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1", "ATOMITON_CACHE_DIR": str(cache)}
    env.pop("ATOMITON_PATH", None)
    return subprocess.Popen(
        [*atomiton_command(), "check", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_check_waits_for_one_holding_the_cache(workdir: Path, cache: Path) -> None:
    (workdir / "ten.yaml").write_text(ten(WRONG_VALUE), encoding="utf-8")
    shared = workdir / "shared"
    shutil.copytree(cache, shared / "check")
    with open(shared / "check" / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        process = start_check(["ten.yaml", "--format", "json"], workdir, shared)
        assert process.stderr is not None
        waiting = process.stderr.readline()  # it says so, then blocks until the lock is free
        assert "waiting for another check" in waiting, waiting
        time.sleep(0.2)
        assert process.poll() is None
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    found = [json.loads(line) for line in stdout.splitlines()]
    assert [(f["line"], f["code"]) for f in found] == [(20, "E0601")]
    assert stderr.strip().endswith("found 1 error in 1 file")


@pytest.mark.slow
def test_concurrent_checks_on_one_cache_each_get_their_own_answer(
    workdir: Path, cache: Path
) -> None:
    shared = workdir / "shared"
    shutil.copytree(cache, shared / "check")
    # Distinct blueprints, half with an error, each new to the cache: every check writes to it.
    cases = {}
    for index in range(4):
        value = WRONG_VALUE if index % 2 else f"{index} + {index}"
        folder = workdir / f"c{index}"
        folder.mkdir()
        (folder / "ten.yaml").write_text(ten(value), encoding="utf-8")
        cases[index] = folder
    processes = {
        index: start_check([f"c{index}/ten.yaml", "--format", "json"], workdir, shared)
        for index in cases
    }
    for index, process in processes.items():
        stdout, stderr = process.communicate(timeout=180)
        if index % 2:
            assert process.returncode == 1, stderr
            found = [json.loads(line) for line in stdout.splitlines()]
            assert [(f["path"], f["line"], f["code"]) for f in found] == [
                (f"c{index}/ten.yaml", 20, "E0601")
            ]
        else:
            assert process.returncode == 0, stderr
            assert stdout == "" and stderr.strip().endswith("ok: 1 blueprint checked")
    # And the cache they shared answers every one of them afterwards.
    modules = [compile_blueprint(folder / "ten.yaml") for folder in cases.values()]
    after = run_mypy(modules, cache_dir=shared / "check")
    assert after.rechecked == frozenset()
    assert sorted(d.span.path for d in after.diagnostics if d.span) == [
        "c1/ten.yaml",
        "c3/ten.yaml",
    ]


def test_the_command_ends_with_every_line_written(workdir: Path, cache: Path) -> None:
    # The command leaves through os._exit after a check: nothing may be lost on the way out.
    (workdir / "ten.yaml").write_text(ten(WRONG_VALUE), encoding="utf-8")
    (workdir / "b.yaml").write_text(ten(WRONG_VALUE).replace("id: ten", "id: b"))
    shared = workdir / "shared"
    shutil.copytree(cache, shared / "check")
    process = start_check(["ten.yaml", "b.yaml", "--format", "json"], workdir, shared)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert len([json.loads(line) for line in stdout.splitlines()]) == 2
    assert stderr.strip().endswith("found 2 errors in 2 files")


def test_only_the_program_skips_the_interpreters_exit(workdir: Path, cache: Path) -> None:
    # The program (cli.main run from __main__, as the console script does) leaves through
    # os._exit once mypy has run, so exit handlers do not run; without mypy it exits normally.
    (workdir / "ten.yaml").write_text(ten(OK_VALUE), encoding="utf-8")
    shared = workdir / "shared"
    shutil.copytree(cache, shared / "check")
    program = (
        "import atexit, sys\n"
        "atexit.register(print, 'normal exit', file=sys.stderr)\n"
        "from atomiton.cli import main\n"
        "main(prog_name='atomiton')\n"
    )
    env = {**os.environ, "ATOMITON_CACHE_DIR": str(shared), "NO_COLOR": "1"}

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", program, "check", "ten.yaml", *flags],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with_mypy = run()
    assert with_mypy.returncode == 0, with_mypy.stderr
    assert with_mypy.stderr.strip() == "ok: 1 blueprint checked"  # written, then gone at once
    without = run("--no-mypy")
    assert without.returncode == 0, without.stderr
    assert without.stderr.splitlines() == ["ok: 1 blueprint checked", "normal exit"]
