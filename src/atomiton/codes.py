"""Diagnostic codes with their message templates, in one place (mypy's ``ErrorCode`` and
message registry).

Each code is a named constant, an ``ErrorCode``: the code's text (``E0203``) with the template of
its message, which says what was found and what was expected; the fix goes in the diagnostic's
hint. Code that reports a problem names the constant (``sink.error(codes.UNKNOWN_INPUT_PORT, span,
edge=..., port=..., node=..., valid=...)``) and must pass exactly the template's fields. Codes are
grouped by stage: E00xx reading the file, E01xx its schema, E02xx the graph, E03xx templates and
embedded code, E04xx types, E05xx sub-blueprints, E06xx mypy on the output, E07xx generating the
module, E08xx project settings, E10xx Atomiton's flow files; W codes are warnings.
docs/diagnostics.md explains each with a fix (a test keeps the two in step).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NoReturn


class ErrorCode(str):
    """A diagnostic code and its message template. It is the code's text (``"E0203"``), so it
    prints, compares and serialises as that text."""

    template: str
    fields: frozenset[str]

    def __new__(cls, code: str, template: str) -> ErrorCode:
        self = super().__new__(cls, code)
        self.template = template
        self.fields = frozenset(
            name for _, name, _, _ in string.Formatter().parse(template) if name is not None
        )
        return self

    @property
    def is_warning(self) -> bool:
        return self.startswith("W")

    def message(self, **fields: object) -> str:
        """The message with ``fields`` filled in.

        Raises:
            TypeError: ``fields`` are not exactly the template's fields (a bug in the caller).
        """
        if fields.keys() != self.fields:
            raise TypeError(
                f"{self}: the message takes {sorted(self.fields)}, was given {sorted(fields)}"
            )
        return self.template.format(**fields)

    def format(self, *args: object, **kwargs: object) -> NoReturn:
        """Refused: ``str.format`` would give back the code's text, not its message."""
        raise TypeError(f"{self}: an ErrorCode's message is .message(**fields), not .format()")


# Reading the file.
INVALID_YAML: Final = ErrorCode("E0001", "invalid YAML: {problem}")
UNREADABLE_FILE: Final = ErrorCode("E0002", "cannot read blueprint {path!r}: {reason}")
DUPLICATE_KEY: Final = ErrorCode(
    "E0003", "duplicate key {key!r} in this mapping (YAML would silently keep the last one)"
)
NOT_A_MAPPING: Final = ErrorCode(
    "E0004", "a blueprint must be a mapping at the top level, found {found}"
)
FILE_TOO_LARGE: Final = ErrorCode(
    "E0005", "blueprint {path!r} is {size:,} bytes, more than the limit of {limit:,}"
)
ALIASES_TOO_LARGE: Final = ErrorCode(
    "E0006", "aliases and merge keys in this file copy more than {limit:,} values"
)
RECURSIVE_ALIAS: Final = ErrorCode(
    "E0007", "alias *{name} refers to a value that contains it (a recursive structure)"
)
NESTED_TOO_DEEP: Final = ErrorCode("E0008", "mappings and lists are nested more than {limit} deep")
UNREADABLE_VALUE: Final = ErrorCode("E0009", "{value} cannot be read as {kind}: {reason}")
FORBIDDEN_CHARACTER: Final = ErrorCode("E0010", "{what} is not allowed in a YAML file")
UNUSABLE_INCLUDE_PATH: Final = ErrorCode(
    "E0011", "sub-blueprint path of node {node!r} cannot be used: {reason}"
)
TOO_MANY_NODES: Final = ErrorCode(
    "E0012",
    "the blueprint has {count:,} nodes with its sub-blueprints inlined, more than the limit of {limit:,}",
)
INCLUDES_TOO_DEEP: Final = ErrorCode("E0013", "sub-blueprints are nested more than {limit} deep")
TOO_MANY_VALUES: Final = ErrorCode("E0014", "this file holds more than {limit:,} values")

# Schema of the file as written.
UNKNOWN_KEY: Final = ErrorCode("E0101", "unknown key {key!r} in {where}")
INVALID_VALUE: Final = ErrorCode("E0102", "{where}: {message}")
MISSING_KEY: Final = ErrorCode("E0103", "{where}: missing required key {key!r}")

