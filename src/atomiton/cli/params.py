"""Command-line options shared by several commands (``PATH...``, ``--path``) and what they build.

Kept apart from the commands so that ``compile``, ``check`` and ``run`` spell them, explain them and
turn them into ``CompileOptions`` the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from .settings import project_settings

if TYPE_CHECKING:
    from ..compiler.options import CompileOptions

F = TypeVar("F", bound=Callable[..., object])


def blueprint_paths_argument(func: F) -> F:
    """``PATH...``: blueprint files or folders (searched recursively); none means the ``paths``
    of the project settings."""
    return click.argument(
        "paths",
        metavar="[PATH]...",
        nargs=-1,
        required=False,
        type=click.Path(exists=True, path_type=Path),
    )(func)


def search_path_option(func: F) -> F:
    """``--path DIR`` (repeatable): where sub-blueprints are looked for."""
    return click.option(
        "--path",
        "search_path",
        metavar="DIR",
        multiple=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=(
            "Also look for sub-blueprints in DIR (after the including file's folder). "
            "Repeatable; searched before the folders in $ATOMITON_PATH. Default: search-path "
            "of [tool.atomiton] in pyproject.toml."
        ),
    )(func)


def effective_search_path(search_path: Sequence[Path]) -> tuple[Path, ...]:
    """``--path`` folders when given, else the project settings' ``search-path``."""
    if search_path:
        return tuple(search_path)
    return project_settings().search_path


def compile_options(search_path: Sequence[Path]) -> CompileOptions:
    """Options for compiling from the command line.

    Paths recorded in generated modules are relative to the current directory, so the same
    checkout builds the same bytes on every machine.
    """
    from ..compiler.options import CompileOptions

    folders = effective_search_path(search_path)
    return CompileOptions(
        root=Path.cwd(),
        search_path=(*folders, *environment_search_path()),
        store=default_store(),
    )


def default_store() -> Path:
    """The blueprint store searched for ``id:`` references: ``$ATOMITON_HOME/Blueprints``."""
    home = os.environ.get("ATOMITON_HOME")
    return Path(home) / "Blueprints" if home else Path.home() / "Atomiton" / "Blueprints"


def environment_search_path() -> tuple[Path, ...]:
    """Folders named by ``ATOMITON_PATH`` (``os.pathsep``-separated)."""
    raw = os.environ.get("ATOMITON_PATH", "")
    return tuple(Path(p) for p in raw.split(os.pathsep) if p)
