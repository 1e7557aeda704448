"""The web page, as one HTML document: the bundled CSS and JavaScript inlined, data optional.

The same document serves the live view (no data: the script connects to ``/rpc``) and a saved
report of a finished run (the ``ViewModel`` embedded: no network needed to open it). The page's
files ship as package data in ``static/``; nothing comes from a CDN.
"""

from __future__ import annotations

import html
import re
from importlib.resources import files

from .protocol import ViewModel

_PLACEHOLDER = re.compile(r"\{\{(TITLE|CSS|DATA|JS)\}\}")


def _asset(name: str) -> str:
    return files("atomiton.serve").joinpath("static", name).read_text(encoding="utf-8")


def render_page(view: ViewModel | None) -> str:
    """The page; with ``view`` it shows that run and opens no connection."""
    data = "null" if view is None else view.model_dump_json()
    # Inside <script>, "</" could end the element early; JSON allows writing it as "<\/".
    data = data.replace("</", "<\\/")
    title = html.escape(view.title if view is not None and view.title else "atomiton")
    parts = {"TITLE": title, "CSS": _asset("view.css"), "DATA": data, "JS": _asset("view.js")}
    # One pass: text put in (a blueprint's title, say) is never read as a placeholder again.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], _asset("view.html"))
