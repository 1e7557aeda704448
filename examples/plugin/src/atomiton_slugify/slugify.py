"""The ``slugify`` node: turn a title into a URL slug (``"Crème brûlée!"`` -> ``creme-brulee``).

One file is the whole node: its parameters (``Params``), its function (``run``, whose keywords
are the input ports and whose return value is the output) and ``SPEC``, which atomiton derives
from ``run``. The package's ``pyproject.toml`` declares it under the ``atomiton.nodes`` entry
points, which is how ``atomiton nodes`` and the compiler find it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Final

from pydantic import Field

from atomiton.nodes.spec import NodeParams, Port, node_spec

_NOT_WORD = re.compile(r"[^a-z0-9]+", re.IGNORECASE)


class SlugifyError(ValueError):
    """The text has no letter or digit to make a slug of."""


class Params(NodeParams):
    """Parameters of the ``slugify`` node."""

    separator: str = Field(
        default="-", min_length=1, max_length=3, description="Put between the words."
    )
    lowercase: bool = Field(default=True, description="False keeps the letters' case.")
    max_length: int | None = Field(
        default=None,
        ge=1,
        description="Cut the slug to at most this many characters, at a word boundary when "
        "there is one.",
    )


def run(
    params: Params,
    *,
    text: Annotated[str, Port(description="The title to turn into a slug.")],
) -> str:
    """Make ``text`` a slug: accents dropped, words of letters and digits joined by ``separator``.

    Args:
        params: the node's parameters.
        text: the title.

    Returns:
        The slug, e.g. ``creme-brulee-2-ways``.

    Raises:
        SlugifyError: the text holds no letter or digit (a slug would be empty).
    """
    # NFKD splits "é" into "e" and a combining accent, which the ASCII encoding then drops.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = [word for word in _NOT_WORD.split(ascii_text) if word]
    if not words:
        raise SlugifyError(f"no letter or digit to make a slug of in {text!r}")
    slug = params.separator.join(word.lower() if params.lowercase else word for word in words)
    if params.max_length is not None and len(slug) > params.max_length:
        cut = slug[: params.max_length + 1]
        boundary = cut.rfind(params.separator)
        slug = cut[:boundary] if boundary > 0 else slug[: params.max_length]
    return slug


SPEC: Final = node_spec(
    run,
    description="Turn a title into a URL slug: accents dropped, words joined by a separator.",
    output=Port(description="The slug."),
)
