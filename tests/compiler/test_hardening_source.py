"""Hostile blueprints end as positioned diagnostics, fast and in little memory.

The cases that fit in a file live in the diagnostics corpus (``tests/diagnostics/hostile_*``),
which checks their codes and lines. Here: the cases that must be generated (UTF-16 bytes, files
past the size limit, long names, deep include chains), the limits taken from
``CompileOptions``, and one fresh interpreter that compiles every hostile case and measures the
time each takes and the peak memory of all of them. Time is the CPU time of that interpreter,
so that other work on a busy machine does not count against the compiler.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from atomiton.compiler import CompileOptions, Limits, compile_blueprint
from atomiton.compiler.source import parse_source, read_source
from atomiton.diagnostics import Diagnostic, DiagnosticSink, Span
from atomiton.errors import BlueprintError

CORPUS = Path(__file__).resolve().parent.parent / "diagnostics"
SECONDS = 2.0
MEGABYTES = 200

BLUEPRINT_WITH_ERROR = """\
# A blueprint whose one mistake is the node on line 5.
id: encoded
name: Grüße, 世界
nodes:
  - id: first
    type: nosuchtype
"""


def diagnostics_of(path: Path, **options: Any) -> list[Diagnostic]:
    options.setdefault("root", path.parent)
    options.setdefault("search_path", ())
    options.setdefault("store", path.parent / "store")
    try:
        compile_blueprint(path, options=CompileOptions(**options))
    except BlueprintError as exc:
        return list(exc.diagnostics)
    pytest.fail(f"{path.name} compiled without errors")


def codes_at(diagnostics: list[Diagnostic]) -> list[tuple[str, int]]:
    return [(d.code, d.span.line if d.span else 0) for d in diagnostics]


# -- encodings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b""),
    ],
)
def test_utf16_utf32_and_bom_files_are_read_with_their_positions(
    tmp_path: Path, encoding: str, bom: bytes
) -> None:
    path = tmp_path / "encoded.yaml"
    path.write_bytes(bom + BLUEPRINT_WITH_ERROR.encode(encoding))
    (diagnostic,) = diagnostics_of(path)
    assert (diagnostic.code, diagnostic.span) == ("E0202", Span("encoded.yaml", 5, 5))


def test_a_good_utf16_file_compiles(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    text = "id: hello\nnodes:\n  - {id: say, type: code, parameters: {code: \"return 'hé'\"}}\n"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    compiled = compile_blueprint(path, options=CompileOptions(root=tmp_path, search_path=()))
    assert "hé" in compiled.code


def test_bytes_invalid_in_the_files_encoding_are_reported_where_they_are(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    # A lone high surrogate on line 2, column 7 of a UTF-16 file.
    path.write_bytes(b"\xff\xfe" + "id: x\nname: ".encode("utf-16-le") + b"\x00\xd8" + b"a\x00")
    (diagnostic,) = diagnostics_of(path)
    assert (diagnostic.code, diagnostic.span) == ("E0002", Span("broken.yaml", 2, 7))
    assert "UTF-16" in diagnostic.message


# -- limits from CompileOptions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "text", "expected", "names"),
    [
        (
            Limits(max_depth=3),
            "id: x\nnodes: []\nmetadata:\n  a: {b: [1]}\n",
            ("E0008", 4),
            "max_depth = 3",
        ),
        (
            Limits(max_alias_values=10),
            "id: x\nnodes: []\nmetadata:\n  a: &a [1, 2, 3, 4]\n  b: [*a, *a, *a]\n",
            ("E0006", 5),
            "max_alias_values = 10",
        ),
        (
            Limits(max_values=20),
            "id: x\nnodes: []\nmetadata:\n  a: [1, 2, 3, 4, 5, 6, 7, 8]\n  b: [1, 2, 3, 4, 5, 6, 7, 8]\n",
            ("E0014", 5),
            "max_values = 20",
        ),
        (
            Limits(max_file_bytes=64),
            "id: x\nnodes: []\n" + "# padding\n" * 10,
            ("E0005", 1),
            "max_file_bytes = 64",
        ),
        (
            Limits(max_nodes=2),
            "id: x\nnodes:\n  - {id: a, type: code}\n  - {id: b, type: code}\n  - {id: c, type: code}\n",
            ("E0012", 2),
            "max_nodes = 2",
        ),
    ],
)
def test_each_limit_comes_from_compile_options_and_is_named_in_the_hint(
    tmp_path: Path, limits: Limits, text: str, expected: tuple[str, int], names: str
) -> None:
    path = tmp_path / "limited.yaml"
    path.write_text(text)
    (diagnostic,) = diagnostics_of(path, limits=limits)
    assert codes_at([diagnostic]) == [expected], diagnostic.format()
    assert diagnostic.hint is not None and f"Limits.{names}" in diagnostic.hint


def test_the_include_tree_limit_counts_every_inclusion(tmp_path: Path) -> None:
    (tmp_path / "leaf.yaml").write_text(
        "id: leaf\nnodes:\n  - {id: n, type: code, parameters: {code: 'return 1'}}\n"
    )
    three = "".join(
        f"  - {{id: g{k}, type: blueprint, parameters: {{path: leaf.yaml}}}}\n" for k in range(3)
    )
    (tmp_path / "mid.yaml").write_text(f"id: mid\nnodes:\n{three}")
    root = tmp_path / "root.yaml"
    root.write_text(
        "id: root\nnodes:\n"
        "  - {id: a, type: blueprint, parameters: {path: mid.yaml}}\n"
        "  - {id: b, type: blueprint, parameters: {path: mid.yaml}}\n"
    )
    # a and b bring 1 + 3 * 2 = 7 nodes each: the total passes 10 at b.
    (diagnostic,) = diagnostics_of(root, limits=Limits(max_nodes=10))
    assert codes_at([diagnostic]) == [("E0012", 4)]
    assert "14 nodes" in diagnostic.message
    compile_blueprint(root, options=CompileOptions(root=tmp_path, search_path=()))


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    for index in range(5):
        (tmp_path / f"c{index}.yaml").write_text(
            f"id: c{index}\nnodes:\n"
            f"  - {{id: g, type: blueprint, parameters: {{path: c{index + 1}.yaml}}}}\n"
        )
    (tmp_path / "c5.yaml").write_text("id: c5\nnodes:\n  - {id: n, type: code}\n")
    found = diagnostics_of(tmp_path / "c0.yaml", limits=Limits(max_include_depth=3))
    assert [(d.code, d.span) for d in found] == [("E0013", Span("c3.yaml", 3, 5))]
    assert found[0].notes == (
        "included from c2.yaml:3:5",
        "included from c1.yaml:3:5",
        "included from c0.yaml:3:5",
    )


# -- YAML semantics the event builder must keep ----------------------------------------------------


def parse(text: str) -> Any:
    sink = DiagnosticSink()
    source = parse_source(text, Path("t.yaml"), "t.yaml", sink)
    assert source is not None, [d.format() for d in sink.items]
    return source


def test_merge_keys_and_aliases_give_what_pyyaml_gives() -> None:
    text = """\
