"""``CompileOptions``: every knob of a compilation in one frozen value (like black's ``Mode``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_store() -> Path:
    """The blueprint store searched for ``id:`` references: ``$ATOMITON_HOME/Blueprints``."""
    home = os.environ.get("ATOMITON_HOME")
    return Path(home) / "Blueprints" if home else Path.home() / "Atomiton" / "Blueprints"


def env_search_path() -> tuple[Path, ...]:
    """Folders named by ``ATOMITON_PATH`` (``os.pathsep``-separated)."""
    raw = os.environ.get("ATOMITON_PATH", "")
    return tuple(Path(p) for p in raw.split(os.pathsep) if p)


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """How to compile.

    Attributes:
        root: paths recorded in generated modules are relative to this folder (default: the
            current directory), so builds are reproducible across machines.
        search_path: folders searched for sub-blueprints after the including file's folder.
        store: the blueprint store for references by ``id``.
        check_edge_types: check every edge's types in the compiler. Only tests switch it off, to
            prove that mypy on the generated code catches the same mistakes.
        format: also run black over the whole generated module. The emitter already writes
            black's layout (the golden tests check that black changes nothing), so this only
            costs time; it exists to check the layout on a blueprint of your own.
    """

    root: Path | None = None
    search_path: tuple[Path, ...] = field(default_factory=env_search_path)
    store: Path = field(default_factory=default_store)
    check_edge_types: bool = True
    format: bool = False
