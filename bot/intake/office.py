"""Cells out of files: Excel sheets, Word tables and paragraphs, CSV rows — for `tables`.

Every cell becomes a `str` or None, so that `tables.read_table_rows` reads all three alike.
Errors about broken or unreadable files become `IntakeError`s naming the file.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import docx
import openpyxl
from docx.document import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from openpyxl.utils.exceptions import InvalidFileException

from bot.app.errors import IntakeError

Cells = list[str | None]
Sheet = list[Cells]
# A Word body in document order: a paragraph's text, or a table's rows.
WordBlock = str | Sheet

# lxml's XMLSyntaxError derives from SyntaxError; catching that avoids importing lxml (no stubs).
_BROKEN_FILE = (
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    OSError,
    SyntaxError,
    InvalidFileException,
    PackageNotFoundError,
)
_TITLE_HINT = re.compile("分解|重点工作|任务")


def xlsx_sheets(path: Path) -> list[Sheet]:
    """Every worksheet's rows, in workbook order, as text cells."""
    try:
        with _quiet_openpyxl():
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                return [
                    [_cells(row) for row in ws.iter_rows(values_only=True)]
                    for ws in workbook.worksheets
                ]
            finally:
                workbook.close()
    except _BROKEN_FILE as error:
        raise IntakeError(str(path), f"无法读取 Excel 文件：{_describe(error)}") from error


def csv_rows(path: Path) -> list[list[str]]:
    """A CSV export's rows, UTF-8 (with or without BOM) or GB18030 as Chinese Excel writes it."""
    try:
        return list(csv.reader(io.StringIO(_decode(path.read_bytes()), newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise IntakeError(str(path), f"无法读取 CSV 文件：{_describe(error)}") from error


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


@contextmanager
def _quiet_openpyxl() -> Iterator[None]:
    # openpyxl warns about workbook features it drops (data validation, default styles);
    # none of them matter for reading cell text, and operators can do nothing about them.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        yield


def _cells(row: tuple[Any, ...]) -> Cells:
    return [excel_text(value) for value in row]


def excel_text(value: object) -> str | None:
    """A cell value as the document's reader would write it: dates as ISO, 12.0 as "12"."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def docx_blocks(path: Path) -> list[WordBlock]:
    """The document body in order: paragraph texts and table rows (nested tables ignored)."""
    document = _open_docx(path)
    return [
        block.text if not isinstance(block, Table) else _table_rows(block)
        for block in document.iter_inner_content()
    ]


def docx_text(path: Path) -> str:
    """The body's text in order, paragraphs and the text of table cells (each merged cell
    once), for a document whose tables are layout, not a task table."""
    lines: list[str] = []
    for block in docx_blocks(path):
        if isinstance(block, str):
            lines.append(block)
        else:
            lines += [v for row in block for v in dict.fromkeys(c for c in row if c and c.strip())]
    return "\n".join(lines)


def _open_docx(path: Path) -> Document:
    try:
        return docx.Document(str(path))
    except _BROKEN_FILE as error:
        raise IntakeError(str(path), f"无法读取 Word 文件：{_describe(error)}") from error


def _table_rows(table: Table) -> Sheet:
    # python-docx repeats a merged cell once per grid column it spans (and repeats the top
    # cell of a vertical merge), so column positions stay aligned with the header.
    rows: Sheet = []
    for row in table.rows:
        lead: Cells = [None] * row.grid_cols_before
        rows.append(lead + [cell.text for cell in row.cells])
    return rows


def title_before(blocks: list[WordBlock], table: Sheet) -> str | None:
    """The last title-like paragraph above `table`, e.g. 「2020年重点工作任务责任分解」."""
    above = blocks[: next(i for i, block in enumerate(blocks) if block is table)]
    lines = [block.strip() for block in above if isinstance(block, str)]
    titled = [line for line in lines if _TITLE_HINT.search(line) and len(line) <= 60]
    return titled[-1].strip("《》") if titled else None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