a: &a {x: 1, y: {z: 2}}
b: &b {y: 3, w: [1, *a]}
c: {<<: [*a, *b], q: 1}
d: {<<: *a, <<: *b}
e: &e {<<: *b, k: 1}
f: *e
g: {<<: {i: 1, j: 2}, i: 3}
h: &l [{a: 1}, {b: 2}]
k: {<<: *l}
m: {x: &m 1, y: *m, n: 0o17, t: 2001-12-14, f: .inf}
"""
    assert parse(text).data == yaml.safe_load(text)
    # Where PyYAML fails, on YAML 1.1's '=' value tag, it is text.
    assert parse("a: =\n=: b\n").data == {"a": "=", "=": "b"}


def test_an_alias_of_a_mapping_that_merges_is_no_duplicate() -> None:
    # PyYAML's nodes are shared by aliases; flattening one twice used to report E0003.
    source = parse("a: &a {x: 1}\nb: &b {<<: *a, x: 2}\nc: *b\n")
    assert source.data == {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 2}}


def test_alias_copies_are_separate_objects_placed_at_the_alias() -> None:
    source = parse("a: &a {x: [1]}\nb: *a\n")
    assert source.data["a"] is not source.data["b"]
    assert source.data["a"]["x"] is not source.data["b"]["x"]
    assert source.positions.span(("b",)) == Span("t.yaml", 2, 4)
    assert source.positions.span(("b", "x", 0)) == Span("t.yaml", 1, 12)


shared = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(value=shared, repeat=st.integers(min_value=1, max_value=3), flow=st.booleans())
def test_documents_with_anchors_read_as_pyyaml_reads_them(
    value: Any, repeat: int, flow: bool
) -> None:
    # One object used several times: safe_dump writes an anchor and aliases for it.
    document = {"value": value, "again": [value] * repeat, "nested": {"inner": value}}
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    assert parse(text).data == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("a: 1\nb: [1, *nothing]\n", 2, 8, "undefined alias"),
        ("a: !python/object:os.system x\n", 1, 4, "constructor"),
        ("a: 1\n---\nb: 2\n", 2, 1, "another document"),
        ("a: {<<: 5}\n", 1, 9, "merging"),
    ],
)
def test_other_yaml_errors_keep_their_position(
    text: str, line: int, column: int, words: str
) -> None:
    sink = DiagnosticSink()
    assert parse_source(text, Path("t.yaml"), "t.yaml", sink) is None
    (diagnostic,) = sink.items
    assert (diagnostic.code, diagnostic.span) == ("E0001", Span("t.yaml", line, column))
    assert words in diagnostic.message


# -- indentation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        # Indented too far: the parser only objects at the ':' of the line after.
        (
            "id: x\nnodes:\n  - id: a\n    type: code\n      more words\n      retries: 3\n",
            5,
            7,
            "line 5 is indented more than line 4",
        ),
        ("a:\n  b: 1\n c: 2\n", 3, 2, "line 3 starts at column 2"),
        ("nodes:\n  - id: a\n    type: code\n   - id: b\n", 4, 4, "line 4 starts at column 4"),
    ],
)
def test_an_indentation_mistake_is_named_where_it_starts(
    text: str, line: int, column: int, words: str
) -> None:
    sink = DiagnosticSink()
    assert parse_source(text, Path("t.yaml"), "t.yaml", sink) is None
    (diagnostic,) = sink.items
    assert (diagnostic.code, diagnostic.span) == ("E0001", Span("t.yaml", line, column))
    assert diagnostic.hint is not None and "probably indentation" in diagnostic.hint
    assert words in diagnostic.hint


def test_a_tab_used_for_indentation_says_so() -> None:
    sink = DiagnosticSink()
    assert parse_source("id: x\nnodes:\n\t- id: a\n", Path("t.yaml"), "t.yaml", sink) is None
    (diagnostic,) = sink.items
    assert diagnostic.span == Span("t.yaml", 3, 1)
    assert diagnostic.hint == "YAML indents with spaces, not tabs"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_read_no_further_than_the_limit() -> None:
    sink = DiagnosticSink()
    assert read_source(Path("/dev/zero"), "zero", sink, Limits(max_file_bytes=1000)) is None
    assert [d.code for d in sink.items] == ["E0005"]


# -- every hostile case in a fresh interpreter: time and peak memory ------------------------------

# Peak memory is the kernel's high-water mark of this interpreter (VmHWM). Not ru_maxrss: Linux
# carries that over exec from the forking process, so a large test worker would be measured.
MEASURE = """
import json, sys, time
from pathlib import Path
from atomiton.compiler import CompileOptions, compile_blueprint
from atomiton.errors import BlueprintError

def peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

cases = json.loads(sys.stdin.read())
warm = Path(cases[0]["folder"]) / "warm.yaml"
warm.write_text("id: warm\\nnodes:\\n  - {id: a, type: code, parameters: {code: 'return 1'}}\\n")
compile_blueprint(warm, options=CompileOptions(root=warm.parent, search_path=()))
results = {}
for case in cases:
    folder = Path(case["folder"])
    options = CompileOptions(root=folder, search_path=(), store=Path(case["store"]))
    start, wall = time.process_time(), time.perf_counter()
    try:
        compile_blueprint(case["path"], options=options)
        found = []
    except BlueprintError as exc:
        found = [[d.code, d.span.line if d.span else 0] for d in exc.diagnostics]
    results[case["name"]] = {
        "seconds": time.process_time() - start,
        "wall_seconds": time.perf_counter() - wall,
        "found": found,
        "max_rss_mb": peak_mb(),
    }
print(json.dumps(results))
"""


def _write_generated_cases(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (blueprint, expected code) for the cases no corpus file can hold."""
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, text: str | bytes, code: str) -> None:
        path = folder / f"{name}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        cases[name] = (path, code)

    case("utf16_with_error", b"\xff\xfe" + BLUEPRINT_WITH_ERROR.encode("utf-16-le"), "E0202")
    case("utf16_no_bom_with_error", BLUEPRINT_WITH_ERROR.encode("utf-16-be"), "E0202")
    case("nul_bytes_everywhere", b"\x00" * 10_000, "E0010")
    case("larger_than_the_limit", b"id: big\nnodes: []\n" + b"# padding\n" * 450_000, "E0005")
    case("dense_values", "id: d\nnodes: []\nmetadata: [" + "1, " * 200_001 + "1]\n", "E0014")
    case(
        "many_nodes_in_one_file",
        "id: m\nnodes:\n" + "".join(f"  - {{id: n{i}, type: code}}\n" for i in range(20_001)),
        "E0012",
    )
    case("integer_of_100000_digits", "id: i\nnodes: []\nmetadata: " + "7" * 100_000 + "\n", "E0009")
    case("flow_nesting_900", "id: d\nnodes: []\nmetadata: " + "[" * 900 + "]" * 900 + "\n", "E0008")
    # Names no file system takes: the blueprint path itself is unusable.
    cases["long_file_name"] = (folder / ("y" * 300 + ".yaml"), "E0002")
    cases["long_folder_name"] = (folder / ("z" * 300) / "x.yaml", "E0002")
    chain = folder / "chain"
    chain.mkdir()
    for index in range(299):
        (chain / f"c{index}.yaml").write_text(
            f"id: c{index}\nnodes:\n"
            f"  - {{id: g, type: blueprint, parameters: {{path: c{index + 1}.yaml}}}}\n"
        )
    (chain / "c299.yaml").write_text("id: c299\nnodes:\n  - {id: n, type: code}\n")
    cases["include_chain_300"] = (chain / "c0.yaml", "E0013")
    # A file in the store, found by id: the search reads it within the limits.
    store = folder / "store"
    store.mkdir()
    laughs = "{id: laughs, a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"
    for level in range(1, 10):
        laughs += (
            f", a{level}: &a{level} ["
            + ", ".join([f"*a{'' if level == 1 else level - 1}"] * 10)
            + "]"
        )
    (store / "laughs.yaml").write_text(laughs + "}\n")
    case(
        "store_search_meets_laughs",
        "id: s\nnodes:\n  - {id: g, type: blueprint, parameters: {id: other}}\n",
        "E0501",
    )
    return cases


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("hostile")
    generated = _write_generated_cases(folder)
    corpus = {p.stem: (p, "") for p in sorted(CORPUS.glob("hostile_*.yaml"))}
    cases = [
        {
            "name": name,
            "path": str(path),
            "folder": str(folder if name in generated else CORPUS),
            "store": str(folder / "store"),
        }
        for name, (path, _) in {**generated, **corpus}.items()
    ]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {
        "results": json.loads(result.stdout),
        "expected": {name: code for name, (_, code) in generated.items()},
        "corpus": sorted(corpus),
    }


