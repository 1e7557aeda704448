"""Functions of any name, made on demand (PEP 562), for test blueprints whose ``python`` nodes
only need a function reference that resolves. The compiler cannot list the names of a module
with ``__getattr__``, so it accepts every ``pkg.mod:<name>``, as it would a real module of that
kind; tests of the lookup itself use modules they write."""

from __future__ import annotations

from collections.abc import Callable


def __getattr__(name: str) -> Callable[..., object]:
    if name.startswith("__"):
        raise AttributeError(name)

    def function(*args: object, **kwargs: object) -> object:
        return args[0] if args else None

    function.__name__ = name
    return function
