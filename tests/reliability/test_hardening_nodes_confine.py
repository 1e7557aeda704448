"""File-system confinement: ``run(allow_paths=...)`` and ``atomiton run --allow-path`` (issue 9,
item 14): every file node and program working directory stays inside the allowed folders,
``..`` and symbolic links that lead out are refused with a NodeError that says where."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FlowFactory

from atomiton.cli import main
from atomiton.errors import NodeError
from atomiton.runtime.confine import ConfinementError, check_path, resolve_roots


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``tmp_path/jail`` (allowed, with a file and an escaping link) beside ``tmp_path/secret``."""
    jail = tmp_path / "jail"
    jail.mkdir()
    (jail / "inside.txt").write_text("inside\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("secret\n")
    (jail / "escape").symlink_to(secret)
    (jail / "key-link.txt").symlink_to(secret / "key.txt")
    return tmp_path


FS_FLOW = """
id: fs
variables:
  op: {type: any, defaultValue: read}  # any: a string does not fit a choice parameter
  where: {type: string}
  target: {type: string, defaultValue: ""}
nodes:
  - id: act
    type: file-system
    parameters:
      operation: "{{ inputs.op }}"
      content: "written\\n"
      targetPath: "{{ inputs.target }}"
edges:
  - {source: input, sourceHandle: where, target: act, targetHandle: path}
"""


def test_reads_inside_the_allowed_folder_work(
    tree: Path, flow: FlowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = flow(FS_FLOW)
    jail = tree / "jail"
    outputs = module.run(module.Inputs(where=str(jail / "inside.txt")), allow_paths=[jail])
    assert outputs.act == "inside\n"
    # A relative allowed folder and a relative path, both from the current directory.
    monkeypatch.chdir(tree)
    outputs = module.run(module.Inputs(where="jail/inside.txt"), allow_paths=["jail"])
    assert outputs.act == "inside\n"


@pytest.mark.parametrize(
    "where",
    ["../secret/key.txt", "escape/key.txt", "key-link.txt", "{tree}/secret/key.txt"],
)
def test_paths_that_lead_out_are_refused(tree: Path, flow: FlowFactory, where: str) -> None:
    module = flow(FS_FLOW)
    jail = tree / "jail"
    path = str(jail / where.format(tree=tree))
    with pytest.raises(NodeError) as caught:
        module.run(module.Inputs(where=path), allow_paths=[jail])
    error = caught.value
    assert error.node_id == "act" and "ConfinementError" in error.message
    # The message says which path, where it leads and which folders are allowed.
    assert repr(path) in error.message and repr(str(jail.resolve())) in error.message
    assert "--allow-path" in error.message


@pytest.mark.parametrize("op", ["write", "append", "delete", "create"])
def test_writes_outside_are_refused_and_change_nothing(
    tree: Path, flow: FlowFactory, op: str
) -> None:
    module = flow(FS_FLOW)
    jail = tree / "jail"
    victim = jail / "escape" / "key.txt"
    with pytest.raises(NodeError, match="may not write to"):
        module.run(module.Inputs(op=op, where=str(victim)), allow_paths=[jail])
    assert (tree / "secret" / "key.txt").read_text() == "secret\n"
    with pytest.raises(NodeError, match="may not write to"):
        module.run(module.Inputs(op=op, where=str(jail / "escape" / "new")), allow_paths=[jail])
    assert sorted(p.name for p in (tree / "secret").iterdir()) == ["key.txt"]


def test_list_leaves_out_what_leads_outside(tree: Path, flow: FlowFactory) -> None:
    module = flow(FS_FLOW)
    jail = tree / "jail"
    inputs = module.Inputs(op="list", where=str(jail))
    assert [Path(p).name for p in module.run(inputs).act] == [
        "escape",
        "inside.txt",
        "key-link.txt",
    ]
    assert [Path(p).name for p in module.run(inputs, allow_paths=[jail]).act] == ["inside.txt"]


def test_copy_and_move_check_both_ends(tree: Path, flow: FlowFactory) -> None:
    module = flow(FS_FLOW)
    jail = tree / "jail"
    inside, outside = jail / "inside.txt", tree / "secret"
    for op in ("copy", "move"):
        with pytest.raises(NodeError, match="ConfinementError"):
            module.run(
                module.Inputs(op=op, where=str(inside), target=str(outside)), allow_paths=[jail]
            )
        with pytest.raises(NodeError, match="ConfinementError"):
            module.run(
                module.Inputs(op=op, where=str(outside / "key.txt"), target=str(jail / "k")),
                allow_paths=[jail],
            )
    assert inside.exists() and sorted(p.name for p in outside.iterdir()) == ["key.txt"]
    outputs = module.run(
        module.Inputs(op="copy", where=str(inside), target=str(jail / "copy.txt")),
        allow_paths=[jail],
    )
    assert Path(outputs.act).read_text() == "inside\n"


def test_spreadsheet_is_confined(tree: Path, flow: FlowFactory) -> None:
    jail = tree / "jail"
    (tree / "secret" / "table.csv").write_text("a\n1\n")
    module = flow("""
        id: sheet
        variables:
          where: {type: string}
        nodes:
          - {id: read, type: spreadsheet}
          - {id: write, type: spreadsheet, parameters: {operation: write, path: "{{ inputs.where }}.out.csv"}}
        edges:
          - {source: input, sourceHandle: where, target: read, targetHandle: path}
          - {source: read, target: write, targetHandle: data}
        """)
    with pytest.raises(NodeError, match="may not read") as caught:
        module.run(module.Inputs(where=str(jail / "escape" / "table.csv")), allow_paths=[jail])
    assert caught.value.node_id == "read"
    (jail / "table.csv").write_text("a\n1\n")
    module.run(module.Inputs(where=str(jail / "table.csv")), allow_paths=[jail])
    assert (jail / "table.csv.out.csv").read_text().splitlines() == ["a", "1"]


def test_image_in_a_worker_process_is_confined(tree: Path, flow: FlowFactory) -> None:
    pytest.importorskip("PIL")
    from PIL import Image

    jail = tree / "jail"
    Image.new("RGB", (8, 8), "blue").save(tree / "secret" / "in.png")
    Image.new("RGB", (8, 8), "blue").save(jail / "in.png")
    module = flow("""
        id: picture
        variables:
          source: {type: string}
          output: {type: string}
        nodes:
          - id: small
            type: image
            parameters: {operation: resize, width: 4, height: 4, output: "{{ inputs.output }}"}
        edges:
          - {source: input, sourceHandle: source, target: small, targetHandle: baseImage}
        """)
    with pytest.raises(NodeError, match="may not read"):
        module.run(
            module.Inputs(source=str(jail / "escape" / "in.png"), output=str(jail / "o.png")),
            allow_paths=[jail],
        )
    with pytest.raises(NodeError, match="may not write to"):
        module.run(
            module.Inputs(source=str(jail / "in.png"), output=str(tree / "secret" / "o.png")),
            allow_paths=[jail],
        )
    outputs = module.run(
        module.Inputs(source=str(jail / "in.png"), output=str(jail / "o.png")), allow_paths=[jail]
    )
    assert Path(outputs.small).parent == jail
    assert sorted(p.name for p in (tree / "secret").iterdir()) == ["in.png", "key.txt"]


def test_program_working_directories_are_confined(
    tree: Path, flow: FlowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    jail = tree / "jail"
    module = flow("""
        id: program
        variables:
          folder: {type: string, defaultValue: ""}
        nodes:
          - id: where
            type: shell-command
            parameters: {program: pwd, workingDirectory: "{{ inputs.folder }}"}
        """)
    with pytest.raises(NodeError, match="may not run a program in"):
        module.run(module.Inputs(folder=str(jail / "escape")), allow_paths=[jail])
    assert module.run(module.Inputs(folder=str(jail)), allow_paths=[jail]).where.strip() == str(
        jail.resolve()
    )
    # No working directory: the program would run in the current one, which is checked too.
    monkeypatch.chdir(tree)
    with pytest.raises(NodeError, match=r"may not run a program in '\.'"):
        module.run(module.Inputs(), allow_paths=[jail])
    monkeypatch.chdir(jail)
    assert module.run(module.Inputs(), allow_paths=[jail]).where.strip() == str(jail.resolve())


def test_arun_and_nested_nodes_are_confined(tree: Path, flow: FlowFactory) -> None:
    jail = tree / "jail"
    module = flow("""
        id: looped
        variables:
          paths: {type: array}
        nodes:
          - id: each
            type: loop
            parameters:
              loopType: forEach
              body:
                nodes:
                  - {id: read, type: file-system}
                edges:
                  - {source: input, target: read, targetHandle: path}
        edges:
          - {source: input, sourceHandle: paths, target: each, targetHandle: array}
        """)
    paths = [str(jail / "inside.txt"), str(jail / "escape" / "key.txt")]
    with pytest.raises(NodeError, match="ConfinementError"):
        asyncio.run(module.arun(module.Inputs(paths=paths), allow_paths=[jail]))
    outputs = asyncio.run(module.arun(module.Inputs(paths=paths[:1]), allow_paths=[jail]))
    assert outputs.each == ["inside\n"]
    # Not confined: the same flow reads both.
    assert module.run(module.Inputs(paths=paths)).each == ["inside\n", "secret\n"]


def test_allowed_folders_must_exist(tmp_path: Path, flow: FlowFactory) -> None:
    module = flow(FS_FLOW)
    with pytest.raises(ValueError, match="does not exist"):
        module.run(module.Inputs(where="x"), allow_paths=[tmp_path / "missing"])
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a folder"):
        module.run(module.Inputs(where="x"), allow_paths=[tmp_path / "file"])
    # One folder given as a string is one folder, not its characters.
    assert resolve_roots(str(tmp_path)) == frozenset({tmp_path.resolve()})


def test_check_path_resolves_links_before_dotdot(tree: Path) -> None:
    jail = tree / "jail"
    roots = resolve_roots([jail])
    # escape/.. is the parent of secret (tree), not jail: the OS resolves the link first.
    with pytest.raises(ConfinementError):
        check_path(jail / "escape" / ".." / "jail" / ".." / "secret", roots)
    assert check_path(jail / "sub" / ".." / "inside.txt", roots) == jail / "sub/../inside.txt"
    assert check_path("/anything", None) == Path("/anything")


def test_cli_allow_path(tree: Path) -> None:
    jail = tree / "jail"
    blueprint = tree / "flow.yaml"
    blueprint.write_text(
        "id: cli\nnodes:\n  - {id: read, type: file-system, parameters: {path: "
        + repr(str(jail / "escape" / "key.txt"))
        + "}}\n"
    )
    runner = CliRunner()
    refused = runner.invoke(main, ["run", str(blueprint), "--allow-path", str(jail)])
    assert refused.exit_code == 3, refused.output
    assert "may not read" in refused.output and str(jail.resolve()) in refused.output
    allowed = runner.invoke(
        main, ["run", str(blueprint), "--allow-path", str(jail), "--allow-path", str(tree)]
    )
    assert allowed.exit_code == 0 and "secret" in allowed.output
    missing = runner.invoke(main, ["run", str(blueprint), "--allow-path", str(tree / "nope")])
    assert missing.exit_code == 2
