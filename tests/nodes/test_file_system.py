"""Tests of the file-system node and its atomic-write helper, on real files in tmp_path."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from atomiton.nodes import file_system
from atomiton.nodes.file_system import Params, run
from atomiton.runtime import files
from atomiton.runtime.files import atomic_write
from compiled import run_blueprint


def fs(**kwargs: object) -> Params:
    return Params.model_validate(kwargs)


# -- read and write ---------------------------------------------------------------------------


def test_write_then_read_text(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    out = run(fs(operation="write", path=str(target), content="héllo\n"))
    assert out.result == str(target) and out.path == str(target)
    assert out.size == len("héllo\n".encode())
    read = run(fs(operation="read", path=str(target)))
    assert read.result == "héllo\n" and read.size == out.size


def test_camel_case_keys_from_yaml(tmp_path: Path) -> None:
    params = Params.model_validate(
        {
            "operation": "write",
            "path": str(tmp_path / "x" / "y.txt"),
            "createDirectories": False,
            "targetPath": "z",
        }
    )
    assert params.create_directories is False and params.target_path == "z"


def test_edge_values_win_over_parameters(tmp_path: Path) -> None:
    params = fs(operation="write", path=str(tmp_path / "param.txt"), content="param")
    out = run(params, content="edge", path=tmp_path / "edge.txt")
    assert out.path == str(tmp_path / "edge.txt")
    assert (tmp_path / "edge.txt").read_text() == "edge"
    assert not (tmp_path / "param.txt").exists()


def test_binary_round_trip(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 3
    target = tmp_path / "blob.bin"
    run(fs(operation="write", path=str(target), encoding="binary"), content=payload)
    out = run(fs(operation="read", path=str(target), encoding="binary"))
    assert out.result == payload and isinstance(out.result, bytes)


def test_non_text_content_is_json(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    run(fs(operation="write", path=str(target)), content={"a": [1, 2], "b": "é"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "b": "é"}
    run(fs(operation="write", path=str(target)), content=[1, True, None])
    assert json.loads(target.read_text()) == [1, True, None]


def test_other_encoding_and_bom(tmp_path: Path) -> None:
    target = tmp_path / "latin.txt"
    run(fs(operation="write", path=str(target), encoding="latin-1"), content="café")
    assert target.read_bytes() == b"caf\xe9"
    assert run(fs(operation="read", path=str(target), encoding="latin-1")).result == "café"
    with pytest.raises(ValueError, match="not valid utf-8"):
        run(fs(operation="read", path=str(target)))
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfhi")
    assert run(fs(operation="read", path=str(bom))).result == "hi"


def test_unknown_encoding_is_a_parameter_error() -> None:
    with pytest.raises(ValidationError, match="unknown encoding"):
        fs(operation="read", path="x", encoding="utf-9")


def test_append(tmp_path: Path) -> None:
    target = tmp_path / "log" / "a.log"
    run(fs(operation="append", path=str(target)), content="one\n")
    out = run(fs(operation="append", path=str(target)), content="two\n")
    assert target.read_text() == "one\ntwo\n" and out.size == 8


def test_write_needs_content_and_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs content"):
        run(fs(operation="write", path=str(tmp_path / "a")))
    with pytest.raises(ValueError, match="needs a path"):
        run(fs(operation="write", content="x"))


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        run(fs(operation="read", path=str(tmp_path / "missing.txt")))
    with pytest.raises(IsADirectoryError, match="is a folder"):
        run(fs(operation="read", path=str(tmp_path)))


# -- atomicity ----------------------------------------------------------------------------------


def test_failing_content_leaves_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old content")

    def chunks() -> Iterator[str]:
        yield "new "
        yield "partial "
        raise RuntimeError("serialisation broke midway")

    with pytest.raises(RuntimeError, match="midway"):
        run(fs(operation="write", path=str(target)), content=chunks())
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["keep.txt"]  # no temporary file left behind


def test_unserialisable_content_leaves_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "keep.json"
    target.write_text("{}")
    with pytest.raises(TypeError, match="as JSON"):
        run(fs(operation="write", path=str(target)), content={"x": object()})
    assert target.read_text() == "{}"
    with pytest.raises(TypeError, match="as JSON"):
        run(fs(operation="append", path=str(target)), content={"x": object()})
    assert target.read_text() == "{}"


def test_streamed_content_is_written(tmp_path: Path) -> None:
    target = tmp_path / "s.txt"
    out = run(fs(operation="write", path=str(target)), content=iter(["a", b"b", "c"]))
    assert target.read_text() == "abc" and out.size == 3


def test_atomic_write_keeps_mode_and_honours_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "script.sh"
    target.write_text("old")
    target.chmod(0o754)
    assert atomic_write(target, [b"ne", b"w"]) == 3
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o754
    with pytest.raises(FileExistsError, match="overwrite is false"):
        atomic_write(target, b"x", overwrite=False)
    assert target.read_text() == "new"
    fresh = tmp_path / "fresh.txt"
    atomic_write(fresh, b"x", overwrite=False)
    assert fresh.read_bytes() == b"x"
    # A new file gets the ordinary umask mode, not mkstemp's private 0600.
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~files._UMASK


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("first")
    with pytest.raises(FileExistsError, match="a.txt"):
        run(fs(operation="write", path=str(target), overwrite=False), content="second")
    assert target.read_text() == "first"


def test_create_directories(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c.txt"
    run(fs(operation="write", path=str(deep)), content="x")
    assert deep.read_text() == "x"
    with pytest.raises(FileNotFoundError, match="createDirectories"):
        run(
            fs(operation="write", path=str(tmp_path / "no" / "c.txt"), create_directories=False),
            content="x",
        )


def test_file_where_folder_expected(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="file"):
        run(fs(operation="write", path=str(tmp_path / "file" / "child.txt")), content="x")
    with pytest.raises(NotADirectoryError, match="needs a folder"):
        run(fs(operation="list", path=str(tmp_path / "file")))
    with pytest.raises(IsADirectoryError):
        run(fs(operation="write", path=str(tmp_path)), content="x")


# -- folders ------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ["b.csv", "a.txt", "c.csv", ".hidden.csv", "sub/d.csv", "sub/e.txt", ".git/f.csv"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return tmp_path


def names(result: list[str], base: Path) -> list[str]:
    return [str(Path(p).relative_to(base)) for p in result]


def test_list_sorted_pattern_recursive_hidden(tree: Path) -> None:
    out = run(fs(operation="list", path=str(tree)))
    assert names(out.result, tree) == ["a.txt", "b.csv", "c.csv", "sub"]
    assert out.size == 4
    assert names(run(fs(operation="list", path=str(tree), pattern="*.csv")).result, tree) == [
        "b.csv",
        "c.csv",
    ]
    recursive = run(fs(operation="list", path=str(tree), pattern="*.csv", recursive=True)).result
    assert names(recursive, tree) == ["b.csv", "c.csv", "sub/d.csv"]
    hidden = run(
        fs(operation="list", path=str(tree), pattern="*.csv", recursive=True, include_hidden=True)
    ).result
    assert names(hidden, tree) == [".git/f.csv", ".hidden.csv", "b.csv", "c.csv", "sub/d.csv"]


def test_list_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        run(fs(operation="list", path=str(tmp_path / "nope")))


def test_exists_create_delete(tree: Path) -> None:
    assert run(fs(operation="exists", path=str(tree / "a.txt"))).result is True
    assert run(fs(operation="exists", path=str(tree / "zzz"))).result is False
    made = run(fs(operation="create", path=str(tree / "new" / "deeper")))
    assert Path(made.path).is_dir()
    run(fs(operation="create", path=str(tree / "new" / "deeper")))  # already there: fine
    with pytest.raises(FileExistsError, match="is a file"):
        run(fs(operation="create", path=str(tree / "a.txt")))
    assert run(fs(operation="delete", path=str(tree / "a.txt"))).result is True
    assert not (tree / "a.txt").exists()
    with pytest.raises(FileNotFoundError, match="a.txt"):
        run(fs(operation="delete", path=str(tree / "a.txt")))
    with pytest.raises(OSError, match="not empty"):
        run(fs(operation="delete", path=str(tree / "sub")))
    run(fs(operation="delete", path=str(tree / "sub"), recursive=True))
    assert not (tree / "sub").exists()


def test_copy_and_move(tree: Path) -> None:
    out = run(
        fs(operation="copy", path=str(tree / "a.txt"), target_path=str(tree / "out" / "a2.txt"))
    )
    assert (tree / "out" / "a2.txt").read_text() == "a.txt" and out.size == 5
    assert (tree / "a.txt").exists()
    with pytest.raises(FileExistsError):
        run(
            fs(
                operation="copy",
                path=str(tree / "b.csv"),
                target_path=str(tree / "out" / "a2.txt"),
                overwrite=False,
            )
        )
    assert (tree / "out" / "a2.txt").read_text() == "a.txt"
    # A folder as the target means "into it", like cp.
    into = run(fs(operation="copy", path=str(tree / "b.csv"), target_path=str(tree / "out")))
    assert into.path == str(tree / "out" / "b.csv")
    moved = run(
        fs(operation="move", path=str(tree / "c.csv")), target_path=str(tree / "out" / "c.csv")
    )
    assert not (tree / "c.csv").exists() and Path(moved.path).read_text() == "c.csv"
    with pytest.raises(FileExistsError):
        run(fs(operation="move", path=str(tree / "b.csv"), target_path=moved.path, overwrite=False))
    assert (tree / "b.csv").exists()
    run(fs(operation="copy", path=str(tree / "sub"), target_path=str(tree / "sub2")))
    assert sorted(os.listdir(tree / "sub2")) == ["d.csv", "e.txt"]
    run(fs(operation="move", path=str(tree / "sub2"), target_path=str(tree / "sub3")))
    assert not (tree / "sub2").exists() and (tree / "sub3" / "d.csv").exists()
    with pytest.raises(ValueError, match="targetPath"):
        run(fs(operation="copy", path=str(tree / "b.csv")))
    with pytest.raises(FileNotFoundError, match="ghost"):
        run(fs(operation="move", path=str(tree / "ghost"), target_path=str(tree / "x")))


def test_spec_shape() -> None:
    spec = file_system.SPEC
    assert spec.type == "file-system" and spec.weight == 200 and spec.execution == "thread"
    assert [p.name for p in spec.inputs] == ["content", "path", "targetPath"]
    assert [p.name for p in spec.outputs] == ["result", "path", "size"]
    assert [p.attr for p in spec.outputs] == list(file_system.Output.__dataclass_fields__)


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_writes_then_reads(tmp_path: Path) -> None:
    text = """
id: fs
interface:
  inputs: [{id: outPath, dataType: string}]
  outputs: [{id: text, dataType: string}, {id: size, dataType: integer}]
nodes:
  - id: write
    type: file-system
    parameters: {operation: write, path: "{{ inputs.outPath }}", content: hello}
  - id: read
    type: file-system
    parameters: {operation: read}
edges:
  - {source: write, sourceHandle: path, target: read, targetHandle: path}
  - {source: read, sourceHandle: result, target: output, targetHandle: text}
  - {source: read, sourceHandle: size, target: output, targetHandle: size}
"""
    outputs = run_blueprint(tmp_path, text, outPath=str(tmp_path / "out" / "hello.txt"))
    assert (outputs.text, outputs.size) == ("hello", 5)
