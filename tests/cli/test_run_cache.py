"""The compile cache of ``atomiton run`` (issue 12): reused while nothing it depends on changed,
compiled again when anything did, and never trusted when its entry is damaged.

Whether a run compiled is read from the process itself: the probe runs the real command in a
fresh interpreter and records at exit whether ``atomiton.compiler`` was imported (a cache hit
never imports it). In-process runs show invalidation through what the flow prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atomiton.cli import cache, run_cache
from conftest import HELLO, Invoke, WriteBlueprint

_PROBE = """\
import atexit, json, sys

_OUT = sys.argv[1]

def _dump():
    with open(_OUT, "w") as out:
        json.dump("atomiton.compiler" in sys.modules, out)

atexit.register(_dump)
sys.argv = ["atomiton", *sys.argv[2:]]
from atomiton.cli import main
main(prog_name="atomiton")
"""

CHILD = """\
interface:
  inputs: [{id: data, dataType: object}]
  outputs: [{id: result, dataType: any}]
nodes:
  - {id: up, type: code, parameters: {code: 'return data["message"].upper() + "SUFFIX"'}}
edges:
  - {source: input, sourceHandle: data, target: up}
  - {source: up, target: output, targetHandle: result}
"""

PARENT = """\
interface:
  outputs: [{id: loud, dataType: any}]
nodes:
  - {id: greet, type: edit-fields, parameters: {values: {message: hi}}}
  - {id: loud, type: blueprint, parameters: {path: lib/child.yaml}}
edges:
  - {source: greet, target: loud}
  - {source: loud, target: output, targetHandle: loud}
"""

WARNS = """\
interface:
  inputs:
    - {id: rows, dataType: array, default: [3, 1]}
  outputs:
    - {id: total, dataType: any}
nodes:
  - id: skipped
    type: transform
    parameters: {operation: reverse, enabled: false}
  - id: after
    type: transform
    parameters: {operation: reverse}
  - id: kept
    type: transform
    parameters: {operation: reverse}
edges:
  - {source: input.rows, target: skipped}
  - {source: skipped, target: after}
  - {source: input.rows, target: kept}
  - {source: kept, target: output.total}
"""


def _settle(*paths: Path) -> None:
    """Date files a second back: a file written during a compile is not cached (see run_cmd)."""
    past = time.time() - 1
    for path in paths:
        os.utime(path, (past, past))


def _probe(workdir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run ``atomiton ARGS`` as a program; also say whether it imported the compiler."""
    out = workdir / ".probe.json"
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    compiled = json.loads(out.read_text())
    out.unlink()
    return result, bool(compiled)


def _entries() -> list[Path]:
    return sorted(cache.cache_dir(run_cache.KIND).glob("*.entry"))


def test_a_second_run_uses_the_cache_and_recompile_bypasses_it(
    write: WriteBlueprint, workdir: Path
) -> None:
    _settle(workdir / write("hello.yaml", HELLO))

    first, compiled = _probe(workdir, "run", "hello.yaml", "--json")
    assert first.returncode == 0, first.stderr
    assert compiled
    second, compiled = _probe(workdir, "run", "hello.yaml", "--json")
    assert second.returncode == 0, second.stderr
    assert not compiled  # the bytecode came from the cache
    assert second.stdout == first.stdout == '{"message": "HI WORLD"}\n'
    assert second.stderr == first.stderr

    again, compiled = _probe(workdir, "run", "hello.yaml", "--json", "--recompile")
    assert again.returncode == 0, again.stderr
    assert compiled
    assert again.stdout == first.stdout
    assert len(_entries()) == 1


def test_a_change_in_an_included_file_compiles_again(
    cli: Invoke, write: WriteBlueprint, workdir: Path
) -> None:
    child = workdir / write("flows/lib/child.yaml", CHILD)
    _settle(child, workdir / write("flows/main.yaml", PARENT))

    first = cli("run", "flows/main.yaml", "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) == {"loud": "HISUFFIX"}
    assert len(_entries()) == 1

    child.write_text(CHILD.replace("SUFFIX", "!"), encoding="utf-8")
    _settle(child)
    second = cli("run", "flows/main.yaml", "--json")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout) == {"loud": "HI!"}

    # A change of the same size and an older timestamp: the hash, not the stat, decides.
    child.write_text(CHILD.replace("SUFFIX", "?"), encoding="utf-8")
    os.utime(child, (1_000_000, 1_000_000))
    third = cli("run", "flows/main.yaml", "--json")
    assert third.exit_code == 0, third.stderr
    assert json.loads(third.stdout) == {"loud": "HI?"}


def test_an_include_that_went_missing_is_a_diagnostic_not_a_stale_run(
    write: WriteBlueprint, workdir: Path
) -> None:
    child = workdir / write("flows/lib/child.yaml", CHILD)
    _settle(child, workdir / write("flows/main.yaml", PARENT))
    first, _ = _probe(workdir, "run", "flows/main.yaml")
    assert first.returncode == 0, first.stderr

    child.unlink()
    second, compiled = _probe(workdir, "run", "flows/main.yaml")
    assert compiled
    assert second.returncode == 1
    assert "flows/main.yaml:5:" in second.stderr
    assert "Traceback" not in second.stderr


