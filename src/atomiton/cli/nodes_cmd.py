"""``atomiton nodes``: the node types a blueprint can use, and the details of one.

The list is printed from ``NODE_SUMMARIES``, kept here so that listing imports no node module (nor
pydantic, which their specs need); a test checks it against ``atomiton.nodes.registry``, so a new
or changed node type must be written down here too. The details of one type (parameters with
their types, defaults and allowed values; ports) are written by ``atomiton.nodes.catalogue``,
which the documentation uses too, so the two never disagree.
"""

from __future__ import annotations

from typing import Final

import click

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


# type name -> the first line of its description (``registry_summaries()`` as of this release).
NODE_SUMMARIES: Final[dict[str, str]] = {
    "blueprint": "A sub-blueprint (by path, by id, or inline nodes/edges), inlined at compile time.",
    "code": "A Python function body written in the blueprint, compiled into the module.",
    "edit-fields": "Build or patch an object.",
    "file-system": "Read, write, list, copy, move and delete files and folders; writes are atomic.",
    "flow": "Same as 'blueprint'.",
    "group": "Same as 'blueprint' (Atomiton's name for an inline sub-blueprint).",
    "http-request": "Send an HTTP request with httpx and decode the response by its content type.",
    "image": "Image operations (Pillow); CPU-bound, so it runs in a worker process.",
    "javascript-code": "A JavaScript function body run in an embedded V8 engine ('code' with runtime: javascript).",
    "javascript-transform": "Array operations with JavaScript functions, run in an embedded V8 engine ('transform' with runtime: javascript).",
    "loop": "Run a body once per item (or n times, or while a condition holds).",
    "merge": "Fan-in: merge several arrays into one (append, by position, or by key).",
    "parallel": "Run several branches at once on the same input.",
    "python": "A user's own typed Python function, referenced as 'package.module:name'.",
    "shell-command": "Run a program with an argument list (never a shell); a timeout kills its process group.",
    "spreadsheet": "Read or write CSV, TSV and XLSX tables as records; can stream large files.",
    "transform": "Array operations, with Python functions compiled into the module.",
}


def registry_summaries() -> dict[str, str]:
    """Every type's one-line description, read from the node specs (imports every node module)."""
    from ..nodes import registry

    return {name: _summary(name) for name in registry.type_names()}


def _summary(type_name: str) -> str:
    """The one-line description of ``type_name``, from its spec."""
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
    names = sorted(NODE_SUMMARIES)
    if type_name is None:
        width = max(len(name) for name in names)
        for name in names:
            click.echo(f"{name:<{width}}  {NODE_SUMMARIES[name]}".rstrip())
        return
    from ..diagnostics import did_you_mean
    from ..nodes import registry
    from .report import stdout_console

    if type_name not in names:
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
