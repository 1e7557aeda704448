"""Diagnostic codes and their message templates, in one place (like mypy's message_registry).

Codes are grouped by stage: E00xx reading the file, E01xx its schema, E02xx the graph, E03xx
templates and embedded Python, E04xx types, E05xx sub-blueprints, E06xx mypy on the output,
E07xx generating the module,
E08xx project settings,
E10xx/W10xx the Atomiton dialect (folded into the native form at the schema boundary).
A template says what was found and what was expected; the fix goes in the diagnostic's hint.
"""

from __future__ import annotations

from typing import Final

CODES: Final[dict[str, str]] = {
    # Reading the file.
    "E0001": "invalid YAML: {problem}",
    "E0002": "cannot read blueprint {path!r}: {reason}",
    "E0003": "duplicate key {key!r} in this mapping (YAML would silently keep the last one)",
    "E0004": "a blueprint must be a mapping at the top level, found {found}",
    "E0005": "blueprint {path!r} is {size:,} bytes, more than the limit of {limit:,}",
    "E0006": "aliases and merge keys in this file copy more than {limit:,} values",
    "E0007": "alias *{name} refers to a value that contains it (a recursive structure)",
    "E0008": "mappings and lists are nested more than {limit} deep",
    "E0009": "{value} cannot be read as {kind}: {reason}",
    "E0010": "{what} is not allowed in a YAML file",
    "E0011": "sub-blueprint path of node {node!r} cannot be used: {reason}",
    "E0012": "the blueprint has {count:,} nodes with its sub-blueprints inlined, more than the limit of {limit:,}",
    "E0013": "sub-blueprints are nested more than {limit} deep",
    "E0014": "this file holds more than {limit:,} values",
    # Schema of the file as written.
    "E0101": "unknown key {key!r} in {where}",
    "E0102": "{where}: {message}",
    "E0103": "{where}: missing required key {key!r}",
    # The graph.
    "E0201": "duplicate node id {id!r} (first defined at {first})",
    "E0202": "unknown node type {type!r} for node {node!r}",
    "E0203": "edge {edge} targets unknown port {port!r} of node {node!r}; its inputs are {valid}",
    "E0204": "edge {edge} reads unknown port {port!r} of node {node!r}; its outputs are {valid}",
    "E0205": "edge {edge} refers to unknown node {node!r}",
    "E0206": "input {port!r} of node {node!r} has {count} incoming edges but takes one",
    "E0207": "the graph has a cycle: {chain}",
    "E0208": "node {node!r} ({type}): required input {port!r} has neither an edge nor a parameter",
    "E0209": "node {node!r} ({type}): parameter {param!r}: {message}",
    "E0210": "node {node!r} ({type}): unknown parameter {param!r}",
    "E0211": "{what} {id!r} is not a valid id: use letters, digits, '-' and '_'",
    "E0212": "edge {edge} refers to interface {direction} {name!r}, which the blueprint does not declare",
    "E0213": "interface output {name!r} is defined by {count} edges; keep one",
    "E0214": "node {node!r} ({type}): port {port!r} is declared but the type has no such {direction}",
    "E0215": "node type {type!r} needs the Python module {module!r}, which is not installed",
    "E0216": "node {node!r}: function must be written 'package.module:name', found {value!r}",
    "E0217": "interface output {name!r} is declared but no edge defines it",
    "E0218": "node {node!r} ({type}): setting {setting!r}: {message}",
    "E0219": "interface {direction} {name!r} is declared twice (first at {first})",
    "E0220": "blueprint setting {setting!r}: {message}",
    "E0221": "node {node!r}: cannot find module {module!r} of function {function!r}",
    "E0222": "node {node!r}: module {module!r} has no function {name!r}",
    "E0223": "node {node!r} ({type}): required parameter {param!r} is neither set nor fed by an edge",
    "E0224": "node {node!r}: execution: process cannot send {function!r} to a worker: {problem}",
    "E0240": "node {node!r}: {problem}",
    "E0241": "node {node!r}: {problem}",
    # Templates and embedded Python.
    "E0301": "template {template!r}: {message}",
    "E0302": "node {node!r}: {param} is not valid Python: {message}",
    "E0303": "node {node!r}: {param} reads inputs.{name}, which the blueprint does not declare",
    "E0305": "node {node!r} reads input {name!r} of its blueprint, which another node's output feeds; inside a loop body or parallel branch only the flow's inputs and constants can be read",
    "E0304": "node {node!r}: {param} uses 'inputs' as a whole; read its fields (inputs.<name>) instead",
    "E0306": "node {node!r}: {param} is too large or too deeply nested to compile ({limit})",
    "E0307": "node {node!r} ({type}): parameter {param!r} is {expected}, but the template renders {found}",
    "E0320": "node {node!r}: {param} is not valid JavaScript: {message}",
    "E0321": "node {node!r}: {param} uses 'inputs' other than as inputs.<name>",
    # Types.
    "E0401": "edge {edge}: {source} is {source_type}, which does not fit {target} ({target_type})",
    "E0402": "unknown port type {type!r}",
    "E0403": "default of {name!r} is {found}, which does not fit its type {type}",
    "E0404": "port type nests arrays more than {limit} levels deep",
    # Sub-blueprints.
    "E0501": "sub-blueprint {ref!r} of node {node!r} not found",
    "E0502": "sub-blueprints include each other: {chain}",
    "E0503": "node {node!r}: a sub-blueprint needs 'path', 'id' or inline 'nodes'",
    # mypy on the generated module.
    "E0601": "{message}",
    # Generating the module.
    "E0701": "{what} is nested {depth} levels deep; a generated module takes at most {limit}",
    "E0702": "the generated module does not compile: {message}",
    "E0703": "node {node!r}: {param} cannot be written into a module: {message}",
    # Project settings: [tool.atomiton] in pyproject.toml (read by the command line).
    "E0801": "cannot read {file}: {problem}",
    "E0802": "unknown key {key!r} in [tool.atomiton] of {file}",
    "E0803": "[tool.atomiton] {key}: expected {expected}, found {found}",
    "E0804": "[tool.atomiton] {key}: {path!r} does not exist (paths are relative to {folder})",
    # Warnings.
    "W0001": "node {node!r} is disabled; {count} node(s) that depend on it are skipped too",
    "W0301": "node {node!r}: template {template!r} is spliced into shell text unquoted",
    "W0320": "node {node!r}: {param} looks like JavaScript, but the node runs Python",
    # Atomiton dialect (E10xx/W10xx): Atomiton's files folded into the native form.
    "E1001": "dialect must be 'atomiton' or 'native', found {found!r}",
    "E1002": "loop {loop!r}: node {node!r} of its body is fed by {source!r}, which is outside the body",
    "E1003": "Atomiton file: {message}",
    "W1001": "node {node!r}: Atomiton's older type {old!r} is read as {new!r}",
    "W1002": "node {node!r}: {old} is read as {new}",
    "W1003": "node {node!r}: parameter {param!r} has no counterpart here and is ignored{why}",
    "W1004": "edge {edge}: handle {handle!r} of node {node!r} is read as its port {port!r}",
    "W1005": "node {node!r}: transform {param} is a function body over the whole input: it runs as a code node",
    "W1006": "node {node!r}: {param} is JavaScript: it runs with runtime: javascript",
    "W1007": "node {node!r}: parameter {param!r} is the default of variable {variable!r}: it reads inputs.{variable}",
    "W1008": "edge {edge}: {found} arrives where {expected} is expected: wrapped as a one-item list{then}",
    "W1009": "loop {loop!r}: the nodes downstream of its item output ({nodes}) are its body, run once per item",
    "W1010": "node {node!r} (parallel) in the body of loop {loop!r}: the loop runs {count} items at once",
    "W1011": "node {node!r}: writing images into the folder {folder!r}: the image nodes write each one there, named after its item",
    "W1012": "node {node!r}: parameters holds the editor's schema; the values under data are read",
    "W1013": "node {node!r}: template {template!r} reads a field of the incoming object as {new!r} (fieldTemplates: a missing field renders empty)",
    "W1014": "edge {edge}: a trigger carries no data: {node!r} waits for {source!r} through the merge {gate!r} in front of its input",
    "W1015": "edge {edge}: {node!r} has no single input to hold back and native blueprints have no run-after edge: the trigger is dropped",
}
