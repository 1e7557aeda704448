"""Where atomiton keeps its caches: one folder per kind (``run``, ``mypy``, ...) under one root.

The root is ``.atomiton/cache/`` in the project (the folder of the nearest ``pyproject.toml``,
``.git`` or ``.hg`` at or above the current directory), so every subfolder of a project shares one
cache and two checkouts never share one; outside any project ``$XDG_CACHE_HOME/atomiton``, else
``~/.cache/atomiton``. ``ATOMITON_CACHE_DIR`` overrides all of them. A project cache folder gets a
``.gitignore`` of ``*`` when created, so that it never ends up in a commit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ENV_OVERRIDE: Final = "ATOMITON_CACHE_DIR"
PROJECT_FOLDER: Final = Path(".atomiton") / "cache"
_MARKERS: Final = ("pyproject.toml", ".git", ".hg")


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the current one) that holds a
    ``pyproject.toml``, ``.git`` or ``.hg``; None outside any project."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in _MARKERS):
            return folder
    return None


def cache_root(start: Path | None = None) -> Path:
    """The folder holding every kind of cache (not created here)."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return Path(override)
    project = project_root(start)
    if project is not None:
        return project / PROJECT_FOLDER
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "atomiton"


def cache_dir(kind: str, start: Path | None = None) -> Path:
    """The folder of one kind of cache, created (with its ``.gitignore``) if missing.

    Raises:
        OSError: the folder cannot be created; callers treat a cache as optional.
    """
    root = cache_root(start)
    folder = root / kind
    folder.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        try:
            ignore.write_text("# created by atomiton: caches are not source\n*\n")
        except OSError:
            pass  # a read-only root still caches if the folder exists
    return folder