# The graph.
DUPLICATE_NODE_ID: Final = ErrorCode("E0201", "duplicate node id {id!r} (first defined at {first})")
UNKNOWN_NODE_TYPE: Final = ErrorCode("E0202", "unknown node type {type!r} for node {node!r}")
UNKNOWN_INPUT_PORT: Final = ErrorCode(
    "E0203", "edge {edge} targets unknown port {port!r} of node {node!r}; its inputs are {valid}"
)
UNKNOWN_OUTPUT_PORT: Final = ErrorCode(
    "E0204", "edge {edge} reads unknown port {port!r} of node {node!r}; its outputs are {valid}"
)
UNKNOWN_EDGE_NODE: Final = ErrorCode("E0205", "edge {edge} refers to unknown node {node!r}")
TOO_MANY_EDGES: Final = ErrorCode(
    "E0206", "input {port!r} of node {node!r} has {count} incoming edges but takes one"
)
CYCLE: Final = ErrorCode("E0207", "the graph has a cycle: {chain}")
MISSING_INPUT: Final = ErrorCode(
    "E0208", "node {node!r} ({type}): required input {port!r} has neither an edge nor a parameter"
)
INVALID_PARAMETER: Final = ErrorCode(
    "E0209", "node {node!r} ({type}): parameter {param!r}: {message}"
)
UNKNOWN_PARAMETER: Final = ErrorCode("E0210", "node {node!r} ({type}): unknown parameter {param!r}")
INVALID_ID: Final = ErrorCode(
    "E0211", "{what} {id!r} is not a valid id: use letters, digits, '-' and '_'"
)
UNKNOWN_INTERFACE_PORT: Final = ErrorCode(
    "E0212",
    "edge {edge} refers to interface {direction} {name!r}, which the blueprint does not declare",
)
OUTPUT_DEFINED_TWICE: Final = ErrorCode(
    "E0213", "interface output {name!r} is defined by {count} edges; keep one"
)
UNDECLARED_PORT: Final = ErrorCode(
    "E0214",
    "node {node!r} ({type}): port {port!r} is declared but the type has no such {direction}",
)
MISSING_EXTRA: Final = ErrorCode(
    "E0215", "node type {type!r} needs the Python module {module!r}, which is not installed"
)
INVALID_FUNCTION_REF: Final = ErrorCode(
    "E0216", "node {node!r}: function must be written 'package.module:name', found {value!r}"
)
UNDEFINED_OUTPUT: Final = ErrorCode(
    "E0217", "interface output {name!r} is declared but no edge defines it"
)
INVALID_SETTING: Final = ErrorCode(
    "E0218", "node {node!r} ({type}): setting {setting!r}: {message}"
)
INTERFACE_PORT_TWICE: Final = ErrorCode(
    "E0219", "interface {direction} {name!r} is declared twice (first at {first})"
)
INVALID_BLUEPRINT_SETTING: Final = ErrorCode("E0220", "blueprint setting {setting!r}: {message}")
FUNCTION_MODULE_NOT_FOUND: Final = ErrorCode(
    "E0221", "node {node!r}: cannot find module {module!r} of function {function!r}"
)
FUNCTION_NOT_FOUND: Final = ErrorCode(
    "E0222", "node {node!r}: module {module!r} has no function {name!r}"
)
MISSING_PARAMETER: Final = ErrorCode(
    "E0223",
    "node {node!r} ({type}): required parameter {param!r} is neither set nor fed by an edge",
)
NOT_PICKLABLE: Final = ErrorCode(
    "E0224", "node {node!r}: execution: process cannot send {function!r} to a worker: {problem}"
)
NODE_TYPE_CLASH: Final = ErrorCode("E0240", "node {node!r}: {problem}")
BROKEN_NODE_PACKAGE: Final = ErrorCode("E0241", "node {node!r}: {problem}")