GENERATED = [
    "utf16_with_error",
    "utf16_no_bom_with_error",
    "nul_bytes_everywhere",
    "larger_than_the_limit",
    "dense_values",
    "many_nodes_in_one_file",
    "integer_of_100000_digits",
    "flow_nesting_900",
    "long_file_name",
    "long_folder_name",
    "include_chain_300",
    "store_search_meets_laughs",
]


@pytest.mark.parametrize("name", GENERATED)
def test_generated_hostile_case_ends_as_its_diagnostic_fast(
    measured: dict[str, Any], name: str
) -> None:
    result = measured["results"][name]
    codes = {code for code, _ in result["found"]}
    assert measured["expected"][name] in codes, result
    assert result["seconds"] < SECONDS, result


def test_every_hostile_corpus_case_is_fast(measured: dict[str, Any]) -> None:
    assert len(measured["corpus"]) >= 10
    slow = {
        name: round(measured["results"][name]["seconds"], 2)
        for name in measured["corpus"]
        if measured["results"][name]["seconds"] >= SECONDS or not measured["results"][name]["found"]
    }
    assert not slow, f"slower than {SECONDS} s, or no diagnostic: {slow}"


def test_peak_memory_of_all_hostile_cases_stays_small(measured: dict[str, Any]) -> None:
    peak = max(r["max_rss_mb"] for r in measured["results"].values())
    assert peak < MEGABYTES, {n: round(r["max_rss_mb"]) for n, r in measured["results"].items()}


def test_a_file_included_twice_reports_its_problems_for_each_inclusion(tmp_path: Path) -> None:
    # Files are read once per compilation; what reading one found is reported at every include.
    (tmp_path / "child.yaml").write_text(
        "id: child\nnodes:\n  - {id: a, type: code, parameters: {code: 'return 1'}}\nnodes: []\n"
    )
    root = tmp_path / "root.yaml"
    root.write_text(
        "id: root\nnodes:\n"
        "  - {id: one, type: blueprint, parameters: {path: child.yaml}}\n"
        "  - {id: two, type: blueprint, parameters: {path: child.yaml}}\n"
    )
    found = [d for d in diagnostics_of(root) if d.code == "E0003"]
    assert [(d.code, d.span, d.notes) for d in found] == [
        ("E0003", Span("child.yaml", 4, 1), ("included from root.yaml:3:5",)),
        ("E0003", Span("child.yaml", 4, 1), ("included from root.yaml:4:5",)),
    ]
