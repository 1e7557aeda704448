"""``atomiton nodes``: the node types a blueprint can use, and the details of one.

The list comes from ``atomiton.nodes.registry``; the details of one type (parameters with their
types, defaults and allowed values; ports) are written by ``atomiton.nodes.catalogue``, which the
documentation uses too, so the two never disagree.
"""

from __future__ import annotations

from typing import Final

import click

from ..diagnostics import did_you_mean
from .report import stdout_console

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


def _summary(type_name: str) -> str:
    """The one-line description of ``type_name``."""
    from ..nodes import registry

    spec = registry.get(type_name)
    if spec is None:
        return _BUILTIN_DESCRIPTIONS.get(type_name, "")
    if spec.type != type_name:
        return f"Alias of '{spec.type}'."
    return spec.description.strip().splitlines()[0] if spec.description else ""


@click.command("nodes", epilog=EPILOG)
@click.argument("type_name", metavar="[TYPE]", required=False)
def nodes_command(type_name: str | None) -> None:
    """List node types, or describe one.

    Without TYPE, prints every node type a blueprint can use with a one-line description. With
    TYPE, prints its parameters (type, default, allowed values) and its input and output ports.
    """
    from ..nodes import registry

    names = registry.type_names()
    console = stdout_console()
    if type_name is None:
        width = max(len(name) for name in names)
        for name in names:
            console.print(f"{name:<{width}}  {_summary(name)}".rstrip(), markup=False)
        return
    if type_name not in names:
        hint = did_you_mean(type_name, names)
        raise click.BadParameter(
            f"unknown node type {type_name!r}"
            + (f" ({hint})" if hint else "")
            + "; run 'atomiton nodes' for the list",
            param_hint="TYPE",
        )
    if registry.get(type_name) is None:  # a type the compiler handles itself
        console.print(f"{type_name} — {_BUILTIN_DESCRIPTIONS[type_name]}", markup=False)
        console.print(_BUILTIN_DETAILS, markup=False)
        return
    from ..nodes.catalogue import describe_node

    console.print(describe_node(type_name).rstrip("\n"), markup=False)