# Templates and embedded code.
INVALID_TEMPLATE: Final = ErrorCode("E0301", "template {template!r}: {message}")
INVALID_CODE: Final = ErrorCode("E0302", "node {node!r}: {param} is not valid Python: {message}")
UNDECLARED_INPUT_READ: Final = ErrorCode(
    "E0303", "node {node!r}: {param} reads inputs.{name}, which the blueprint does not declare"
)
WHOLE_INPUTS_READ: Final = ErrorCode(
    "E0304",
    "node {node!r}: {param} uses 'inputs' as a whole; read its fields (inputs.<name>) instead",
)
INPUT_FED_BY_NODE: Final = ErrorCode(
    "E0305",
    "node {node!r} reads input {name!r} of its blueprint, which another node's output feeds; inside a loop body or parallel branch only the flow's inputs and constants can be read",
)
CODE_TOO_LARGE: Final = ErrorCode(
    "E0306", "node {node!r}: {param} is too large or too deeply nested to compile ({limit})"
)
TEMPLATE_TYPE_MISMATCH: Final = ErrorCode(
    "E0307",
    "node {node!r} ({type}): parameter {param!r} is {expected}, but the template renders {found}",
)
INVALID_JAVASCRIPT: Final = ErrorCode(
    "E0320", "node {node!r}: {param} is not valid JavaScript: {message}"
)
WHOLE_INPUTS_IN_JAVASCRIPT: Final = ErrorCode(
    "E0321", "node {node!r}: {param} uses 'inputs' other than as inputs.<name>"
)

# Types.
EDGE_TYPE_MISMATCH: Final = ErrorCode(
    "E0401", "edge {edge}: {source} is {source_type}, which does not fit {target} ({target_type})"
)
UNKNOWN_PORT_TYPE: Final = ErrorCode("E0402", "unknown port type {type!r}")
DEFAULT_TYPE_MISMATCH: Final = ErrorCode(
    "E0403", "default of {name!r} is {found}, which does not fit its type {type}"
)
TYPE_TOO_DEEP: Final = ErrorCode("E0404", "port type nests arrays more than {limit} levels deep")

# Sub-blueprints.
SUB_BLUEPRINT_NOT_FOUND: Final = ErrorCode(
    "E0501", "sub-blueprint {ref!r} of node {node!r} not found"
)
INCLUDE_CYCLE: Final = ErrorCode("E0502", "sub-blueprints include each other: {chain}")
SUB_BLUEPRINT_WITHOUT_SOURCE: Final = ErrorCode(
    "E0503", "node {node!r}: a sub-blueprint needs 'path', 'id' or inline 'nodes'"
)

# mypy on the generated module.
MYPY: Final = ErrorCode("E0601", "{message}")

# Generating the module.
VALUE_TOO_DEEP: Final = ErrorCode(
    "E0701", "{what} is nested {depth} levels deep; a generated module takes at most {limit}"
)
MODULE_DOES_NOT_COMPILE: Final = ErrorCode(
    "E0702", "the generated module does not compile: {message}"
)
UNWRITABLE_CODE: Final = ErrorCode(
    "E0703", "node {node!r}: {param} cannot be written into a module: {message}"
)

# Project settings: [tool.atomiton] in pyproject.toml (read by the command line).
UNREADABLE_SETTINGS: Final = ErrorCode("E0801", "cannot read {file}: {problem}")
UNKNOWN_SETTING: Final = ErrorCode("E0802", "unknown key {key!r} in [tool.atomiton] of {file}")
SETTING_TYPE_MISMATCH: Final = ErrorCode(
    "E0803", "[tool.atomiton] {key}: expected {expected}, found {found}"
)
SETTING_PATH_MISSING: Final = ErrorCode(
    "E0804", "[tool.atomiton] {key}: {path!r} does not exist (paths are relative to {folder})"
)

# Atomiton's flow files (the Atomiton dialect).
UNKNOWN_DIALECT: Final = ErrorCode(
    "E1001", "dialect must be 'atomiton' or 'native', found {found!r}"
)
LOOP_BODY_FED_FROM_OUTSIDE: Final = ErrorCode(
    "E1002",
    "loop {loop!r}: node {node!r} of its body is fed by {source!r}, which is outside the body",
)
INVALID_ATOMITON_FILE: Final = ErrorCode("E1003", "Atomiton file: {message}")

