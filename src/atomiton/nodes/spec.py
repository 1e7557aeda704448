"""What a node type declares: its ports, its parameter model and how it runs.

Every module in ``atomiton.nodes`` defines one ``SPEC: Final = NodeSpec(...)``, a pydantic
``Params`` model (subclass of ``NodeParams``) and a ``run`` function. The compiler reads the spec
to check a blueprint; the generated module calls ``run`` directly. Nothing here imports the
compiler or a third-party library other than pydantic.

Calling convention of ``run`` (what generated code relies on):
  * ``run(params: Params, *, <input ports as snake_case keywords>, [context=...]) -> result``
  * an input port whose name is also a parameter (``path``, ``url``) defaults to ``None``,
    meaning "use the parameter";
  * a node with one output port returns that value itself; a node with several returns an
    ``Output`` frozen dataclass whose fields are the snake_case port names, primary first;
  * a node with ``needs_context=True`` takes ``context: NodeContext`` (cancellation, progress,
    logging, running sub-work) as a keyword argument;
  * each parameter named in ``code_params`` holds Python source in YAML; the compiler turns it
    into a real function of the generated module and passes it as the keyword ``CodeParam.kwarg``.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Execution = Literal["inline", "thread", "process"]

# The keys Atomiton puts beside a node's own parameters; the compiler reads them as node settings
# (NODES.md section 2), so parameter models never declare them.
COMMON_SETTINGS: frozenset[str] = frozenset(
    {"enabled", "timeout", "retries", "onError", "retryDelay"}
)


class NodeParams(BaseModel):
    """Base of every node's parameter model.

    Fields are snake_case in Python and camelCase in YAML (Atomiton's spelling); both are
    accepted. Unknown keys are errors, so a typo in a blueprint is caught at compile time.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
        arbitrary_types_allowed=True,
    )


@dataclass(frozen=True, slots=True)
class Port:
    """One input or output of a node type.

    ``type`` uses the port type vocabulary: string, number, integer, boolean, array, object,
    buffer, path, any, and element types such as ``array<object>``.
    """

    name: str
    type: str = "any"
    required: bool = False
    multiple: bool = False
    description: str = ""

    @property
    def attr(self) -> str:
        """The Python keyword or attribute name of this port."""
        return snake_case(self.name)


@dataclass(frozen=True, slots=True)
class CodeParam:
    """A parameter whose YAML value is Python source compiled into the generated module.

    ``kind`` is ``expression`` (an expression, or a ``lambda``) or ``body`` (statements that
    ``return``). ``args`` names the function's parameters; ``args_for`` may pick them from the
    node's validated parameters instead (transform's reduce takes ``acc, item, index``).
    """

    kwarg: str
    kind: Literal["expression", "body"] = "expression"
    args: tuple[str, ...] = ("item",)
    args_for: Callable[[Any], tuple[str, ...]] | None = None
    # The node cannot run without this code (the compiler says so when it is missing).
    required: bool = False

    def arguments(self, params: object) -> tuple[str, ...]:
        return self.args_for(params) if self.args_for is not None else self.args


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """Everything the compiler and the tooling need to know about one node type."""

    type: str
    module: str
    params: builtins.type[NodeParams]
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    description: str
    execution: Execution = "inline"
    weight: int = 100
    code_params: Mapping[str, CodeParam] = field(default_factory=dict)
    needs_context: bool = False
    # Third-party modules the node imports when it runs, and the extra that installs them.
    requires: tuple[str, ...] = ()
    extra: str | None = None
    aliases: tuple[str, ...] = ()
    # The values a node needs given its other parameters (a file-system ``read`` needs a path):
    # called with the validated parameters, returns the YAML names (ports or parameters) that
    # must be set or fed by an edge. ``needs_decided_by`` names the parameters the answer depends
    # on; when one of them is a template or fed by an edge, the compiler cannot judge.
    needs: Callable[[Any], tuple[str, ...]] | None = None
    needs_decided_by: tuple[str, ...] = ()


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(name: str) -> str:
    """``targetPath`` -> ``target_path``; already snake_case names pass through."""
    return _CAMEL_BOUNDARY.sub("_", name).replace("-", "_").lower()
