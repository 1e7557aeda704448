"""File-system confinement of a run: the folders its file nodes and programs may touch.

A run started with ``allow_paths`` (``atomiton run --allow-path DIR``) resolves them once into a
frozen set of roots that every node context carries. The file nodes (file-system, spreadsheet,
image) call ``check_path`` before they read or write a path, and shell-command before it starts
a program in a working directory. Symbolic links and ``..`` are resolved first, so neither can
lead out of the roots. Without ``allow_paths`` the roots are None and nothing is checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TypeAlias

#: What ``run(..., allow_paths=...)`` accepts: folders, as text or path objects, or None.
AllowPaths: TypeAlias = Iterable[str | os.PathLike[str]] | None

#: The resolved folders a confined run may touch; None means not confined.
Roots: TypeAlias = frozenset[Path] | None


class ConfinementError(PermissionError):
    """A node tried to touch a path outside the folders the run was allowed.

    Attributes:
        path: the path as the node was given it.
        resolved: where it leads once ``..`` and symbolic links are resolved.
        roots: the folders that are allowed.
    """

    def __init__(
        self, path: str, resolved: Path, roots: frozenset[Path], action: str = "read"
    ) -> None:
        self.path = path
        self.resolved = resolved
        self.roots = roots
        self.action = action
        allowed = ", ".join(repr(str(root)) for root in sorted(roots))
        leads = "" if str(resolved) == path else f" (it leads to {str(resolved)!r})"
        super().__init__(
            f"may not {action} {path!r}{leads}: the run may only touch files under {allowed} "
            "(allow more folders with --allow-path or run(allow_paths=...))"
        )

    def __reduce__(self) -> tuple[type[ConfinementError], tuple[object, ...]]:
        # Raised in a worker process (the image node), it must cross back to the run intact.
        return (type(self), (self.path, self.resolved, self.roots, self.action))


def resolve_roots(paths: AllowPaths) -> Roots:
    """Resolve the allowed folders once, at the start of a run.

    Args:
        paths: the folders, relative to the current directory or absolute; None: no confinement.

    Returns:
        The folders with symbolic links and ``..`` resolved, or None.

    Raises:
        ValueError: a folder does not exist or is a file (a typo must not confine a run to
            nothing, or to something else than meant, without saying so).
    """
    if paths is None:
        return None
    if isinstance(paths, (str, os.PathLike)):
        # A single folder given where a list belongs: the characters of a string are not roots.
        paths = [paths]
    roots: set[Path] = set()
    for raw in paths:
        root = Path(raw).resolve()
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            raise ValueError(f"allowed path {os.fspath(raw)!r} {what}")
        roots.add(root)
    return frozenset(roots)


def check_path(
    path: str | os.PathLike[str], roots: Roots, *, write: bool = False, action: str = ""
) -> Path:
    """Refuse ``path`` unless it lies inside one of ``roots``; return it as a ``Path``.

    The path is resolved as the operating system would follow it: symbolic links (also one at
    the end, and in folders that exist) and ``..`` after them. A part that does not exist yet
    (a file about to be written) cannot be a link, so resolving stops there.

    Args:
        path: the path a node was given.
        roots: the run's allowed folders (``resolve_roots``); None allows everything.
        write: whether the node is about to write (only the message differs).
        action: what the node was about to do, for the message (default: read or write to).

    Returns:
        ``path`` as a ``Path``, unchanged (not resolved), so messages show what the user wrote.

    Raises:
        ConfinementError: the path leads outside every root.
    """
    given = Path(path)
    if roots is None:
        return given
    resolved = given.resolve()
    if not _inside(resolved, roots):
        action = action or ("write to" if write else "read")
        raise ConfinementError(os.fspath(path), resolved, roots, action=action)
    return given


def is_allowed(path: str | os.PathLike[str], roots: Roots) -> bool:
    """Whether ``path``, resolved like ``check_path`` does, lies inside ``roots`` (None: yes)."""
    return roots is None or _inside(Path(path).resolve(), roots)


def _inside(resolved: Path, roots: frozenset[Path]) -> bool:
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)
