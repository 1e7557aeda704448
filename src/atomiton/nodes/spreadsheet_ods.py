"""OpenDocument spreadsheets (``.ods``) read for the ``spreadsheet`` node, with the standard
library only.

An ``.ods`` file is a zip archive whose ``content.xml`` holds every sheet as a ``table:table`` of
``table:table-row``s of ``table:table-cell``s. This module owns that format: the sheets and their
names, typed cell values (numbers, percentages, currencies, booleans, dates, text with its
``text:s`` spaces, tabs and line breaks), cells and rows repeated by
``number-columns-repeated``/``number-rows-repeated`` (and covered cells of merged ranges), and
the long runs of empty rows and columns an editor writes at a sheet's end, which are never
expanded. The table shape (headers, records, empty rows) is the ``spreadsheet`` node's.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

_OFFICE: Final = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE: Final = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT: Final = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_CELLS: Final = (f"{{{_TABLE}}}table-cell", f"{{{_TABLE}}}covered-table-cell")
# Elements whose rows belong to the table they sit in (header rows, row groups).
_ROW_GROUPS: Final = frozenset(
    f"{{{_TABLE}}}{name}" for name in ("table-header-rows", "table-rows", "table-row-group")
)
# The largest sheet an editor makes; a repeat beyond it is a broken or hostile file.
_MAX_ROWS: Final = 1_048_576
_MAX_COLUMNS: Final = 16_384
# content.xml of a real workbook is far below this; a zip bomb is not.
_MAX_CONTENT_BYTES: Final = 512 * 1024 * 1024
_NUMBER_TYPES: Final = frozenset({"float", "percentage", "currency"})

Row = list[object]


def ods_tables(source: Path | BytesIO, name: str) -> tuple[str, dict[str, ElementTree.Element]]:
    """The sheets of an ``.ods`` workbook by name, read from ``source`` (named ``name``).

    Returns:
        The name used in messages, and each sheet's ``table:table`` element in sheet order.

    Raises:
        ValueError: the file is not an ODF spreadsheet.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            if archive.getinfo("content.xml").file_size > _MAX_CONTENT_BYTES:
                raise ValueError("content.xml is larger than any real workbook")
            root = ElementTree.fromstring(archive.read("content.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError, OSError) as exc:
        raise ValueError(f"cannot open {name!r} as an ODS spreadsheet: {exc}") from None
    tables = root.iter(f"{{{_TABLE}}}table")
    sheets = {
        table.get(f"{{{_TABLE}}}name") or f"Sheet{i}": table for i, table in enumerate(tables, 1)
    }
    if not sheets:
        raise ValueError(f"{name!r} holds no sheet (is it an ODF spreadsheet?)")
    return name, sheets


def ods_rows(table: ElementTree.Element) -> Iterator[Row]:
    """The rows of one sheet, each a list of cell values (None for an empty cell), with trailing
    empty cells left out; empty rows are yielded only when a row with data follows them."""
    pending_empty = 0
    produced = 0
    for row in _row_elements(table):
        repeat = _repeat(row, "number-rows-repeated", _MAX_ROWS)
        cells = _cells(row)
        if not cells:
            pending_empty += repeat
            continue
        for _ in range(pending_empty):
            yield []
        produced += pending_empty + repeat
        pending_empty = 0
        if produced > _MAX_ROWS:
            raise ValueError(f"the sheet has more than {_MAX_ROWS} rows")
        for _ in range(repeat):
            yield list(cells)


def _row_elements(parent: ElementTree.Element) -> Iterator[ElementTree.Element]:
    for child in parent:
        if child.tag == f"{{{_TABLE}}}table-row":
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _row_elements(child)


def _cells(row: ElementTree.Element) -> Row:
    values: Row = []
    pending_empty = 0
    for cell in row:
        if cell.tag not in _CELLS:
            continue
        repeat = _repeat(cell, "number-columns-repeated", _MAX_COLUMNS)
        value = _value(cell)
        if value is None:
            pending_empty += repeat  # written out only if a cell with data follows
            continue
        values.extend([None] * pending_empty)
        values.extend([value] * repeat)
        pending_empty = 0
        if len(values) > _MAX_COLUMNS:
            raise ValueError(f"a row has more than {_MAX_COLUMNS} columns")
    return values


def _repeat(element: ElementTree.Element, attribute: str, limit: int) -> int:
    return min(_repeat_count(element.get(f"{{{_TABLE}}}{attribute}", "1")), limit)


def _repeat_count(text: str) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        raise ValueError(f"a repeat count is not a number: {text!r}") from None


def _value(cell: ElementTree.Element) -> object:
    kind = cell.get(f"{{{_OFFICE}}}value-type")
    if kind in _NUMBER_TYPES:
        return _number(cell.get(f"{{{_OFFICE}}}value", ""))
    if kind == "boolean":
        return cell.get(f"{{{_OFFICE}}}boolean-value", "").lower() == "true"
    if kind == "date":
        text = cell.get(f"{{{_OFFICE}}}date-value", "")
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return text
    if kind == "time":
        return cell.get(f"{{{_OFFICE}}}time-value")
    text = "\n".join(_text(p) for p in cell if p.tag == f"{{{_TEXT}}}p")
    return text if text or kind == "string" else None


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _text(element: ElementTree.Element) -> str:
    """The text of a paragraph: spans, ``text:s`` (spaces), ``text:tab``, ``text:line-break``."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == f"{{{_TEXT}}}s":
            spaces = _repeat_count(child.get(f"{{{_TEXT}}}c", "1"))
            parts.append(" " * min(spaces, _MAX_COLUMNS))
        elif child.tag == f"{{{_TEXT}}}tab":
            parts.append("\t")
        elif child.tag == f"{{{_TEXT}}}line-break":
            parts.append("\n")
        else:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