# Warnings.
DISABLED_NODE: Final = ErrorCode(
    "W0001", "node {node!r} is disabled; {count} node(s) that depend on it are skipped too"
)
UNQUOTED_SHELL_TEMPLATE: Final = ErrorCode(
    "W0301", "node {node!r}: template {template!r} is spliced into shell text unquoted"
)
JAVASCRIPT_IN_PYTHON_NODE: Final = ErrorCode(
    "W0320", "node {node!r}: {param} looks like JavaScript, but the node runs Python"
)
UNCACHEABLE_INPUT: Final = ErrorCode(
    "W0260",
    "node {node!r} is not cached: it reads the stream of node {source!r}, which has no stable hash",
)
OLDER_NODE_TYPE: Final = ErrorCode(
    "W1001", "node {node!r}: Atomiton's older type {old!r} is read as {new!r}"
)
READ_AS_NATIVE: Final = ErrorCode("W1002", "node {node!r}: {old} is read as {new}")
PARAMETER_IGNORED: Final = ErrorCode(
    "W1003", "node {node!r}: parameter {param!r} has no counterpart here and is ignored{why}"
)
HANDLE_READ_AS_PORT: Final = ErrorCode(
    "W1004", "edge {edge}: handle {handle!r} of node {node!r} is read as its port {port!r}"
)
TRANSFORM_BODY_AS_CODE: Final = ErrorCode(
    "W1005",
    "node {node!r}: transform {param} is a function body over the whole input: it runs as a code node",
)
JAVASCRIPT_DETECTED: Final = ErrorCode(
    "W1006", "node {node!r}: {param} is JavaScript: it runs with runtime: javascript"
)
DEFAULT_READS_INPUT: Final = ErrorCode(
    "W1007",
    "node {node!r}: parameter {param!r} is the default of variable {variable!r}: it reads inputs.{variable}",
)
WRAPPED_IN_LIST: Final = ErrorCode(
    "W1008",
    "edge {edge}: {found} arrives where {expected} is expected: wrapped as a one-item list{then}",
)
LOOP_BODY_INFERRED: Final = ErrorCode(
    "W1009",
    "loop {loop!r}: the nodes downstream of its item output ({nodes}) are its body, run once per item",
)
PARALLEL_IN_LOOP_BODY: Final = ErrorCode(
    "W1010",
    "node {node!r} (parallel) in the body of loop {loop!r}: the loop runs {count} items at once",
)
IMAGES_INTO_FOLDER: Final = ErrorCode(
    "W1011",
    "node {node!r}: writing images into the folder {folder!r}: the image nodes write each one there, named after its item",
)
EDITOR_SCHEMA_PARAMETERS: Final = ErrorCode(
    "W1012", "node {node!r}: parameters holds the editor's schema; the values under data are read"
)
TEMPLATE_READS_FIELD: Final = ErrorCode(
    "W1013",
    "node {node!r}: template {template!r} reads a field of the incoming object as {new!r} (fieldTemplates: a missing field renders empty)",
)
TRIGGER_AS_GATE: Final = ErrorCode(
    "W1014",
    "edge {edge}: a trigger carries no data: {node!r} waits for {source!r} through the merge {gate!r} in front of its input",
)
TRIGGER_DROPPED: Final = ErrorCode(
    "W1015",
    "edge {edge}: {node!r} has no single input to hold back and native blueprints have no run-after edge: the trigger is dropped",
)
UNPICKLABLE_OUTPUT: Final = ErrorCode(
    "W0250",
    "node {node!r}: output {port!r} is {kind}, which cannot be pickled, yet it travels to {reader} in another process (executor {executor!r})",
)

FUNCTION_SOURCE_UNREAD: Final = ErrorCode(
    "W0270",
    "node {node!r}: cannot read the source of {function!r} ({problem}): its version covers only the function's name",
)


def _registry() -> Mapping[str, ErrorCode]:
    found = sorted((v for v in globals().values() if isinstance(v, ErrorCode)), key=str)
    table = {str(code): code for code in found}
    assert len(table) == len(found), "a code is defined twice"
    return MappingProxyType(table)


CODES: Final[Mapping[str, ErrorCode]] = _registry()
"""Every code by its text, for tools and the documentation test."""
