"""Each node's cache policy as the compiler resolves it (``NodeInfo.cache``): from the node's
``cache:`` setting, its type's declared purity (``NodeSpec.purity``, a function of its
parameters) and ``pure: true``. The rules are in docs/caching.md; keys, lookups and storage are
the runtime's (``runtime/cache.py``) and the store's.

``auto`` caches ``pure`` nodes (``on``) and ``reads`` nodes (``files``: the files their text
inputs name are fingerprinted), never ``effect`` ones, python nodes unless ``pure: true``, or
containers (a loop's or parallel node's body nodes are cached one by one instead). ``always``
caches the node whatever it does; ``never`` never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from ..runtime.model import CacheUse
from .ir import Node


def cache_use(node: Node) -> CacheUse:
    """Whether, and how, a run that uses the cache may reuse ``node``'s values."""
    settings = node.settings
    if settings.cache == "never":
        return "off"
    spec = node.spec
    purity = "effect" if spec is None else spec.purity_of(_known(node.params))
    if settings.pure and purity == "effect":
        purity = "pure"
    if settings.cache == "always":
        return "files" if purity == "reads" else "on"
    if node.bodies or (spec is not None and spec.subflows):
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
