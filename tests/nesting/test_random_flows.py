"""Property: a randomly nested random DAG, compiled and run, gives what a direct interpreter gives.

Each flow is a DAG of nodes that add their inputs and a constant (``code`` nodes, with a
``python`` node in front when several edges meet), and of sub-blueprints that are themselves
such flows, included by path, by id from the store, or inline. The reference interpreter below
evaluates the nested structure as written, recursively; the compiled module runs the inlined
graph. Their outputs must agree.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomiton.compiler import CompileOptions, compile_blueprint, load_module

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # random_flow_funcs, the python nodes' module

Ref = tuple[str, str]  # ("input", name) or (item id, port)


@dataclass
class Leaf:
    id: str
    sources: list[Ref]
    constant: int


@dataclass
class Sub:
    id: str
    flow: Flow
    # interface input -> an edge from a ref, a constant parameter, or nothing (the default)
    feeds: dict[str, Ref | int | None]
    mode: Literal["path", "id", "inline"]


@dataclass
class Flow:
    inputs: dict[str, int | None]  # name -> default (None: required)
    items: list[Leaf | Sub] = field(default_factory=list)
    outputs: dict[str, Ref] = field(default_factory=dict)


# -- generating ---------------------------------------------------------------------------------


def draw_flow(data: st.DataObject, depth: int, *, top: bool = False) -> Flow:
    n_inputs = data.draw(st.integers(1 if top else 0, 2))
    inputs: dict[str, int | None] = {}
    for i in range(n_inputs):
        required = not top and data.draw(st.booleans())
        inputs[f"i{i}"] = None if required else data.draw(st.integers(-5, 5))
    flow = Flow(inputs)
    refs: list[Ref] = [("input", name) for name in inputs]
    for index in range(data.draw(st.integers(1 if top or not inputs else 0, 4))):
        if depth > 0 and data.draw(st.integers(0, 3)) == 0:
            child = draw_flow(data, depth - 1)
            feeds: dict[str, Ref | int | None] = {}
            for name, default in child.inputs.items():
                choice = data.draw(
                    st.sampled_from(
                        ["edge", "param", "default"] if default is not None else ["edge", "param"]
                    )
                )
                if choice == "edge" and refs:
                    feeds[name] = data.draw(st.sampled_from(refs))
                elif choice in ("param", "edge"):
                    feeds[name] = data.draw(st.integers(-9, 9))
                else:
                    feeds[name] = None
            item_id = f"s{index}"
            mode = data.draw(st.sampled_from(["path", "id", "inline"]))
            flow.items.append(Sub(item_id, child, feeds, mode))
            refs.extend((item_id, out) for out in child.outputs)
        else:
            item_id = f"v{index}"
            sources = (
                data.draw(st.lists(st.sampled_from(refs), unique=True, max_size=3)) if refs else []
            )
            flow.items.append(Leaf(item_id, sources, data.draw(st.integers(-9, 9))))
            refs.append((item_id, "result"))
    for o in range(data.draw(st.integers(1, 2))):
        flow.outputs[f"o{o}"] = data.draw(st.sampled_from(refs))
    return flow


# -- the reference interpreter ------------------------------------------------------------------


def evaluate(flow: Flow, inputs: dict[str, float]) -> dict[str, float]:
    values: dict[Ref, float] = {("input", name): value for name, value in inputs.items()}
    for item in flow.items:
        if isinstance(item, Leaf):
            values[(item.id, "result")] = sum(values[s] for s in item.sources) + item.constant
            continue
        child_inputs: dict[str, float] = {}
        for name, default in item.flow.inputs.items():
            feed = item.feeds.get(name)
            if isinstance(feed, tuple):
                child_inputs[name] = values[feed]
            elif isinstance(feed, int):
                child_inputs[name] = feed
            else:
                assert default is not None
                child_inputs[name] = default
        for name, value in evaluate(item.flow, child_inputs).items():
            values[(item.id, name)] = value
    return {name: values[ref] for name, ref in flow.outputs.items()}


# -- writing YAML (as JSON, which YAML reads) ---------------------------------------------------


class Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.counter = count()

    def document(self, flow: Flow, blueprint_id: str, folder: Path) -> dict[str, object]:
        """The blueprint of ``flow``; sub-blueprint files go beside it (``folder``) or to the store."""
        nodes: list[dict[str, object]] = []
        edges: list[dict[str, object]] = []

        def source(ref: Ref) -> dict[str, object]:
            if ref[0] == "input":
                return {"source": "input", "sourceHandle": ref[1]}
            return {"source": ref[0], "sourceHandle": ref[1]}

        for item in flow.items:
            if isinstance(item, Leaf):
                code = {"code": f"return {'data + ' if item.sources else ''}{item.constant}"}
                nodes.append({"id": item.id, "type": "code", "parameters": code})
                if len(item.sources) == 1:
                    edges.append({**source(item.sources[0]), "target": item.id})
                elif item.sources:
                    gather = f"{item.id}-in"
                    nodes.append(
                        {
                            "id": gather,
                            "type": "python",
                            "function": "random_flow_funcs:total",
                            "inputPorts": [
                                {"id": "values", "dataType": "number", "multiple": True}
                            ],
                            "outputPorts": [{"id": "total", "dataType": "number"}],
                        }
                    )
                    edges.extend(
                        {**source(s), "target": gather, "targetHandle": "values"}
                        for s in item.sources
                    )
                    edges.append({"source": gather, "target": item.id})
                continue
            params: dict[str, object] = {n: v for n, v in item.feeds.items() if isinstance(v, int)}
            node: dict[str, object] = {"id": item.id, "type": "blueprint"}
            number = next(self.counter)
            if item.mode == "inline":
                inline = self.document(item.flow, f"inline-{number}", folder)
                node.update(
                    interface=inline["interface"], nodes=inline["nodes"], edges=inline["edges"]
                )
            elif item.mode == "path":
                name = f"sub{number}.yaml"
                self.write(folder / name, item.flow, f"sub-{number}")
                params["path"] = name
            else:
                # File name and id differ: the store is searched by the declared id.
                self.write(
                    self.folder / "store" / f"file{number}.yaml", item.flow, f"stored-{number}"
                )
                params["id"] = f"stored-{number}"
            if params:
                node["parameters"] = params
            nodes.append(node)
            for name, feed in item.feeds.items():
                if isinstance(feed, tuple):
                    edges.append({**source(feed), "target": item.id, "targetHandle": name})
        for name, ref in flow.outputs.items():
            edges.append({**source(ref), "target": "output", "targetHandle": name})
        interface = {
            "inputs": [
                {"id": n, "dataType": "number", **({"default": d} if d is not None else {})}
                for n, d in flow.inputs.items()
            ],
            "outputs": [{"id": n, "dataType": "number"} for n in flow.outputs],
        }
        return {"id": blueprint_id, "interface": interface, "nodes": nodes, "edges": edges}

    def write(self, path: Path, flow: Flow, blueprint_id: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.document(flow, blueprint_id, path.parent), indent=1))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_compiled_module_agrees_with_the_reference_interpreter(data: st.DataObject) -> None:
    flow = draw_flow(data, depth=3, top=True)
    given_inputs = {
        name: data.draw(st.integers(-20, 20)) for name in flow.inputs if data.draw(st.booleans())
    }
    defaults = {name: default for name, default in flow.inputs.items() if default is not None}
    expected = evaluate(flow, {**defaults, **given_inputs})
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        Writer(root).write(root / "main.yaml", flow, "main")
        options = CompileOptions(root=root, search_path=(), store=root / "store")
        compiled = compile_blueprint(root / "main.yaml", options=options)
    module = load_module(compiled)
    outputs = module.run(module.Inputs(**given_inputs))
    assert outputs.model_dump() == expected
