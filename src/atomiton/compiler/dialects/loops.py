"""Editor-style loops: the nodes downstream of a loop's ``item`` output become its body.

In Atomiton's editor a loop is drawn as a node whose ``item`` output feeds a chain of nodes; its
engine never ran that chain per item, but the authors meant it to. The fold works the body out
at compile time and hands it to the native loop as an inline ``body: {nodes, edges}``; a
``parallel`` node in the chain sets how many items run at once, and a file-system ``write`` of
images into a folder makes the image nodes write each result there under the item's name.
Everything else about edges is ``edges.py``'s.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from ... import codes
from .graph import Flow, FlowEdge, FlowNode, Fold, Param

# The loop output that Atomiton's editor draws the body from, and the ones that feed the body.
_ITEM_HANDLES: Final = frozenset({"item"})
_BODY_INPUT: Final = "input"
_EXTENSIONS: Final = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}


def fold_loops(flow: Flow, fold: Fold) -> None:
    for loop in [n for n in flow.nodes if n.type == "loop"]:
        item_edges = [
            e for e in flow.edges if e.source == loop.id and e.source_handle in _ITEM_HANDLES
        ]
        if not item_edges or "body" in loop.params:
            continue
        _extract_body(flow, loop, item_edges, fold)


def _extract_body(flow: Flow, loop: FlowNode, item_edges: list[FlowEdge], fold: Fold) -> None:
    members: list[str] = []
    queue = deque(e.target for e in item_edges)
    while queue:
        node_id = queue.popleft()
        if node_id in members or node_id == loop.id or flow.node(node_id) is None:
            continue
        members.append(node_id)
        queue.extend(e.target for e in flow.edges if e.source == node_id)
    inside = set(members)
    for edge in flow.edges:
        if edge.target in inside and edge.source not in inside and edge not in item_edges:
            fold.error(
                codes.LOOP_BODY_FED_FROM_OUTSIDE,
                edge.loc,
                loop=loop.id,
                node=edge.target,
                source=edge.source,
                hint="feed the loop's own input instead, or read a flow input with {{ inputs.name }}",
            )
            return
        if edge.source in inside and edge.target == loop.id:
            fold.error(
                codes.LOOP_BODY_FED_FROM_OUTSIDE,
                edge.loc,
                loop=loop.id,
                node=edge.source,
                source=edge.source,
                hint="a body cannot feed its own loop",
            )
            return
    body = Flow()
    body.nodes = [n for n in flow.nodes if n.id in inside]
    flow.nodes = [n for n in flow.nodes if n.id not in inside]
    for edge in item_edges:
        edge.source, edge.source_handle = _BODY_INPUT, None
    body.edges = [e for e in flow.edges if e.target in inside]
    flow.edges = [e for e in flow.edges if e.target not in inside]
    loop.body = body
    fold.warn(
        codes.LOOP_BODY_INFERRED,
        item_edges[0].loc,
        loop=loop.id,
        nodes=", ".join(repr(m) for m in members),
    )
    _fold_parallel(body, loop, fold)
    _images_into_folder(body, fold)


def _fold_parallel(body: Flow, loop: FlowNode, fold: Fold) -> None:
    """A ``parallel`` node in the chain passes items through; its concurrency is the loop's."""
    for node in [n for n in body.nodes if n.type == "parallel" and "branches" not in n.params]:
        incoming = [e for e in body.edges if e.target == node.id]
        outgoing = [e for e in body.edges if e.source == node.id]
        if len(incoming) != 1:
            continue
        feed = incoming[0]
        for edge in outgoing:
            edge.source, edge.source_handle = feed.source, feed.source_handle
        body.edges.remove(feed)
        body.nodes.remove(node)
        concurrency = node.params.get("concurrency")
        count = concurrency.value if concurrency is not None else 5
        if isinstance(count, int) and not isinstance(count, bool) and count >= 1:
            loop.params["concurrency"] = Param(count, concurrency.loc if concurrency else None)
        fold.warn(codes.PARALLEL_IN_LOOP_BODY, node.loc, node=node.id, loop=loop.id, count=count)


def _images_into_folder(body: Flow, fold: Fold) -> None:
    """A file-system ``write`` of an image node's result into a folder: each image is written
    into that folder under the item's name, by the image nodes themselves."""
    images = [n for n in body.nodes if n.type == "image"]
    if not images:
        return
    image_ids = {n.id for n in images}
    for node in list(body.nodes):
        operation = node.params.get("operation")
        if node.type != "file-system" or operation is None or operation.value != "write":
            continue
        feeds = [e for e in body.edges if e.target == node.id and e.source in image_ids]
        folder = node.params.get("path")
        if not feeds or folder is None or not isinstance(folder.value, str):
            continue
        last = images[-1]
        _carry_encoding(images)
        fmt = last.params.get("format")
        suffix = _EXTENSIONS.get(str(fmt.value)) if fmt is not None else None
        # Without a format each image keeps its kind where the image node can write it.
        text = folder.value.strip()
        if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
            where = text[2:-2].strip()  # a variable bound by parameters.py: inputs.<name>
        else:
            where = repr(folder.value)
        node.type = "code"
        node.params = {"code": Param(_naming_code(where, suffix), None)}
        for edge in feeds:
            body.edges.remove(edge)
        body.edges.append(FlowEdge(_BODY_INPUT, None, node.id, None, node.loc))
        for image in images:
            body.edges.append(FlowEdge(node.id, None, image.id, "output", node.loc))
        fold.warn(codes.IMAGES_INTO_FOLDER, node.loc, node=node.id, folder=folder.value)


def _naming_code(folder: str, suffix: str | None) -> str:
    """Python code naming the output file of item ``data`` in ``folder`` (an expression)."""
    if suffix is not None:
        name = f"item.stem + {suffix!r}"
    else:
        # No format given: each image keeps its kind where the image node can write it.
        kinds = tuple(sorted({*_EXTENSIONS.values(), ".jpeg"}))
        name = f"item.stem + (item.suffix if item.suffix.lower() in {kinds!r} else '.png')"
    return f"from pathlib import Path\n\nitem = Path(data)\nreturn str(Path({folder}) / ({name}))"


def _carry_encoding(images: list[FlowNode]) -> None:
    """Format and quality set on an earlier image node hold for the later ones too (Atomiton
    passed the encoded image along; here each node writes its own file)."""
    for key in ("format", "quality"):
        value: Param | None = None
        for image in images:
            if key in image.params:
                value = image.params[key]
            elif value is not None:
                image.params[key] = Param(value.value, value.loc)
