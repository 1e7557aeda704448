"""``atomiton nodes``: the node types a blueprint can use, and the details of one.

The list is read from ``atomiton.nodes.registry`` without importing a node module (nor pydantic,
which their specs need): the registry finds built-in node modules by their files and node
packages by their entry points, and each type's summary is read from its source. Types from a
node package are listed with the package's name; a package that cannot be used (a clashing type
name, a module that fails to import) is reported as an error. The details of one type
(parameters with their types, defaults and allowed values; ports) are written by
``atomiton.nodes.catalogue``, which the documentation uses too, so the two never disagree.
"""

from __future__ import annotations

from typing import Final

import click

from . import status

EPILOG: Final = """\b
Examples:
  atomiton nodes                 # every node type, one line each
  atomiton nodes transform       # parameters and ports of 'transform'
"""

# Types the compiler handles itself, so they have no spec in the registry.
_BUILTIN_DESCRIPTIONS: Final = {
    "blueprint": "A sub-blueprint (by path, by id, or inline nodes/edges), inlined at compile time.",
    "flow": "Same as 'blueprint'.",
    "group": "Same as 'blueprint' (Atomiton's name for an inline sub-blueprint).",
    "python": "A user's own typed Python function, referenced as 'package.module:name'.",
}

_BUILTIN_DETAILS: Final = """
'blueprint', 'group' and 'flow' take a sub-blueprint by 'path' (relative to the including file,
then --path and $ATOMITON_PATH), by 'id' from the blueprint store, or inline 'nodes'/'edges'. Its
interface inputs and outputs are its ports; it is inlined at compile time.

'python' calls 'function: package.module:name'. Its ports come from the node's 'inputPorts' and
'outputPorts' (default: one 'data' input and one 'result' output); mypy checks the call against
the function's real signature."""


def node_summaries() -> dict[str, str]:
    """Every type's one-line description, its package named for a type from a node package."""
    from ..nodes import registry

    summaries = {name: _BUILTIN_DESCRIPTIONS[name] for name in registry.BUILTIN_TYPES}
    for name in registry.sources():
        package = registry.package_of(name)
        text = registry.summary(name)
        summaries[name] = f"{text} (package {package})" if package else text
    return dict(sorted(summaries.items()))


@click.command("nodes", epilog=EPILOG)
@click.argument("type_name", metavar="[TYPE]", required=False)
def nodes_command(type_name: str | None) -> None:
    """List node types, or describe one.

    Without TYPE, prints every node type a blueprint can use with a one-line description. With
    TYPE, prints its parameters (type, default, allowed values) and its input and output ports.
    """
    from ..nodes import registry

    summaries = node_summaries()
    names = list(summaries)
    if type_name is None:
        width = max(len(name) for name in names)
        for name in names:
            click.echo(f"{name:<{width}}  {summaries[name]}".rstrip())
        problems = registry.problems()
        for found in problems:
            click.echo(f"error[{found.code}]: {found.message}", err=True)
            click.echo(f"  hint: {found.hint}", err=True)
        if problems:
            raise click.exceptions.Exit(status.BLUEPRINT_ERROR)
        return
    from ..diagnostics import did_you_mean
    from .report import stdout_console

    problem = registry.problem(type_name)
    if problem is not None:
        raise click.ClickException(f"[{problem.code}] {problem.message}; {problem.hint}")
    if type_name not in names and registry.get(type_name) is None:
        hint = did_you_mean(type_name, names)
        raise click.BadParameter(
            f"unknown node type {type_name!r}"
            + (f" ({hint})" if hint else "")
            + "; run 'atomiton nodes' for the list",
            param_hint="TYPE",
        )
    console = stdout_console()
    if registry.get(type_name) is None:  # a type the compiler handles itself
        console.print(f"{type_name} — {_BUILTIN_DESCRIPTIONS[type_name]}", markup=False)
        console.print(_BUILTIN_DETAILS, markup=False)
        return
    from ..nodes.catalogue import describe_node

    console.print(describe_node(type_name).rstrip("\n"), markup=False)
