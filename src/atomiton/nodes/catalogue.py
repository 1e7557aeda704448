"""The node catalogue as documentation: ``docs/nodes.md`` and ``atomiton nodes TYPE``.

Everything is read from the registered specs and their parameter models (types, defaults,
allowed values, descriptions), then followed by the hand-written notes in
``docs/nodes/<type>.md`` when there are some. Regenerate the page with
``python -m atomiton.nodes.catalogue > docs/nodes.md``.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Final, Literal

from pydantic_core import PydanticUndefined

from . import registry
from .spec import NodeSpec, Port, port_type

REFRESH_COMMAND: Final = "python -m atomiton.nodes.catalogue > docs/nodes.md"
# docs/ of a source checkout; the notes are documentation, not package data.
NOTES_DIR: Final = Path(__file__).resolve().parents[3] / "docs" / "nodes"


def specs() -> list[NodeSpec]:
    """Every built-in node spec once (aliases folded), sorted by type name.

    Types from installed node packages are left out: the page documents atomiton itself, the
    same whichever packages the machine that writes it has installed.
    """
    found: dict[str, NodeSpec] = {}
    for name in registry.type_names():
        spec = registry.get(name)
        if spec is not None and registry.package_of(spec.type) is None:
            found.setdefault(spec.type, spec)
    return [found[name] for name in sorted(found)]


def render_catalogue(notes_dir: Path | None = None) -> str:
    """Render the markdown of ``docs/nodes.md`` from every registered spec.

    Args:
        notes_dir: the folder of hand-written ``<type>.md`` notes (``docs/nodes`` by default).

    Returns:
        The page's text, ending with a newline; identical for identical specs and notes.
    """
    notes = NOTES_DIR if notes_dir is None else notes_dir
    all_specs = specs()
    lines = [
        "# Node catalogue",
        "",
        f"Generated from the node specs by `{REFRESH_COMMAND}`; do not edit by hand.",
        "Behaviour notes come from `docs/nodes/<type>.md`.",
        "",
        "Parameters are written in YAML with the camelCase names below. Every node also accepts the",
        "common settings `enabled`, `timeout`, `retries`, `retryDelay` and `onError`.",
        "",
        "| type | description |",
        "| --- | --- |",
    ]
    for spec in all_specs:
        lines.append(f"| [`{spec.type}`](#{spec.type}) | {_cell(spec.description)} |")
    builtin = ", ".join(f"`{name}`" for name in sorted(registry.BUILTIN_TYPES))
    lines += [
        "",
        f"Handled by the compiler itself: {builtin} (sub-blueprints and users' own functions).",
        "",
    ]
    for spec in all_specs:
        lines += _spec_section(spec)
        note = notes / f"{spec.type}.md"
        if note.is_file():
            lines += ["", note.read_text(encoding="utf-8").strip()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _spec_section(spec: NodeSpec) -> list[str]:
    lines = [f"## {spec.type}", "", spec.description, ""]
    facts = [f"execution `{spec.execution}`", f"progress weight {spec.weight}"]
    if spec.aliases:
        facts.append("aliases " + ", ".join(f"`{a}`" for a in spec.aliases))
    if spec.extra:
        facts.append(f"needs `pip install atomiton[{spec.extra}]`")
    if spec.needs_context:
        facts.append("receives the node context")
    lines += ["; ".join(facts).capitalize() + ".", ""]
    for title, ports in (("Inputs", spec.inputs), ("Outputs", spec.outputs)):
        lines += [f"**{title}**", "", "| port | type | description |", "| --- | --- | --- |"]
        if not ports:
            lines.append("| — | | |")
        for index, port in enumerate(ports):
            lines.append(
                f"| `{port.name}` | `{port.type}` | {_cell(_port_text(port, index == 0))} |"
            )
        lines.append("")
    lines += [
        "**Parameters**",
        "",
        "| parameter | type | default | allowed | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in parameter_rows(spec):
        name, type_text, default, allowed, description = row
        lines.append(
            f"| `{name}` | {type_text} | {_code(default)} | {', '.join(f'`{a}`' for a in allowed)} | {_cell(description)} |"
        )
    return lines


def parameter_rows(spec: NodeSpec) -> list[tuple[str, str, str, list[str], str]]:
    """One (YAML name, type, default, allowed values, description) row per parameter."""
    rows = []
    for name, field in spec.params.model_fields.items():
        type_text, allowed = describe_type(field.annotation)
        description = field.description or ""
        code = spec.code_params.get(name)
        if code is not None:
            kind = "expression" if code.kind == "expression" else "function body"
            arguments = ", ".join(f"`{a}`" for a in code.args)
            depends = (
                " by default; depends on other parameters" if code.args_for is not None else ""
            )
            type_text = f"Python {kind}"
            description = f"{description} (Python {kind} of {arguments}{depends}.)".strip()
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = _yaml_value(field.get_default(call_default_factory=True, validated_data={}))
        elif field.default is PydanticUndefined:
            default = ""
        else:
            default = _yaml_value(field.default)
        rows.append((field.alias or name, type_text, default, allowed, description))
    return rows


def describe_type(annotation: object) -> tuple[str, list[str]]:
    """A Python annotation in the port vocabulary, and its allowed values if it is a Literal."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is Literal:
        values = [str(v) for v in arguments]
        kinds = {type(v) for v in arguments}
        return (port_type(kinds.pop(), nullable=False) if len(kinds) == 1 else "any"), values
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in arguments if a is not type(None)]
        described = [describe_type(a) for a in parts]
        names = " or ".join(dict.fromkeys(text for text, _ in described))
        allowed = [v for _, values in described for v in values]
        optional = len(parts) < len(arguments)
        return (f"{names}, optional" if optional else names), allowed
    if origin in (list, tuple, set, frozenset) or (
        origin is not None and str(origin).endswith("Sequence'>")
    ):
        item = describe_type(arguments[0])[0] if arguments else "any"
        return ("array" if item == "any" else f"array<{item}>"), []
    if origin is dict:
        return "object", []
    return port_type(annotation, nullable=False), []


