"""The ``spreadsheet`` node: read and write CSV, TSV and XLSX as records, and read ODS.

It owns the table shape (header row, record keys, empty rows) and the three formats; CSV and TSV
use the standard ``csv`` module, XLSX uses openpyxl (imported only when an XLSX file is touched),
ODS is ``spreadsheet_ods``'s (the standard library's zip and XML readers).
Writes go through ``runtime.files.atomic_writer``, and look at the cancel flag on every row and
every write, so a cancelled run stops a long streamed write at once and keeps the old file. With
``stream: true`` rows are produced and consumed one at a time, so file size does not bound memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Final, Literal, cast

from pydantic import Field, field_validator

from ..runtime.confine import check_path
from ..runtime.files import atomic_writer
from .spec import NodeParams, Port, Purity, node_spec

if TYPE_CHECKING:
    from ..runtime.context import NodeContext

Format = Literal["csv", "tsv", "xlsx", "ods"]
Record = dict[str, Any]

_EXTENSIONS: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".ods": "ods",
}
_DEFAULT_SHEET: Final = "Sheet1"
# Rows per chunk handed to the file when writing CSV: few system calls, bounded memory.
_ROWS_PER_CHUNK: Final = 512


class Params(NodeParams):
    """Parameters of the ``spreadsheet`` node."""

    operation: Literal["read", "write"] = Field(default="read", description="read or write.")
    path: str | None = Field(
        default=None,
        description="The file. read: optional when the `data` input brings the text; write: required.",
    )
    format: Format | None = Field(
        default=None,
        description="csv, tsv, xlsx or ods (read only); by default taken from the path's extension (csv when there is no path).",
    )
    sheet_name: str | None = Field(
        default=None,
        description="XLSX or ODS sheet to read (wins over sheetIndex), or XLSX sheet to write (default Sheet1).",
    )
    sheet_index: int | None = Field(
        default=None,
        ge=0,
        description="XLSX or ODS sheet to read, counting from 0. Default: the first sheet.",
    )
    has_headers: bool = Field(
        default=True,
        description=(
            "The first row holds column names. false: every row is data and records use the keys "
            "column1, column2, ...; on write, no header row is written."
        ),
    )
    delimiter: str | None = Field(
        default=None,
        description="Field separator for CSV/TSV; default `,` for csv and a tab for tsv.",
    )
    skip_empty_lines: bool = Field(default=True, description="Skip rows whose cells are all empty.")
    encoding: str = Field(
        default="utf-8",
        description="Text encoding of CSV/TSV files; a UTF-8 byte-order mark is removed on read.",
    )
    stream: bool = Field(
        default=False,
        description=(
            "read: records is an iterator that reads rows as they are consumed (constant memory; "
            "rowCount is then null); write: rows are written as they arrive from an iterator."
        ),
    )
    follow_symlinks: bool = Field(
        default=False,
        description=(
            "write: when the file is a symbolic link, write the file it points at (the link "
            "stays); when it is a FIFO or a device, write into it. false refuses such targets."
        ),
    )

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"a delimiter is one character, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


@dataclass(frozen=True, slots=True)
class Output:
    """What the ``spreadsheet`` node produces.

    Attributes:
        records: read: one dict per data row, keyed by header (a lazy iterator when streaming);
            write: the rows given, when they were a list (an empty list after writing from an
            iterator, which has been consumed).
        headers: the column names (column1... without a header row).
        row_count: data rows read or written; None for a streaming read (not known in advance).
        sheet_name: the XLSX sheet read or written; None for CSV/TSV.
        sheet_names: every sheet of the XLSX workbook; empty for CSV/TSV.
    """

    # Any: a list of dicts, or an iterator of them with stream: true (chosen in the blueprint).
    records: Annotated[Any, Port(type="array<object>", description="One object per data row.")]
    headers: Annotated[list[str], Port(description="Column names.")]
    row_count: Annotated[
        int | None, Port(description="Data rows read or written (null for a streaming read).")
    ]
    sheet_name: Annotated[
        str | None, Port(description="The XLSX sheet read or written (null for CSV and TSV).")
    ]
    sheet_names: Annotated[list[str], Port(description="Every sheet of the XLSX workbook.")]


def run(
    params: Params,
    *,
    data: Annotated[
        object,
        Port(description="read: CSV/TSV text or XLSX bytes to parse; write: the rows to write."),
    ] = None,
    path: Annotated[
        str | os.PathLike[str] | None,
        Port(description="The file (overrides the path parameter)."),
    ] = None,
    context: NodeContext | None = None,
) -> Output:
    """Read a table into records, or write records (or rows) to a file.

    Args:
        params: the node's parameters.
        data: read: CSV/TSV text (or XLSX bytes) to parse instead of reading ``path``; write: the
            rows, as dicts (columns from their keys) or as lists (written as they are), in a list
            or any iterable.
        path: overrides ``params.path``.
        context: cancellation (a write stops and keeps the old file) and the run's confinement.

    Returns:
        Records, headers, count and sheet information (see ``Output``).

    Raises:
        ValueError: unknown format, missing path or rows, or a sheet that does not exist.
        FileNotFoundError: the file to read does not exist.
        NotARegularFileError: the file to write is a link, FIFO or device (``followSymlinks``).
        ConfinementError: the run is confined and the path leads outside its folders.
        CancelledError: the run was cancelled; the file written keeps its old content.
    """
    raw_path = path if path is not None else params.path
    where = Path(raw_path) if raw_path is not None and str(raw_path) != "" else None
    if where is not None and context is not None:
        check_path(where, context.allowed_paths, write=params.operation == "write")
    fmt = _format(params, where)
    if params.operation == "read":
        if data is None and where is None:
            raise ValueError("spreadsheet read needs a path or the data input")
        if fmt == "xlsx":
            return _read_xlsx(params, where, data)
        if fmt == "ods":
            return _read_ods(params, where, data)
        return _read_text(params, fmt, where, data)
    if fmt == "ods":
        raise ValueError("spreadsheet writes CSV, TSV or XLSX; ODS files are read only")
    if where is None:
        raise ValueError("spreadsheet write needs a path")
    if data is None:
        raise ValueError(f"spreadsheet write to {str(where)!r} needs rows on the data input")
    if isinstance(data, (str, bytes)):
        raise TypeError(
            f"spreadsheet write to {str(where)!r} needs rows, not {type(data).__name__} (write text with file-system)"
        )
    if not isinstance(data, Iterable):
        raise TypeError(
            f"spreadsheet write to {str(where)!r} needs rows, got a {type(data).__name__}"
        )
    return _write(params, fmt, where, data, context)


def _format(params: Params, where: Path | None) -> Format:
    if params.format is not None:
        return params.format
    if where is None:
        return "csv"
    suffix = where.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".xls":
        raise ValueError(
            f"{str(where)!r}: the old binary .xls format is not supported; save it as .xlsx"
        )
    raise ValueError(
        f"cannot tell the format of {str(where)!r} from its extension; set format: csv, tsv or xlsx"
    )


# -- table shape --------------------------------------------------------------------------------


def _is_empty(row: Sequence[object]) -> bool:
    return all(cell is None or cell == "" for cell in row)


def _header_names(row: Sequence[object]) -> list[str]:
    """Column names from a header row: blanks become columnN, repeats get _2, _3..."""
    names: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(row, start=1):
        base = str(cell).strip() if cell is not None and str(cell).strip() else f"column{index}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        names.append(name)
    return names


def _generic_names(width: int) -> list[str]:
    return [f"column{i}" for i in range(1, width + 1)]


def _record(headers: Sequence[str], row: Sequence[object]) -> Record:
    # Short rows get None for the missing cells; extra cells keep their position as a name.
    record: Record = dict(zip(headers, row))
    if len(row) < len(headers):
        for name in headers[len(row) :]:
            record[name] = None
    elif len(row) > len(headers):
        for index in range(len(headers), len(row)):
            record.setdefault(f"column{index + 1}", row[index])
    return record


def _trim(row: Sequence[object]) -> Sequence[object]:
    # XLSX rows carry trailing empty cells up to the sheet's used width.
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end] if end != len(row) else row


def _table(
    params: Params, rows: Iterator[Sequence[object]], *, lazy: bool
) -> tuple[list[str], Any, int | None]:
    """(headers, records, row count) from raw rows, eagerly or as an iterator."""
    if params.skip_empty_lines:
        rows = (row for row in rows if not _is_empty(row))
    if params.has_headers:
        first = next(rows, None)
        headers = _header_names(first) if first is not None else []
        if lazy:
            return headers, (_record(headers, row) for row in rows), None
        records = [_record(headers, row) for row in rows]
        return headers, records, len(records)
    if lazy:
        # The width is only known row by row, so the headers come from the first row.
        first = next(rows, None)
        if first is None:
            return [], iter(()), None
        headers = _generic_names(len(first))

        def generic() -> Iterator[Record]:
            yield dict(zip(headers, first))
            for row in rows:
                yield dict(zip(_generic_names(len(row)), row))

        return headers, generic(), None
    materialised = list(rows)
    width = max((len(row) for row in materialised), default=0)
    headers = _generic_names(width)
    records = [_record(headers, row) for row in materialised]
    return headers, records, len(records)


# -- CSV and TSV --------------------------------------------------------------------------------


def _read_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _read_text(params: Params, fmt: Format, where: Path | None, data: object) -> Output:
    delimiter = params.delimiter or ("\t" if fmt == "tsv" else ",")
    handle: IO[str]
    if data is not None:
        if isinstance(data, (bytes, bytearray)):
            data = bytes(data).decode(_read_encoding(params.encoding))
        if not isinstance(data, str):
            raise TypeError(
                f"spreadsheet read parses text from the data input, got a {type(data).__name__}"
            )
        handle = io.StringIO(data.removeprefix("\ufeff"), newline="")
    else:
        assert where is not None
        handle = _open_text(where, params.encoding)
    reader = csv.reader(handle, delimiter=delimiter, strict=False)
    if not params.stream:
        with handle:
            headers, records, count = _table(params, _rows(reader, where), lazy=False)
        return Output(records, headers, count, None, [])
    try:
        headers, records, _ = _table(params, _rows(reader, where), lazy=True)
    except BaseException:
        handle.close()
        raise
    return Output(_closing(records, handle.close), headers, None, None, [])


def _open_text(where: Path, encoding: str) -> IO[str]:
    if where.is_dir():
        raise IsADirectoryError(f"{str(where)!r} is a folder, not a spreadsheet file")
    try:
        # newline="" hands line endings to the csv module, which keeps newlines inside quotes.
        return open(where, encoding=_read_encoding(encoding), newline="")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {str(where)!r}") from None


def _rows(reader: Iterator[list[str]], where: Path | None) -> Iterator[list[str]]:
    try:
        yield from reader
    except (csv.Error, UnicodeDecodeError) as exc:
        name = str(where) if where is not None else "the data input"
        raise ValueError(f"cannot parse {name!r}: {exc}") from None


def _closing(records: Iterator[Record], close: Callable[[], None]) -> Iterator[Record]:
    """Yield the records, then close the file, also when the consumer stops early."""
    try:
        yield from records
    finally:
        close()


def _text_chunks(
    params: Params, fmt: Format, headers: list[str] | None, rows: Iterator[Sequence[object]]
) -> Iterator[bytes]:
    buffer = io.StringIO()
    # QUOTE_MINIMAL quotes only fields holding the delimiter, a quote or a line break.
    writer = csv.writer(buffer, delimiter=params.delimiter or ("\t" if fmt == "tsv" else ","))
    if headers is not None:
        writer.writerow(headers)
    pending = 1 if headers is not None else 0
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
        pending += 1
        if pending >= _ROWS_PER_CHUNK:
            yield buffer.getvalue().encode(params.encoding)
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue().encode(params.encoding)


# -- XLSX ---------------------------------------------------------------------------------------


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "XLSX files need openpyxl: pip install 'atomiton[xlsx]'", name=exc.name
        ) from None
    return openpyxl


def _read_xlsx(params: Params, where: Path | None, data: object) -> Output:
    openpyxl = _openpyxl()

    source, name = workbook_source("XLSX", where, data)
    try:
        # read_only streams rows from the zip instead of building the whole sheet in memory;
        # data_only gives the cached results of formulas, not their text.
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException...
        raise ValueError(f"cannot open {name!r} as an XLSX workbook: {exc}") from None
    try:
        names = list(workbook.sheetnames)
        sheet_title = _pick_sheet(params, names, name)
        rows = (_trim(row) for row in workbook[sheet_title].iter_rows(values_only=True))
        if not params.stream:
            headers, records, count = _table(params, rows, lazy=False)
            workbook.close()
            return Output(records, headers, count, sheet_title, names)
        headers, records, _ = _table(params, rows, lazy=True)
    except BaseException:
        workbook.close()
        raise
    return Output(_closing(records, workbook.close), headers, None, sheet_title, names)


def workbook_source(kind: str, where: Path | None, data: object) -> tuple[Path | io.BytesIO, str]:
    """A binary workbook to read: the bytes on the data input, else the file at ``where``; and
    how messages name it.

    Raises:
        TypeError: ``data`` is not bytes.
        FileNotFoundError, IsADirectoryError: ``where`` is not a file.
    """
    if data is not None:
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(
                f"spreadsheet read of {kind} takes the workbook's bytes on the data input, "
                f"got a {type(data).__name__}"
            )
        return io.BytesIO(bytes(data)), "the data input"
    assert where is not None
    if not where.is_file():
        if where.exists():
            raise IsADirectoryError(f"{str(where)!r} is a folder, not a spreadsheet file")
        raise FileNotFoundError(f"no such file: {str(where)!r}")
    return where, str(where)


def _read_ods(params: Params, where: Path | None, data: object) -> Output:
    from .spreadsheet_ods import ods_rows, ods_tables  # here: the XML reader is for ODS only

    name, tables = ods_tables(*workbook_source("ODS", where, data))
    names = list(tables)
    sheet_title = _pick_sheet(params, names, name)
    rows = ods_rows(tables[sheet_title])
    headers, records, count = _table(params, rows, lazy=params.stream)
    return Output(records, headers, count, sheet_title, names)


def _pick_sheet(params: Params, names: list[str], where: str) -> str:
    listed = ", ".join(repr(n) for n in names)
    if params.sheet_name is not None:
        if params.sheet_name not in names:
            raise ValueError(
                f"{where!r} has no sheet {params.sheet_name!r}; its sheets are {listed}"
            )
        return params.sheet_name
    index = params.sheet_index or 0
    if index >= len(names):
        raise ValueError(
            f"{where!r} has {len(names)} sheet(s), so sheetIndex {index} does not exist "
            f"(counting from 0); its sheets are {listed}"
        )
    return names[index]


def _write_xlsx(
    handle: IO[bytes], sheet: str, headers: list[str] | None, rows: Iterator[Sequence[object]]
) -> None:
    openpyxl = _openpyxl()

    # write_only keeps rows on disk as they are appended, so memory stays flat.
    workbook = openpyxl.Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet)
    try:
        if headers is not None:
            worksheet.append(headers)
        for row in rows:
            worksheet.append(list(row))
        workbook.save(handle)
    except BaseException:
        _discard(worksheet)
        raise


def _discard(worksheet: Any) -> None:
    # openpyxl has no public way to drop a write-only sheet that failed (or was cancelled)
    # midway: close it, then remove the file it keeps rows in, which would otherwise stay in the
    # system's temporary folder until the interpreter exits.
    with contextlib.suppress(Exception):
        worksheet.close()
    with contextlib.suppress(Exception):
        worksheet._writer.cleanup()


# -- writing ------------------------------------------------------------------------------------


def _write(
    params: Params,
    fmt: Format,
    where: Path,
    data: Iterable[object],
    context: NodeContext | None,
) -> Output:
    kept = data if isinstance(data, list) else list(data) if isinstance(data, tuple) else []
    # A list is in memory anyway, so its columns can come from every record; an iterator's
    # only from the first, or the whole stream would have to be held.
    if isinstance(data, (list, tuple)):
        headers, rows = _shape_all(list(data))
    else:
        headers, rows = _shape_stream(iter(data))
    counted = _Counter(rows, context)
    written_headers = headers if params.has_headers and headers else None
    sheet = params.sheet_name or _DEFAULT_SHEET
    with atomic_writer(where, follow_symlinks=params.follow_symlinks, context=context) as handle:
        if fmt == "xlsx":
            checked = handle if context is None else cast(IO[bytes], _Checked(handle, context))
            _write_xlsx(checked, sheet, written_headers, counted)
        else:
            for chunk in _text_chunks(params, fmt, written_headers, counted):
                handle.write(chunk)
    return Output(
        kept,
        headers,
        counted.count,
        sheet if fmt == "xlsx" else None,
        [sheet] if fmt == "xlsx" else [],
    )


class _Checked:
    """A file whose every write first looks at the cancel flag (openpyxl's save writes a zip)."""

    def __init__(self, handle: IO[bytes], context: NodeContext) -> None:
        self._handle = handle
        self._context = context

    def write(self, data: bytes) -> int:
        self._context.check()
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _shape_all(rows: list[object]) -> tuple[list[str], Iterator[Sequence[object]]]:
    """Headers as the union of every record's keys, in order of first appearance."""
    headers: dict[str, None] = {}
    for index, row in enumerate(rows):
        if isinstance(row, Mapping):
            headers.update(dict.fromkeys(str(k) for k in row))
        elif not _is_row(row):
            raise TypeError(f"row {index} is a {type(row).__name__}; expected an object or a list")
    names = list(headers)
    return names, (_cells(names, row, index) for index, row in enumerate(rows))


def _shape_stream(rows: Iterator[object]) -> tuple[list[str], Iterator[Sequence[object]]]:
    """Headers from the first record only (the rest are not read yet); later new keys fail."""
    first = next(rows, None)
    if first is None:
        return [], iter(())
    names = [str(k) for k in first] if isinstance(first, Mapping) else []

    def shaped() -> Iterator[Sequence[object]]:
        yield _cells(names, first, 0)
        for index, row in enumerate(rows, start=1):
            if isinstance(row, Mapping) and any(str(k) not in known for k in row):
                extra = sorted(str(k) for k in row if str(k) not in known)
                raise ValueError(
                    f"row {index} has columns {extra} that the first row lacks; a streamed write "
                    "takes its columns from the first row"
                )
            yield _cells(names, row, index)

    known = set(names)
    return names, shaped()


def _is_row(row: object) -> bool:
    return isinstance(row, (list, tuple))


def _cells(headers: list[str], row: object, index: int) -> Sequence[object]:
    if isinstance(row, Mapping):
        return [_cell(row.get(name)) for name in headers]
    if isinstance(row, (list, tuple)):
        return [_cell(value) for value in row]
    raise TypeError(f"row {index} is a {type(row).__name__}; expected an object or a list")


def _cell(value: object) -> object:
    # A nested object or array has no cell type of its own; JSON text keeps it readable.
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


class _Counter(Iterator[Sequence[object]]):
    """Passes rows through and counts them, so a streamed write can report its row count."""

    def __init__(self, rows: Iterator[Sequence[object]], context: NodeContext | None) -> None:
        self._rows = rows
        self._context = context
        self.count = 0

    def __next__(self) -> Sequence[object]:
        # Once per row: a long write stops within one row of a cancel.
        if self._context is not None:
            self._context.check()
        row = next(self._rows)
        self.count += 1
        return row


def _purity(params: Mapping[str, object]) -> Purity:
    """Parsing depends on the file or data read; writing changes a file; a streamed read gives
    a one-pass iterator, which cannot be kept."""
    if params.get("operation", "read") != "read":
        return "effect"
    return "stream" if params.get("stream", False) is not False else "reads"


SPEC: Final = node_spec(
    run,
    description="Read or write CSV, TSV and XLSX tables as records; can stream large files.",
    execution="thread",
    purity=_purity,
)