def test_warnings_are_reported_the_same_on_a_cache_hit(
    write: WriteBlueprint, workdir: Path
) -> None:
    _settle(workdir / write("warns.yaml", WARNS))

    first, compiled = _probe(workdir, "run", "warns.yaml", "--json")
    assert first.returncode == 0, first.stderr
    assert compiled
    assert "warning[W0001]" in first.stderr
    second, compiled = _probe(workdir, "run", "warns.yaml", "--json")
    assert not compiled
    assert second.stderr == first.stderr
    assert second.stdout == first.stdout


def test_an_edited_user_function_module_compiles_again(
    write: WriteBlueprint, workdir: Path
) -> None:
    flow = """\
    interface:
      inputs: [{id: text, dataType: string, default: x}]
      outputs: [{id: loud, dataType: string}]
    nodes:
      - id: call
        type: python
        function: "cleaning:shout"
        inputPorts: [{id: data, dataType: string}]
        outputPorts: [{id: result, dataType: string}]
    edges:
      - {source: input.text, target: call}
      - {source: call, target: output, targetHandle: loud}
    """
    module = workdir / write("cleaning.py", "def shout(data: str) -> str:\n    return 'A'\n")
    _settle(module, workdir / write("shout.yaml", flow))
    first, _ = _probe(workdir, "run", "shout.yaml")
    assert first.returncode == 0, first.stderr

    module.write_text("def whisper(data: str) -> str:\n    return 'a'\n", encoding="utf-8")
    _settle(module)
    second, compiled = _probe(workdir, "run", "shout.yaml")
    assert compiled
    assert second.returncode == 1
    assert "error[E0222]" in second.stderr
    assert "Traceback" not in second.stderr


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated mid-bytecode
        lambda data: b"",  # empty
        lambda data: b"not json\n" + data.split(b"\n", 1)[1],  # header garbled
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # one byte of bytecode flipped
        lambda data: data.replace(b'"format": 1', b'"format": 99'),  # another format
    ],
    ids=["truncated", "empty", "header", "bytecode", "format"],
)
def test_a_damaged_entry_is_compiled_again_and_rewritten(
    cli: Invoke, write: WriteBlueprint, workdir: Path, damage: object
) -> None:
    assert callable(damage)
    _settle(workdir / write("hello.yaml", HELLO))
    assert cli("run", "hello.yaml").exit_code == 0
    [entry] = _entries()
    whole = entry.read_bytes()
    entry.write_bytes(damage(whole))
    assert run_cache.read(entry.parent, entry.stem) is None

    result = cli("run", "hello.yaml", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "HI WORLD"}
    assert entry.read_bytes() == whole
    assert run_cache.read(entry.parent, entry.stem) is not None


def test_a_blueprint_with_errors_leaves_no_entry(cli: Invoke, write: WriteBlueprint) -> None:
    write("bad.yaml", "nodes:\n  - {id: a, type: edit-fieldz}\n")
    assert cli("run", "bad.yaml").exit_code == 1
    assert _entries() == []


def test_a_file_written_during_the_compile_is_not_cached(
    cli: Invoke, write: WriteBlueprint
) -> None:
    # Dated after the compile starts, as a file still being written is (a file written just
    # before it may look older than the settle window on a busy machine).
    path = write("hello.yaml", HELLO)
    future = time.time() + 60
    os.utime(path, (future, future))
    assert cli("run", "hello.yaml").exit_code == 0
    assert _entries() == []


def test_concurrent_runs_share_one_whole_entry(write: WriteBlueprint, workdir: Path) -> None:
    _settle(workdir / write("hello.yaml", HELLO))
    command = [sys.executable, "-m", "atomiton", "run", "hello.yaml", "--json"]
    runs = [
        subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        assert json.loads(out) == {"message": "HI WORLD"}
    [entry] = _entries()
    assert run_cache.read(entry.parent, entry.stem) is not None
    # The entry and the module's text beside it; no temporary left over.
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name, f"{entry.stem}.py"]


def test_an_unwritable_cache_folder_still_runs(
    cli: Invoke, write: WriteBlueprint, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = workdir / "blocker"
    blocker.write_text("a file where the cache folder should go\n")
    monkeypatch.setenv(cache.ENV_OVERRIDE, str(blocker / "cache"))
    _settle(workdir / write("hello.yaml", HELLO))
    for _ in range(2):
        result = cli("run", "hello.yaml", "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == {"message": "HI WORLD"}


def test_cache_folder_is_in_the_project_else_xdg_else_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cache.ENV_OVERRIDE, raising=False)
    project = tmp_path / "project"
    (project / "flows" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert cache.cache_root(project / "flows" / "deep") == project / ".atomiton" / "cache"

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert cache.cache_root(repo) == repo / ".atomiton" / "cache"

    loose = tmp_path / "loose"
    loose.mkdir()
    if cache.project_root(loose) is None:  # tmp_path itself lies in no project
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache.cache_root(loose) == tmp_path / "xdg" / "atomiton"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert cache.cache_root(loose) == tmp_path / "home" / ".cache" / "atomiton"

    monkeypatch.setenv(cache.ENV_OVERRIDE, str(tmp_path / "mine"))
    assert cache.cache_root(project) == tmp_path / "mine"

    made = cache.cache_dir("run", project)
    assert made == tmp_path / "mine" / "run" and made.is_dir()
    assert (tmp_path / "mine" / ".gitignore").read_text().splitlines()[-1] == "*"
