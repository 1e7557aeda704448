"""Which dialect a file is written in: Atomiton's editor format or the native blueprint format.

Only forms that native blueprints never use count as evidence, so that a native file is never
read with the dialect's looser rules; ``dialect: atomiton|native`` at the top decides outright.
How the dialect is read is left to ``atomiton.py``.
"""

from __future__ import annotations

from typing import Any, Final, Literal

Dialect = Literal["atomiton", "native"]
DIALECTS: Final = ("atomiton", "native")

# The kinds Atomiton writes in a port's ``type`` (its data type goes in ``dataType``).
PORT_KINDS: Final = frozenset({"input", "output", "trigger", "error"})

# Node type names of Atomiton's older files, with the native type each one is.
OLDER_TYPES: Final = {
    "csvReader": "spreadsheet",
    "csv-reader": "spreadsheet",
    "fileSystem": "file-system",
    "imageComposite": "image",
    "image-composite": "image",
    "editFields": "edit-fields",
    "httpRequest": "http-request",
    "shellCommand": "shell-command",
}


def detect(data: dict[str, Any]) -> Dialect:
    """The dialect of a file's top-level mapping (the ``dialect`` key aside)."""
    if isinstance(data.get("flow"), dict):
        return "atomiton"
    if data.get("type") == "composite":
        return "atomiton"
    for node in _nodes(data):
        if node.get("type") in OLDER_TYPES:
            return "atomiton"
        for key in ("inputPorts", "outputPorts"):
            ports = node.get(key)
            if isinstance(ports, list) and any(
                isinstance(p, dict) and p.get("type") in PORT_KINDS for p in ports
            ):
                return "atomiton"
    if data.get("type") == "group" and any(
        isinstance(n.get("position"), dict) for n in _nodes(data)
    ):
        return "atomiton"  # the editor's saved group, even without port lists
    edges = data.get("edges")
    if isinstance(edges, list) and any(
        isinstance(e, dict) and isinstance(e.get("source"), dict) for e in edges
    ):
        return "atomiton"
    return "native"


def _nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = data.get("nodes")
    if isinstance(nodes, dict):
        nodes = list(nodes.values())
    if not isinstance(nodes, list):
        return []
    return [n for n in nodes if isinstance(n, dict)]
