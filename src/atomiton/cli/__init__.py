"""The ``atomiton`` command: a click group whose subcommands each live in their own module.

Commands build options, call the library and render its answers; they hold no compiler or runtime
logic of their own. A command's module is imported only when that command runs (or its own
``--help`` is asked): the group's help lists the commands from the short help kept below, so
``atomiton --help`` imports neither the compiler (black, mypy) nor pydantic, rich or the
node modules.

Exit status, shared by every command: 0 success, 1 blueprint errors, 2 usage errors, 3 a run
failed, 130 interrupted (Ctrl-C); ``run`` also 143 (SIGTERM) and 129 (SIGHUP).
"""

from __future__ import annotations

import importlib
from typing import Any, Final, NamedTuple

import click

from .. import __version__
from . import status

__all__ = ["COMMANDS", "main"]


class LazyCommand(NamedTuple):
    """Where a command lives, and the one line the group's help shows for it."""

    module: str  # under atomiton.cli
    attribute: str
    summary: str  # the first sentence of the command's help, as click takes it (a test checks)


# In the order of a typical workflow, which is the order the help lists them in.
COMMANDS: Final[dict[str, LazyCommand]] = {
    "run": LazyCommand("run_cmd", "run_command", "Run a blueprint and print its outputs."),
    "check": LazyCommand(
        "check_cmd", "check_command", "Check blueprints for errors without writing any module."
    ),
    "compile": LazyCommand(
        "compile_cmd", "compile_command", "Compile blueprints into typed Python modules."
    ),
    "nodes": LazyCommand("nodes_cmd", "nodes_command", "List node types, or describe one."),
    "graph": LazyCommand(
        "graph_cmd",
        "graph_command",
        "Print the graph of FILE with every sub-blueprint inlined, as the compiled module runs it.",
    ),
    "schema": LazyCommand(
        "schema_cmd", "schema_command", "Print the JSON Schema of the blueprint format."
    ),
    "runs": LazyCommand(
        "runs_cmd",
        "runs_command",
        "List recorded runs, or show one run, its events, or clean up old ones.",
    ),
    "serve": LazyCommand(
        "serve_cmd", "serve_command", "Serve the JSON-RPC protocol and the live web view of runs."
    ),
    "migrate": LazyCommand(
        "migrate_cmd", "migrate_command", "Rewrite Atomiton flow files as native blueprints."
    ),
    "cache": LazyCommand(
        "cache_cmd",
        "cache_command",
        "List, clean up or clear the node cache (values of nodes reused by later runs).",
    ),
}

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


def load_command(name: str) -> click.Command:
    """Import the module of command ``name`` and return its click command."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"{__name__}.{entry.module}")
    command = getattr(module, entry.attribute)
    assert isinstance(command, click.Command)
    return command


class AtomitonGroup(click.Group):
    """Loads a command's module only when the command is used; lists commands in the order of
    ``COMMANDS``; turns Ctrl-C outside a run into exit status 130 rather than click's
    ``Aborted!`` with status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version loads every command to ask for its short help; this one shortens
        # the kept summaries the same way (same width limit, same ellipsis).
        extra = [n for n, c in self.commands.items() if n not in COMMANDS and not c.hidden]
        limit = formatter.width - 6 - max(len(name) for name in [*COMMANDS, *extra])
        rows = [
            (name, click.Command(name, help=entry.summary).get_short_help_str(limit))
            for name, entry in COMMANDS.items()
        ]
        rows += [(name, self.commands[name].get_short_help_str(limit)) for name in extra]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
