"""Each node's cache policy as the compiler resolves it (``NodeInfo.cache``): from the node's
``cache:`` setting, its type's declared purity (``NodeSpec.purity``, a function of its
parameters) and ``pure: true``. The rules are in docs/caching.md; keys, lookups and storage are
the runtime's (``runtime/cache.py``) and the store's.

``auto`` caches ``pure`` nodes (``on``) and ``reads`` nodes (``files``: the files their text
inputs name are fingerprinted), never ``effect`` ones, python nodes unless ``pure: true``, or
containers (a loop's or parallel node's body nodes are cached one by one instead). ``always``
caches the node whatever it does; ``never`` never does. A ``stream`` node's value is a one-pass
iterator: it is never cached, nor is a node that reads it (no stable hash); where the blueprint
asks for caching (``settings.cache: auto``, ``cache: always``) ``check`` warns W0260.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from .. import codes
from ..diagnostics import Diagnostic, DiagnosticSink
from ..runtime.model import CacheUse
from .ir import FromNode, Graph, Node


def cache_use(node: Node, streams: frozenset[str] = frozenset()) -> CacheUse:
    """Whether, and how, a run that uses the cache may reuse ``node``'s values; ``streams``:
    the ids of the nodes whose values are streams (``stream_nodes``)."""
    settings = node.settings
    purity = _purity(node)
    # Most flows stream nothing: then what the node reads need not be walked.
    if settings.cache == "never" or purity == "stream" or (streams and references(node) & streams):
        return "off"
    if settings.cache == "always":
        return "files" if purity == "reads" else "on"
    if node.bodies or (node.spec is not None and node.spec.subflows):
        return "off"
    return {"pure": "on", "reads": "files"}.get(purity, "off")  # type: ignore[return-value]


# Stands for a parameter known only at run time (a template, an edge): equal to nothing, so a
# purity declaration that reads it answers ``effect``.
_UNKNOWN: Final = object()


def _known(params: Mapping[str, object]) -> dict[str, object]:
    """The parameters as far as they are known at compile time."""
    return {
        name: (value if isinstance(value, (str, int, float, bool)) or value is None else _UNKNOWN)
        for name, value in params.items()
    }


def _purity(node: Node) -> str:
    purity = "effect" if node.spec is None else node.spec.purity_of(_known(node.params))
    return "pure" if node.settings.pure and purity == "effect" else purity


def all_nodes(nodes: Iterable[Node]) -> Iterator[Node]:
    """``nodes`` and the nodes of their loop and parallel bodies, depth first."""
    for node in nodes:
        yield node
        for body in node.bodies:
            yield from all_nodes(body.nodes)


def stream_nodes(nodes: Iterable[Node]) -> frozenset[str]:
    """The ids of the nodes whose values are one-pass streams (``stream`` purity)."""
    return frozenset(node.id for node in all_nodes(nodes) if _purity(node) == "stream")


def references(node: Node) -> set[str]:
    """The ids of the nodes whose values ``node`` reads (ports, templates, code)."""
    found: set[str] = set()
    pending: list[object] = [node.inputs, node.params, node.code]
    while pending:
        item = pending.pop()
        if isinstance(item, FromNode):
            found.add(item.node)
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            pending.extend(
                getattr(item, f.name) for f in dataclasses.fields(item) if f.name != "tree"
            )
    return found


def check(graph: Graph) -> tuple[Diagnostic, ...]:
    """W0260 for each node the blueprint asks to cache that reads a stream (it cannot be)."""
    sink = DiagnosticSink()
    streams = stream_nodes(graph.nodes)
    if not streams:
        return ()
    for node in all_nodes(graph.nodes):
        wanted = node.settings.cache == "always" or (graph.cache and node.settings.cache == "auto")
        read = sorted(references(node) & streams)
        if wanted and read and cache_use(node) != "off":
            sink.warning(
                codes.UNCACHEABLE_INPUT,
                node.span,
                hint="streamed values are read once; set stream: false on the source to cache "
                "this node, or cache: never here to silence this",
                node=node.id,
                source=read[0],
            )
    return tuple(sink.items)