def describe_node(type_name: str) -> str:
    """Plain text describing one node type, for ``atomiton nodes TYPE``.

    Args:
        type_name: a node type name or alias.

    Returns:
        The type's description, ports and parameters as aligned plain text.

    Raises:
        KeyError: no node type has that name (the message lists the known ones).
    """
    spec = registry.get(type_name)
    if spec is None:
        known = ", ".join(name for name in registry.type_names())
        raise KeyError(f"unknown node type {type_name!r}; known types: {known}")
    lines = [f"{spec.type} — {spec.description}", ""]
    if spec.aliases:
        lines += [f"aliases: {', '.join(spec.aliases)}", ""]
    for title, ports in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        lines.append(f"{title}:")
        width = max((len(p.name) for p in ports), default=0)
        for index, port in enumerate(ports):
            lines.append(
                f"  {port.name:<{width}}  {port.type:<14} {_port_text(port, index == 0)}".rstrip()
            )
        if not ports:
            lines.append("  (none)")
        lines.append("")
    lines.append("parameters:")
    rows = parameter_rows(spec)
    width = max((len(r[0]) for r in rows), default=0)
    for name, type_text, default, allowed, description in rows:
        extra = f" = {default}" if default else ""
        lines.append(f"  {name:<{width}}  {type_text}{extra}")
        if allowed:
            lines.append(f"  {'':<{width}}  one of: {', '.join(allowed)}")
        if description:
            lines.append(f"  {'':<{width}}  {description}")
    if spec.extra:
        lines += ["", f"requires: pip install atomiton[{spec.extra}]"]
    return "\n".join(lines) + "\n"


def _port_text(port: Port, primary: bool) -> str:
    flags = [
        flag
        for flag, on in (
            ("primary", primary),
            ("required", port.required),
            ("multiple", port.multiple),
        )
        if on
    ]
    prefix = f"({', '.join(flags)}) " if flags else ""
    return f"{prefix}{port.description}".strip()


def _yaml_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)


def _code(text: str) -> str:
    return f"`{text}`" if text and text != "required" else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    """Print the catalogue page (``python -m atomiton.nodes.catalogue > docs/nodes.md``)."""
    sys.stdout.write(render_catalogue())


if __name__ == "__main__":
    main()
