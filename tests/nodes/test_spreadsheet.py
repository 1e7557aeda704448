"""Tests of the spreadsheet node: real CSV, TSV and XLSX files in tmp_path."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import GeneratorType

import openpyxl
import pytest
from pydantic import ValidationError

from atomiton.nodes import spreadsheet
from atomiton.nodes.spreadsheet import Params, run


def sheet(**kwargs: object) -> Params:
    return Params.model_validate(kwargs)


# -- CSV and TSV read -----------------------------------------------------------------------------


def test_read_csv_with_quoting_newlines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(
        "\ufeffname,note,city\r\n"
        'Ada,"likes ""quotes""",London\r\n'
        'Grace,"two\nlines",NYC\r\n'
        "\r\n"
        'Linus,"comma, inside",\r\n'.encode("utf-8")
    )
    out = run(sheet(path=str(path)))
    assert out.headers == ["name", "note", "city"]  # BOM gone from the first header
    assert out.records == [
        {"name": "Ada", "note": 'likes "quotes"', "city": "London"},
        {"name": "Grace", "note": "two\nlines", "city": "NYC"},
        {"name": "Linus", "note": "comma, inside", "city": ""},
    ]
    assert out.row_count == 3 and out.sheet_name is None and out.sheet_names == []


def test_empty_lines_kept_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,2\n\n,\n3,4\n")
    assert run(sheet(path=str(path))).row_count == 2
    kept = run(sheet(path=str(path), skip_empty_lines=False)).records
    assert kept == [
        {"a": "1", "b": "2"},
        {"a": None, "b": None},
        {"a": "", "b": ""},
        {"a": "3", "b": "4"},
    ]


