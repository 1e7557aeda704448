"""``atomiton compile``: the same bytes from any working directory, ordinary file permissions,
no module that shadows a library, and never exit 0 with a module that fails to import."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import HELLO, Invoke, WriteBlueprint

CHILD = """\
id: child
interface:
  inputs:
    - {id: text, dataType: string, default: x}
  outputs:
    - {id: text, dataType: string}
nodes:
  - id: upper
    type: code
    parameters:
      code: return data.upper()
edges:
  - {source: input.text, target: upper}
  - {source: upper, target: output, targetHandle: text}
"""

PARENT = """\
id: parent
interface:
  outputs:
    - {id: text, dataType: string}
nodes:
  - id: sub
    type: blueprint
    parameters:
      path: ../shared/child.yaml
edges:
  - {source: sub, sourceHandle: text, target: output, targetHandle: text}
"""


@pytest.fixture
def umask() -> Iterator[None]:
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


def read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.py"))}


def test_modules_do_not_depend_on_the_working_directory(
    cli: Invoke, workdir: Path, write: WriteBlueprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("project/flows/hello.yaml", HELLO)
    write("project/flows/nested/parent.yaml", PARENT)
    write("project/flows/shared/child.yaml", CHILD)
    commands = [
        (workdir, ["compile", "project/flows", "-o", "out/a"]),
        (workdir / "project", ["compile", "flows", "-o", "../out/b"]),
        (workdir / "project/flows", ["compile", ".", "-o", "../../out/c"]),
        (workdir / "project/flows/nested", ["compile", "..", "-o", str(workdir / "out/d")]),
    ]
    for cwd, args in commands:
        monkeypatch.chdir(cwd)
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
    trees = [read_tree(workdir / "out" / name) for name in "abcd"]
    assert sorted(trees[0]) == ["__init__.py", "child.py", "hello.py", "parent.py"]
    assert all(tree == trees[0] for tree in trees[1:])
    parent = trees[0]["parent.py"].decode()
    # Paths are relative to the blueprint's own folder.
    assert 'source="parent.yaml"' in parent
    assert 'source="../shared/child.yaml"' in parent
    assert "# sub.upper: code (../shared/child.yaml:" in parent
    assert str(workdir) not in parent
    # So modules compiled from one folder are up to date when checked from another.
    monkeypatch.chdir(workdir / "project/flows")
    result = cli("compile", ".", "-o", "../../out/a", "--check")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == "3 modules up to date"


def test_written_files_get_ordinary_permissions(
    cli: Invoke, workdir: Path, write: WriteBlueprint, umask: None
) -> None:
    write("flows/hello.yaml", HELLO)
    assert cli("compile", "flows", "-o", "out").exit_code == 0
    for name in ("hello.py", "__init__.py"):
        assert stat.S_IMODE((workdir / "out" / name).stat().st_mode) == 0o644, name
    # A stricter umask is honoured for new files.
    os.umask(0o027)
    assert cli("compile", "flows", "-o", "out2").exit_code == 0
    assert stat.S_IMODE((workdir / "out2/hello.py").stat().st_mode) == 0o640
    # A file that is replaced keeps the mode it had.
    module = workdir / "out/hello.py"
    module.chmod(0o664)
    write("flows/hello.yaml", HELLO.replace("default: world", "default: moon"))
    assert cli("compile", "flows", "-o", "out").exit_code == 0
    assert b"moon" in module.read_bytes()
    assert stat.S_IMODE(module.stat().st_mode) == 0o664
    assert [p.name for p in (workdir / "out").iterdir() if p.name.endswith(".tmp")] == []


def test_library_named_blueprints_do_not_shadow_the_library(
    cli: Invoke, workdir: Path, write: WriteBlueprint
) -> None:
    libraries = ["pydantic", "typing", "json", "asyncio", "atomiton", "copy"]
    for name in libraries:
        write(f"flows/{name}.yaml", HELLO.replace("id: hello", f"id: {name}"))
    result = cli("compile", "flows", "-o", "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (workdir / "out").iterdir()) == sorted(
        ["__init__.py", *(f"{name}_flow.py" for name in libraries)]
    )
    # Even with the output folder first on sys.path every module imports and runs, and the
    # libraries are the real ones.
    script = (
        "import importlib, json, pydantic, typing\n"
        "assert hasattr(json, 'dumps') and hasattr(pydantic, 'BaseModel')\n"
        f"for name in {libraries!r}:\n"
        "    module = importlib.import_module(name + '_flow')\n"
        "    assert module.run().message == 'HI WORLD', name\n"
    )
    env = {**os.environ, "PYTHONPATH": str(workdir / "out")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir / "out",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


CLASHES = """\
id: clashes
interface:
  inputs:
    - {id: Config, dataType: integer, default: 1}
    - {id: int, dataType: integer, default: 2}
    - {id: json, dataType: string, default: j}
    - {id: %s, dataType: array, default: [1], description: a long name that wraps}
  outputs:
    - {id: model_config, dataType: integer}
nodes:
  - id: c
    type: code
    parameters:
      code: return inputs.Config + inputs.int + len(inputs.json)
edges:
  - {source: c, target: output, targetHandle: model_config}
""" % ("n" * 71)

BROKEN = """\
id: broken
nodes:
  - id: c
    type: code
    parameters:
      code: |
        from os import *
        break
"""


def test_compile_exits_0_only_with_modules_that_import(
    cli: Invoke, workdir: Path, write: WriteBlueprint
) -> None:
    write("flows/clashes.yaml", CLASHES)
    result = cli("compile", "flows", "-o", "out")
    assert result.exit_code == 0, result.stderr
    script = "from out.clashes import run\nassert run().model_dump(by_alias=True) == {'model_config': 4}\n"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

    write("flows/broken.yaml", BROKEN)
    result = cli("compile", "flows", "-o", "out2")
    assert result.exit_code == 1
    assert "flows/broken.yaml:6:7: error[E0302]: node 'c': code is not valid Python" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (workdir / "out2").exists()
