"""The ``atomiton`` command: a click group whose subcommands each live in their own module.

Commands build options, call the library and render its answers; they hold no compiler or runtime
logic of their own. Heavy imports (the compiler pulls in black and jinja2) happen inside the
commands, so ``atomiton --help`` and ``atomiton nodes`` start quickly.

Exit status, shared by every command: 0 success, 1 blueprint errors, 2 usage errors, 3 a run
failed, 130 interrupted (Ctrl-C); ``run`` also 143 (SIGTERM) and 129 (SIGHUP).
"""

from __future__ import annotations

from typing import Any, Final

import click

from .. import __version__
from . import status
from .check_cmd import check_command
from .compile_cmd import compile_command
from .graph_cmd import graph_command
from .nodes_cmd import nodes_command
from .run_cmd import run_command
from .schema_cmd import schema_command

__all__ = ["main"]

EPILOG: Final = """\b
Examples:
  atomiton run examples/hello_world.yaml --input name=Ada
  atomiton check flows/
  atomiton compile flows/ -o app/flows
  atomiton compile flows/ -o app/flows --check
  atomiton nodes transform
  atomiton schema > blueprint.schema.json

\b
Exit status: 0 ok, 1 blueprint errors, 2 usage errors, 3 the run failed,
130 interrupted, 143/129 terminated by SIGTERM/SIGHUP.
"""


class AtomitonGroup(click.Group):
    """Lists commands in the order they were added (the order of a typical workflow), and turns
    Ctrl-C outside a run into exit status 130 rather than click's ``Aborted!`` with status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(status.INTERRUPTED) from None


@click.group(
    cls=AtomitonGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "-V", "--version", prog_name="atomiton")
def main() -> None:
    """Compile YAML workflow blueprints into typed Python modules, check them, and run them.

    A blueprint is a graph of nodes joined by edges between their ports. 'compile' writes one
    plain, typed Python module per blueprint; 'check' reports every mistake at the blueprint's
    file:line:column; 'run' compiles a blueprint in memory and runs it.
    """


main.add_command(run_command)
main.add_command(check_command)
main.add_command(compile_command)
main.add_command(nodes_command)
main.add_command(graph_command)
main.add_command(schema_command)
