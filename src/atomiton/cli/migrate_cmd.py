"""``atomiton migrate``: rewrite Atomiton flow files as native blueprints.

The rewriting itself is ``atomiton.compiler.dialects.migrate``'s (the same fold the compiler
reads Atomiton files with); this module picks the files, prints diagnostics and diffs, and writes
the results atomically.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Final

import click

from . import status
from ..blueprint_paths import display_path
from .report import Reporter, stdout_console

EPILOG: Final = """\b
Examples:
  atomiton migrate flows/hello-world.flow.yaml -o flows/native
  atomiton migrate flows/*.flow.yaml --diff
  atomiton migrate flows/*.flow.yaml --check

\b
Exit status: 0 done (or, with --check, nothing to migrate), 1 blueprint errors or (with
--check) files that would change, 2 usage errors.
"""


@click.command("migrate", epilog=EPILOG)
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the native files into DIR (same file names) instead of over the originals.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff.")
def migrate_command(
    files: tuple[Path, ...], out_dir: Path | None, check: bool, show_diff: bool
) -> None:
    """Rewrite Atomiton flow files as native blueprints.

    The native file uses typed ports, native parameter names and explicit loop bodies; it means
    what the original meant and compiles without the dialect's warnings. Key order is kept, and
    so are the comments at the top of the file and above each node and edge. Native files are
    left as they are.
    """
    from ..compiler.dialects.migrate import migrate_file
    from ..runtime.files import atomic_write

    reporter = Reporter()
    changed = 0
    for path in files:
        migration = migrate_file(path, display_path(path))
        reporter.diagnostics([d for d in migration.diagnostics if d.is_error], path=path)
        if migration.native_already:
            reporter.info(f"{display_path(path)}: native already")
            continue
        if migration.text is None:
            continue
        changed += 1
        target = (out_dir / path.name) if out_dir is not None else path
        if show_diff:
            original = path.read_text(encoding="utf-8").splitlines(keepends=True)
            diff = difflib.unified_diff(
                original,
                migration.text.splitlines(keepends=True),
                fromfile=display_path(path),
                tofile=display_path(target),
            )
            stdout_console().print("".join(diff), end="", markup=False, highlight=False)
        if check or show_diff:
            continue
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            target,
            migration.text.encode("utf-8"),
            create_directories=False,
            follow_symlinks=True,
        )
        reporter.info(f"{display_path(path)}: migrated to {display_path(target)}")
    reporter.print_summary()
    if reporter.has_errors or (check and changed):
        raise click.exceptions.Exit(status.BLUEPRINT_ERROR)
