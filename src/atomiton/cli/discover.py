"""Finding blueprints: the PATH arguments of ``compile`` and ``check`` may be files or folders.

A file is taken as given, whatever its name. A folder is searched recursively for blueprint files
(``*.yaml``, ``*.yml``; that covers ``*.flow.yaml`` and ``*.blueprint.yaml``), skipping hidden
folders and folders that hold an ``.atomitonignore`` file (blueprints kept for another purpose,
such as examples of mistakes; name their files to check them). The result is sorted and free of
duplicates so that output and exit codes never depend on the order a file system lists things in.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..blueprint_paths import BLUEPRINT_SUFFIXES


def is_blueprint_file(path: Path) -> bool:
    """Whether a file found in a folder should be compiled (by its name alone)."""
    return path.name.endswith(BLUEPRINT_SUFFIXES) and not path.name.startswith(".")


IGNORE_MARKER: Final = ".atomitonignore"


def _is_skipped(path: Path, top: Path) -> bool:
    """Whether ``path`` lies in a hidden folder, or one marked with ``.atomitonignore``, below ``top``."""
    folders = path.relative_to(top).parts[:-1]
    if any(part.startswith(".") for part in folders):
        return True
    folder = top
    for part in ("", *folders):
        folder = folder / part if part else folder
        if (folder / IGNORE_MARKER).exists():
            return True
    return False


def find_blueprints(paths: Iterable[Path]) -> list[Path]:
    """Every blueprint named by ``paths``: files as given, folders searched recursively.

    Args:
        paths: files or folders, as typed on the command line.

    Returns:
        The blueprint files, sorted, each listed once.
    """
    found: dict[Path, Path] = {}
    for path in paths:
        if path.is_dir():
            for candidate in path.rglob("*"):
                if (
                    candidate.is_file()
                    and is_blueprint_file(candidate)
                    and not _is_skipped(candidate, path)
                ):
                    found.setdefault(candidate.resolve(), candidate)
        else:
            found.setdefault(path.resolve(), path)
    return sorted(found.values(), key=lambda p: p.as_posix())
