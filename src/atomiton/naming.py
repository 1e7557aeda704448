"""Case conversion: the one place that turns a name from one spelling into another.

Python spells names in snake_case, Atomiton's YAML in camelCase (``targetPath``), node types
and command-line settings in kebab-case (``http-request``, ``line-length``), generated classes
in PascalCase. The node library (at import time, for its models' aliases and its port names)
and the compiler both convert through these functions, so this module is standard library only:
the runtime-only distribution ships it with the package root. Turning a blueprint's ids into
safe, unique Python identifiers for generated code is ``compiler.naming``'s job, built on these.
"""

from __future__ import annotations

import re

# A lower-case letter or digit followed by an upper-case one: where camelCase starts a word.
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Already camelCase: nothing to convert (a digit followed by a lower-case letter aside,
# which reads as a word start written in lower case: ``http2_client``).
_ALREADY_CAMEL = re.compile(r"[a-z]+[A-Za-z0-9]*\Z")
_DIGIT_THEN_LOWER = re.compile(r"\d[a-z]")
# The underscore between two words once each word is capitalised.
_WORD_UNDERSCORE = re.compile(r"([0-9A-Za-z])_(?=[0-9A-Z])")
_LEADING_CAPITAL = re.compile(r"^_*[A-Z]")


def snake_case(name: str) -> str:
    """``targetPath`` -> ``target_path``, ``read-file`` -> ``read_file``; already snake_case
    names pass through."""
    return _CAMEL_BOUNDARY.sub("_", name).replace("-", "_").lower()


def camel_case(name: str) -> str:
    """``target_path`` -> ``targetPath``: Atomiton's spelling of a Python name.

    The same conversion as pydantic's ``to_camel`` (the node library's models were aliased with
    it before this module existed, so YAML keys keep their spelling): a name already in
    camelCase is kept, leading underscores are kept, and a word after a digit is capitalised
    (``http2_client`` -> ``http2Client``).
    """
    if _ALREADY_CAMEL.match(name) and not _DIGIT_THEN_LOWER.search(name):
        return name
    pascal = _WORD_UNDERSCORE.sub(r"\1", name.title())
    return _LEADING_CAPITAL.sub(lambda found: found.group().lower(), pascal)


def pascal_case(name: str) -> str:
    """``read_orders`` -> ``ReadOrders``: each underscore-separated word capitalised, the
    underscores (leading and trailing ones too) dropped."""
    return "".join(part.title() for part in name.strip("_").split("_"))


def kebab_case(name: str) -> str:
    """``http_request`` -> ``http-request``: a node type's name from its module's name, a
    setting's key from its Python spelling."""
    return name.replace("_", "-")
