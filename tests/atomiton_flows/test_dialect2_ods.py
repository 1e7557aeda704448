"""ODS spreadsheets: the spreadsheet node reads ``.ods`` files (a zip holding content.xml) with
the standard library; each test builds a real file with zipfile and compares it with the same
table read as CSV."""

from __future__ import annotations

import csv
import textwrap
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from dialect_support import run_flow

from atomiton.nodes.spreadsheet import Params, run

_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _write_ods(path: Path, sheets: dict[str, str]) -> Path:
    """An .ods file as an editor writes it: mimetype first and stored, then the manifest and
    content.xml holding one table per sheet (``sheets``: name -> the table's rows as XML)."""
    tables = "".join(
        f'<table:table table:name="{name}"><table:table-column table:number-columns-repeated="3"/>'
        f"{rows}</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NAMESPACES} '
        f'office:version="1.2"><office:body><office:spreadsheet>{tables}'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("META-INF/manifest.xml", _MANIFEST)
        archive.writestr("content.xml", content)
    return path


def _text(value: str, repeat: int = 1) -> str:
    repeated = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return f'<table:table-cell office:value-type="string"{repeated}><text:p>{value}</text:p></table:table-cell>'


def _row(*cells: str, repeat: int = 1) -> str:
    repeated = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-row{repeated}>{''.join(cells)}</table:table-row>"


EMPTY_CELLS = '<table:table-cell table:number-columns-repeated="1021"/>'
# What an editor writes below the data: a million empty rows in one element.
EMPTY_ROWS = _row('<table:table-cell table:number-columns-repeated="1024"/>', repeat=1048570)

TABLE = [
    ["name", "city", "note"],
    ["Ada", "London", "first  two spaces"],
    ["Bo", "x", "x"],
    ["Cy", "Paris", ""],
    ["Cy", "Paris", ""],
    ["Di", "", "tab\there"],
]
ROWS = (
    _row(_text("name"), _text("city"), _text("note"), EMPTY_CELLS)
    + _row(_text("Ada"), _text("London"), _text('first<text:s text:c="2"/>two spaces'))
    + _row(_text("Bo"), _text("x", repeat=2), EMPTY_CELLS)
    + _row('<table:table-cell table:number-columns-repeated="3"/>')  # an empty row: skipped
    + _row(_text("Cy"), _text("Paris"), repeat=2)
    + _row(_text("Di"), "<table:table-cell/>", _text("tab<text:tab/>here"))
    + EMPTY_ROWS
)


def _as_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_an_ods_sheet_reads_as_the_same_table_as_csv(tmp_path: Path) -> None:
    ods = _write_ods(tmp_path / "table.ods", {"People": ROWS, "Other": _row(_text("z"))})
    from_ods = run(Params(path=str(ods)))
    from_csv = run(Params(path=str(_as_csv(tmp_path / "table.csv", TABLE))))
    # CSV has no empty cell, only empty text: compare with ODS's empty cells read as "".
    ods_records = [{k: ("" if v is None else v) for k, v in r.items()} for r in from_ods.records]
    assert ods_records == from_csv.records
    assert from_ods.headers == from_csv.headers == ["name", "city", "note"]
    assert from_ods.row_count == 5
    assert from_ods.sheet_name == "People" and from_ods.sheet_names == ["People", "Other"]
    # The empty row between data rows is kept; the million empty rows at the end are not rows.
    kept = run(Params.model_validate({"path": str(ods), "skipEmptyLines": False}))
    assert kept.row_count == 6 and kept.records[2] == {"name": None, "city": None, "note": None}
    other = run(
        Params.model_validate({"path": str(ods), "sheetName": "Other", "hasHeaders": False})
    )
    assert other.records == [{"column1": "z"}]


def test_typed_cells_and_the_data_input(tmp_path: Path) -> None:
    typed = _row(
        '<table:table-cell office:value-type="float" office:value="3"><text:p>3</text:p></table:table-cell>',
        '<table:table-cell office:value-type="percentage" office:value="0.25"/>',
        '<table:table-cell office:value-type="boolean" office:boolean-value="true"/>',
        '<table:table-cell office:value-type="date" office:date-value="2024-01-31T10:30:00"/>',
        "<table:covered-table-cell/>",
        _text("last"),
    )
    ods = _write_ods(tmp_path / "typed.ods", {"T": _row(*(_text(c) for c in "abcdef")) + typed})
    result = run(Params(format="ods"), data=ods.read_bytes())
    assert result.records == [
        {"a": 3, "b": 0.25, "c": True, "d": datetime(2024, 1, 31, 10, 30), "e": None, "f": "last"}
    ]
    streamed = run(Params(path=str(ods), stream=True))
    assert streamed.row_count is None and list(streamed.records) == result.records


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a zip", "cannot open"), (None, "holds no sheet")],
)
def test_a_broken_ods_file_is_a_clear_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.ods"
    if content is None:
        _write_ods(path, {})
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        run(Params(path=str(path)))
    with pytest.raises(ValueError, match="read only"):
        run(Params(operation="write", path=str(path)), data=[{"a": 1}])


def test_an_atomiton_flow_reads_an_ods_file(tmp_path: Path) -> None:
    _write_ods(tmp_path / "people.ods", {"People": ROWS})
    flow = tmp_path / "flow.yaml"
    flow.write_text(textwrap.dedent(f"""\
            type: composite
            nodes:
              - {{id: read, type: csv-reader, data: {{filePath: {str(tmp_path / "people.ods")!r}}}}}
            """))
    records = run_flow(flow, tmp_path)["read"]
    assert [r["name"] for r in records] == ["Ada", "Bo", "Cy", "Cy", "Di"]