def test_ragged_rows_and_odd_headers(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,a,,b\n1,2,3\n1,2,3,4,5\n")
    out = run(sheet(path=str(path)))
    assert out.headers == ["a", "a_2", "column3", "b"]
    assert out.records[0] == {"a": "1", "a_2": "2", "column3": "3", "b": None}
    assert out.records[1] == {"a": "1", "a_2": "2", "column3": "3", "b": "4", "column5": "5"}


def test_no_header_mode(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("1,2\n3,4,5\n")
    out = run(sheet(path=str(path), has_headers=False))
    assert out.headers == ["column1", "column2", "column3"]
    assert out.records == [
        {"column1": "1", "column2": "2", "column3": None},
        {"column1": "3", "column2": "4", "column3": "5"},
    ]


def test_tsv_custom_delimiter_and_format_override(tmp_path: Path) -> None:
    tsv = tmp_path / "t.tsv"
    tsv.write_text("x\ty\n1\t2,3\n")
    assert run(sheet(path=str(tsv))).records == [{"x": "1", "y": "2,3"}]
    semi = tmp_path / "semi.txt"
    semi.write_text("x;y\n1;2\n")
    assert run(sheet(path=str(semi), format="csv", delimiter=";")).records == [{"x": "1", "y": "2"}]
    with pytest.raises(ValueError, match="cannot tell the format"):
        run(sheet(path=str(semi)))
    with pytest.raises(ValidationError, match="one character"):
        sheet(delimiter=";;")


def test_data_input_is_parsed(tmp_path: Path) -> None:
    out = run(sheet(path=str(tmp_path / "ignored.csv")), data="\ufeffa,b\n1,2\n")
    assert out.records == [{"a": "1", "b": "2"}]
    assert run(sheet(format="tsv"), data=b"a\tb\n1\t2\n").records == [{"a": "1", "b": "2"}]


def test_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name\ncafé\n".encode("latin-1"))
    assert run(sheet(path=str(path), encoding="latin-1")).records == [{"name": "café"}]
    with pytest.raises(ValueError, match="cannot parse"):
        run(sheet(path=str(path)))


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        run(sheet(path=str(tmp_path / "missing.csv")))
    with pytest.raises(ValueError, match="needs a path or the data input"):
        run(sheet())
    with pytest.raises(ValueError, match=r"\.xls format is not supported"):
        run(sheet(path=str(tmp_path / "old.xls")))


# -- CSV write ------------------------------------------------------------------------------------


def test_write_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "people.csv"
    records = [{"name": "Ada", "note": 'say "hi"\nbye'}, {"name": "Grace, H", "city": "NYC"}]
    out = run(sheet(operation="write", path=str(path)), data=records)
    assert out.headers == ["name", "note", "city"] and out.row_count == 2 and out.records is records
    back = run(sheet(path=str(path))).records
    assert back == [
        {"name": "Ada", "note": 'say "hi"\nbye', "city": ""},
        {"name": "Grace, H", "note": "", "city": "NYC"},
    ]


def test_write_rows_as_lists_and_without_headers(tmp_path: Path) -> None:
    lists = tmp_path / "lists.tsv"
    run(sheet(operation="write", path=str(lists)), data=[["a", "b"], [1, None]])
    assert lists.read_bytes() == b"a\tb\r\n1\t\r\n"
    bare = tmp_path / "bare.csv"
    run(sheet(operation="write", path=str(bare), has_headers=False), data=[{"x": 1, "y": 2}])
    assert bare.read_bytes() == b"1,2\r\n"


def test_write_errors_leave_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.csv"
    path.write_text("old\n")
    with pytest.raises(TypeError, match="row 1 is a int"):
        run(sheet(operation="write", path=str(path)), data=[{"a": 1}, 5])
    with pytest.raises(ValueError, match=r"row 2 has columns \['c'\]"):
        run(
            sheet(operation="write", path=str(path), stream=True),
            data=iter([{"a": 1}, {"a": 2}, {"c": 3}]),
        )
    assert path.read_text() == "old\n"
    with pytest.raises(TypeError, match="not str"):
        run(sheet(operation="write", path=str(path)), data="a,b")
    with pytest.raises(ValueError, match="needs rows"):
        run(sheet(operation="write", path=str(path)))
    with pytest.raises(ValueError, match="needs a path"):
        run(sheet(operation="write"), data=[])


# -- XLSX -----------------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Summary"
    first.append(["total"])
    first.append([42])
    orders = book.create_sheet("Orders")
    orders.append(["id", "amount", "paid", None])
    orders.append([1, 9.5, True])
    orders.append([None, None, None])
    orders.append([2, 120, False])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_read_xlsx_by_name_and_index(workbook: Path) -> None:
    by_name = run(sheet(path=str(workbook), sheet_name="Orders"))
    assert by_name.headers == ["id", "amount", "paid"]
    assert by_name.records == [
        {"id": 1, "amount": 9.5, "paid": True},
        {"id": 2, "amount": 120, "paid": False},
    ]
    assert by_name.sheet_name == "Orders" and by_name.sheet_names == ["Summary", "Orders"]
    by_index = run(sheet(path=str(workbook), sheet_index=1))
    assert by_index.records == by_name.records
    default = run(sheet(path=str(workbook)))
    assert default.sheet_name == "Summary" and default.records == [{"total": 42}]


def test_xlsx_sheet_errors_list_the_sheets(workbook: Path) -> None:
    with pytest.raises(ValueError, match=r"no sheet 'Order'; its sheets are 'Summary', 'Orders'"):
        run(sheet(path=str(workbook), sheet_name="Order"))
    with pytest.raises(ValueError, match=r"sheetIndex 5 does not exist.*'Summary', 'Orders'"):
        run(sheet(path=str(workbook), sheet_index=5))
    broken = workbook.with_name("broken.xlsx")
    broken.write_text("not a zip")
    with pytest.raises(ValueError, match="cannot open .*broken.xlsx"):
        run(sheet(path=str(broken)))


def test_write_xlsx_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    records = [{"name": "Ada", "score": 9.5}, {"name": "Grace", "score": 10, "extra": True}]
    out = run(sheet(operation="write", path=str(path), sheet_name="Scores"), data=records)
    run(sheet(operation="write", path=str(tmp_path / "n.xlsx")), data=[{"tags": ["a", "b"]}])
    assert run(sheet(path=str(tmp_path / "n.xlsx"))).records == [{"tags": '["a", "b"]'}]
    assert out.sheet_name == "Scores" and out.sheet_names == ["Scores"] and out.row_count == 2
    back = run(sheet(path=str(path)))
    assert back.sheet_names == ["Scores"] and back.headers == ["name", "score", "extra"]
    assert back.records == [
        {"name": "Ada", "score": 9.5, "extra": None},
        {"name": "Grace", "score": 10, "extra": True},
    ]
    assert run(sheet(format="xlsx"), data=path.read_bytes()).records == back.records


# -- streaming ------------------------------------------------------------------------------------


def test_stream_read_is_lazy_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a\n1\n2\n3\n")
    out = run(sheet(path=str(path), stream=True))
    assert isinstance(out.records, GeneratorType) and out.row_count is None and out.headers == ["a"]
    assert next(out.records) == {"a": "1"}
    out.records.close()  # stopping early closes the file
    assert [r["a"] for r in run(sheet(path=str(path), stream=True)).records] == ["1", "2", "3"]
    bare = run(sheet(path=str(path), stream=True, has_headers=False))
    assert bare.headers == ["column1"] and list(bare.records)[0] == {"column1": "a"}


def test_stream_xlsx(workbook: Path) -> None:
    out = run(sheet(path=str(workbook), sheet_name="Orders", stream=True))
    assert out.headers == ["id", "amount", "paid"] and out.row_count is None
    assert [r["id"] for r in out.records] == [1, 2]


def rows(count: int) -> Iterator[dict[str, object]]:
    for i in range(count):
        yield {"id": i, "name": f"name {i}", "text": "lorem ipsum dolor sit amet " * 2}


def test_stream_write_and_read_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    count = 100_000
    gc.collect()
    tracemalloc.start()
    try:
        out = run(sheet(operation="write", path=str(path), stream=True), data=rows(count))
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        streamed = run(sheet(path=str(path), stream=True))
        seen = sum(1 for _ in streamed.records)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.row_count == count and out.records == [] and seen == count
    size = path.stat().st_size
    assert size > 7_000_000
    # The file is ~7 MB; holding it (or its records) would take far more than this.
    assert write_peak < 1_000_000, write_peak
    assert read_peak < 1_000_000, read_peak


def test_stream_write_xlsx_from_iterator(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    out = run(sheet(operation="write", path=str(path)), data=rows(2000))
    assert out.row_count == 2000
    back = run(sheet(path=str(path), stream=True))
    assert sum(1 for _ in back.records) == 2000


def test_spec_shape() -> None:
    spec = spreadsheet.SPEC
    assert [p.name for p in spec.inputs] == ["data", "path"]
    assert [p.attr for p in spec.outputs] == list(spreadsheet.Output.__dataclass_fields__)


# -- compiled end to end --------------------------------------------------------------------------


def test_compiled_blueprint_converts_csv_to_xlsx(tmp_path: Path) -> None:
    from atomiton.compiler import compile_blueprint, load_module

    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n3,4\n")
    path = tmp_path / "flow.yaml"
    path.write_text("""
id: convert
interface:
  inputs: [{id: src, dataType: string}, {id: dst, dataType: string}]
  outputs: [{id: count, dataType: "integer?"}]
nodes:
  - id: read
    type: spreadsheet
    parameters: {path: "{{ inputs.src }}"}
  - id: write
    type: spreadsheet
    parameters: {operation: write, path: "{{ inputs.dst }}", sheetName: Out}
edges:
  - {source: read, sourceHandle: records, target: write, targetHandle: data}
  - {source: write, sourceHandle: rowCount, target: output, targetHandle: count}
""")
    compiled = compile_blueprint(path)
    compile(compiled.code, str(path), "exec")
    module = load_module(compiled)
    target = tmp_path / "out.xlsx"
    assert module.run(module.Inputs(src=str(source), dst=str(target))).count == 2
    assert run(sheet(path=str(target))).records == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
