"""Compiling many blueprints at once for ``compile`` and ``check``.

Every file is compiled even after one fails, so a single run reports every problem in every file.
Module-name clashes are found before compiling anything: two blueprints that would overwrite each
other's module are a usage error, not a blueprint error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..blueprint_paths import display_path
from ..errors import BlueprintError
from .discover import find_blueprints
from .report import Reporter
from .settings import project_settings

if TYPE_CHECKING:
    from ..compiler import CompiledModule
    from ..compiler.options import CompileOptions


def collect_blueprints(paths: Sequence[Path]) -> list[Path]:
    """The blueprint files named by ``paths`` (default: the project settings' ``paths``); a
    usage error when there are none."""
    if not paths:
        settings = project_settings()
        if not settings.paths:
            raise click.UsageError(
                "give the blueprints to use (PATH...), or list them as paths in "
                "[tool.atomiton] of pyproject.toml"
            )
        paths = settings.paths
    files = find_blueprints(paths)
    if not files:
        shown = ", ".join(display_path(p) for p in paths)
        raise click.UsageError(f"no blueprints (*.yaml, *.yml) found in {shown}")
    return files


def module_names(files: Sequence[Path]) -> dict[Path, str]:
    """The module each blueprint compiles to; a usage error naming both files of any clash."""
    from ..compiler import module_name_for

    names: dict[Path, str] = {}
    owners: dict[str, Path] = {}
    for path in files:
        name = module_name_for(path)
        if name in owners:
            raise click.UsageError(
                f"{display_path(owners[name])} and {display_path(path)} both compile to module "
                f"{name!r}; rename one of them or compile them into different folders"
            )
        owners[name] = path
        names[path] = name
    return names


def compile_all(
    files: Sequence[Path], options: CompileOptions, reporter: Reporter
) -> list[CompiledModule]:
    """Compile every file, printing diagnostics through ``reporter`` as they are found.

    Returns:
        The modules that compiled; the caller checks ``reporter.has_errors`` before using them.
    """
    from ..compiler import compile_blueprint

    modules = []
    for path in files:
        try:
            compiled = compile_blueprint(path, options=options)
        except BlueprintError as exc:
            reporter.diagnostics(exc.diagnostics, path=path)
            continue
        reporter.diagnostics(compiled.warnings, path=path)
        modules.append(compiled)
    return modules
