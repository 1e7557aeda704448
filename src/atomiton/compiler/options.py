"""``CompileOptions``: every knob of a compilation in one frozen value (like black's ``Mode``).

The options are a pure value: their defaults read neither the environment nor the home folder, so
the same options compile the same bytes anywhere. The command line fills in ``$ATOMITON_PATH``
and the blueprint store (``cli/params.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a compilation reads, so that a hostile blueprint ends as a diagnostic
    (in well under two seconds and 200 MB) instead of exhausting time, memory or the stack.

    Every limit has its own diagnostic code whose hint names the limit and its value; raise one
    with ``CompileOptions(limits=Limits(max_nodes=50_000))``. docs/diagnostics.md lists them.

    Attributes:
        max_file_bytes: size of one blueprint file (E0005). Checked before the file is read.
        max_depth: mappings and lists nested in one file, the top level being 1 (E0008).
            Values copied by an alias count where they land. Keep it below a few hundred:
            later stages walk values recursively.
        max_alias_values: values that aliases (``*name``) and merge keys (``<<``) copy in one
            file, summed over every use (E0006); the "billion laughs" file needs a billion.
        max_values: values (scalars, lists and mappings; keys not counted) in one file,
            those aliases copy included (E0014): what bounds the time and memory reading a
            file takes, whatever its layout. A flat flow of 10,000 nodes has about 80,000.
        max_nodes: nodes of a blueprint with all its sub-blueprints inlined, each inclusion
            counted (E0012); a file included ten times counts ten times.
        max_include_depth: sub-blueprints within sub-blueprints, inline groups included
            (E0013).
    """

    max_file_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_alias_values: int = 100_000
    max_values: int = 200_000
    max_nodes: int = 20_000
    max_include_depth: int = 32


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """How to compile.

    Attributes:
        root: paths recorded in generated modules are relative to this folder (default: the
            current directory), so builds are reproducible across machines.
        search_path: folders searched for sub-blueprints after the including file's folder.
        store: the blueprint store searched first for references by ``id`` (then the search
            path); None searches the search path only.
        check_edge_types: check every edge's types in the compiler. Only tests switch it off, to
            prove that mypy on the generated code catches the same mistakes.
        format: also run black over the whole generated module. The emitter already writes
            black's layout (the golden tests check that black changes nothing), so this only
            costs time; it exists to check the layout on a blueprint of your own.
        limits: bounds on file size, nesting, aliases and the include tree (``Limits``).
    """

    root: Path | None = None
    search_path: tuple[Path, ...] = ()
    store: Path | None = None
    check_edge_types: bool = True
    format: bool = False
    limits: Limits = Limits()
