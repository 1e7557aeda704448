"""Where atomiton keeps its caches: ``.atomiton/cache/`` in the project, or ``$ATOMITON_CACHE_DIR``.

The project is the nearest folder, from the current directory up, that holds a ``pyproject.toml``
or is the top of a repository (``.git``, ``.hg``); the current directory when there is none. So
every subfolder of a project shares one cache, and two checkouts never share one. What goes in
the cache, and how it stays correct, is up to each user of the folder (``check`` keeps mypy's
incremental cache in ``check/``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ENV: Final = "ATOMITON_CACHE_DIR"
FOLDER: Final = Path(".atomiton", "cache")
_MARKERS: Final = ("pyproject.toml", ".git", ".hg")


def project_root(start: Path | None = None) -> Path:
    """The folder of the nearest ``pyproject.toml``, ``.git`` or ``.hg`` at or above ``start``
    (default: the current directory), else ``start`` itself."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _MARKERS):
            return folder
    return start


def cache_root(start: Path | None = None) -> Path:
    """The cache folder: ``$ATOMITON_CACHE_DIR`` when set, else ``.atomiton/cache`` in the
    project. Not created here: a command that writes nothing must not leave it behind."""
    override = os.environ.get(ENV)
    if override:
        return Path(override).expanduser().resolve()
    return project_root(start) / FOLDER
