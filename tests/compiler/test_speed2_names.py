"""Shortcuts taken for many included files name and move things as the general path does: the
reader names a file from its one resolve as ``display_path`` names it, and inlining moves a node
with every field kept (only its id and what it reads change)."""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path

import pytest

from atomiton.blueprint_paths import display_path
from atomiton.compiler import CompileOptions, inline, resolve
from atomiton.compiler.ir import CodeFunction, Constant, FromInput, FromNode, Node
from atomiton.diagnostics import Span


@pytest.mark.parametrize("root_kind", ["given", "current folder", "unresolvable"])
def test_included_files_are_named_as_display_path_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_kind: str
) -> None:
    inside = tmp_path / "root" / "sub"
    inside.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (inside / "a.yaml").write_text("id: a\n")
    (outside / "b.yaml").write_text("id: b\n")
    os.symlink(inside / "a.yaml", outside / "link.yaml")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    root: Path | None = tmp_path / "root"
    if root_kind == "current folder":
        monkeypatch.chdir(tmp_path / "root")
        root = None
    elif root_kind == "unresolvable":
        root = tmp_path / "loop.yaml"  # a symlink loop: every name is written as given
    reader = resolve._Reader(CompileOptions(root=root))
    paths = [
        inside / "a.yaml",
        Path("sub/a.yaml") if root is None else inside / ".." / "sub" / "a.yaml",
        outside / "b.yaml",
        outside / "link.yaml",
        tmp_path / "loop.yaml",
        tmp_path / "missing.yaml",
    ]
    for path in paths:
        resolved, name = reader._names(path)
        assert name == display_path(path, root), path
        assert resolved.is_absolute()


def test_an_inlined_node_keeps_every_field_but_its_id_and_reads() -> None:
    span = Span("child.yaml", 3, 5)
    values = {field.name: getattr(_sample(span), field.name) for field in fields(Node)}
    node = Node(**values)
    feeds = {"value": FromNode("before", "result")}
    moved = inline._Renamer("g.", feeds, Span("main.yaml", 1, 1)).node(node)
    expected = replace(
        node,
        id="g.n",
        inputs={"data": FromNode("before", "result"), "other": FromNode("g.m", "out")},
        params={"code": "return data", "nested": [Constant(None)]},
        code=(
            CodeFunction(
                "code", "", "expression", ("x",), "x", reads=(("x", FromNode("g.m", "out")),)
            ),
        ),
    )
    assert moved == expected
    # Every field was carried over, not only those the comparison above happens to name.
    for field in fields(Node):
        if field.name not in {"id", "inputs", "params", "code"}:
            assert getattr(moved, field.name) is getattr(node, field.name), field.name


def _sample(span: Span) -> Node:
    base = Node(
        id="n",
        type="code",
        span=span,
        name="N",
        settings=None,  # type: ignore[arg-type]
        spec=None,
        params={"code": "return data", "nested": [FromInput("gone")]},
        inputs={"data": FromInput("value"), "other": FromNode("m", "out")},
    )
    return replace(
        base,
        code=(
            CodeFunction(
                "code", "", "expression", ("x",), "x", reads=(("x", FromNode("m", "out")),)
            ),
        ),
        function=("pkg.mod", "fn"),
        function_span=Span("child.yaml", 4, 7),
        included_from=(Span("main.yaml", 2, 3),),
        skipped=True,
    )
