"""How blueprint files are named: the suffixes that mark one, and how a path is shown.

One place for both facts, shared by the compiler (finding included files, naming modules,
positions in diagnostics) and the command line (finding blueprints in folders, reporting). It
imports the standard library only, so the command line can use it without loading the compiler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

# A file with one of these suffixes is a blueprint; they cover ``*.flow.yaml`` and
# ``*.blueprint.yaml``.
BLUEPRINT_SUFFIXES: Final = (".yaml", ".yml")
# Words a blueprint's file name may carry before its suffix (``orders.flow.yaml``): not part of
# the blueprint's name.
BLUEPRINT_KINDS: Final = (".flow", ".blueprint")


def blueprint_stem(name: str) -> str:
    """A blueprint file's name without its suffix and kind (``orders.flow.yaml`` -> ``orders``)."""
    for suffix in BLUEPRINT_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for kind in BLUEPRINT_KINDS:
        if name.endswith(kind):
            name = name[: -len(kind)]
    return name


def display_path(path: Path | str, root: Path | None = None) -> str:
    """How a file is named in diagnostics, reports and generated modules: relative to ``root``
    (default: the current folder) when it lies below it, else as given."""
    path = Path(path)
    base = root or Path.cwd()
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # elsewhere, a name too long, a symlink loop
        return path.as_posix()
