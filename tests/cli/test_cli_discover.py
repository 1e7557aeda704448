"""Finding blueprints among the PATH arguments."""

from __future__ import annotations

from pathlib import Path

from atomiton.cli.discover import find_blueprints


def test_folders_are_searched_recursively_and_sorted(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.flow.yaml", "sub/c.yml", "sub/deep/d.blueprint.yaml", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("nodes: []\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "e.yaml").write_text("nodes: []\n")

    found = [p.relative_to(tmp_path).as_posix() for p in find_blueprints([tmp_path])]

    assert found == ["a.flow.yaml", "b.yaml", "sub/c.yml", "sub/deep/d.blueprint.yaml"]


def test_files_are_taken_as_given_once(tmp_path: Path) -> None:
    flow = tmp_path / "flow.txt"
    flow.write_text("nodes: []\n")
    other = tmp_path / "x.yaml"
    other.write_text("nodes: []\n")

    assert find_blueprints([flow, tmp_path, other]) == sorted(
        [flow, other], key=lambda p: p.as_posix()
    )


def test_a_folder_marked_with_atomitonignore_is_skipped_unless_files_are_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "good.yaml").write_text("nodes: []\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / ".atomitonignore").write_text("")
    (tmp_path / "bad" / "broken.yaml").write_text("nodes: [\n")
    (tmp_path / "bad" / "deeper").mkdir()
    (tmp_path / "bad" / "deeper" / "also.yaml").write_text("nodes: []\n")

    assert find_blueprints([tmp_path]) == [tmp_path / "good.yaml"]
    named = tmp_path / "bad" / "broken.yaml"
    assert find_blueprints([named]) == [named]
