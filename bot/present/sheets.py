"""Sheets the office reads and edits: a title, columns and rows of plain values, written as
xlsx, csv (UTF-8 with BOM) or a GitHub Markdown table.

The file appears only when it is complete: it is written to a temporary file in the same
folder and renamed over the target. Text a spreadsheet would take for a formula stays text.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from bot.app.errors import DubanError

FORMATS = ("xlsx", "csv", "md")
# A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKED_FILL = "FFEB9C"

Value = str | int | float | None


@dataclass(frozen=True)
class Column:
    name: str
    width: int  # the xlsx column width, in Latin characters (a Chinese one takes two)
    # Cell values coloured in xlsx, value → RGB fill (the lights 绿/黄/红).
    fills: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sheet:
    title: str  # the first line of xlsx and md: what it is and as of when
    name: str  # the xlsx worksheet's name
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]
    subtitle: str | None = None  # a second line above the header (xlsx and md)
    marked: frozenset[int] = frozenset()  # rows (from 0) to highlight in xlsx


def choose_format(wanted: str | None, path: Path) -> str:
    """The format asked for, else the one the file name's suffix names."""
    chosen = (wanted if wanted is not None else path.suffix.lstrip(".")).strip().lower()
    if chosen in FORMATS:
        return chosen
    if wanted is None:
        raise DubanError(f"无法从文件名「{path.name}」判断格式，请用 --format 指定 xlsx、csv 或 md")
    raise DubanError(f"不支持的格式「{wanted}」：--format 可选 xlsx、csv 或 md")


def check_target(path: Path) -> None:
    """Refuses, before any work, an output path that cannot be written."""
    folder = path.parent
    if path.is_dir():
        raise DubanError(f"无法写入 {path}：这是一个目录，请给出文件名")
    if not folder.is_dir():
        raise DubanError(f"无法写入 {path}：目录 {folder} 不存在")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DubanError(f"无法写入 {path}：没有写权限")


def render(sheet: Sheet, fmt: str) -> bytes:
    if fmt == "xlsx":
        return render_xlsx(sheet)
    if fmt == "csv":
        return render_csv(sheet)
    if fmt == "md":
        return render_md(sheet)
    raise DubanError(f"不支持的格式「{fmt}」：可选 xlsx、csv 或 md")


def _neutral(value: Value) -> Value:
    """A text cell a spreadsheet would take for a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a BOM, so Excel reads the Chinese; the header row first, no title row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in sheet.columns])
    for row in sheet.rows:
        writer.writerow(["" if v is None else _neutral(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|~&"})
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def md_cell(value: Value) -> str:
    """Markdown punctuation escaped (so `|` stays in its cell), control characters dropped,
    line breaks as <br>."""
    if value is None:
        return ""
    text = _text(str(value)).translate(_MD_SPECIAL)
    return "<br>".join(_LINE_BREAK.split(text))


def render_md(sheet: Sheet) -> bytes:
    lines = [f"# {md_cell(sheet.title)}", ""]
    if sheet.subtitle is not None:
        lines += [md_cell(sheet.subtitle), ""]
    lines.append("| " + " | ".join(md_cell(c.name) for c in sheet.columns) + " |")
    lines.append("|" + "|".join(" --- " for _ in sheet.columns) + "|")
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in sheet.rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _sheet_name(name: str) -> str:
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in name).strip("'")
    return cleaned[:31] or "Sheet1"


def render_xlsx(sheet: Sheet) -> bytes:
    """A title row, a bold frozen header with a filter, wrapped text, set column widths."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = _sheet_name(sheet.name)
    width = len(sheet.columns)
    last = get_column_letter(width)
    ws.cell(row=1, column=1, value=_text(sheet.title)).font = Font(bold=True, size=14)
    if width > 1:
        ws.merge_cells(f"A1:{last}1")
    ws.row_dimensions[1].height = 24
    top = 2
    if sheet.subtitle is not None:
        ws.cell(row=2, column=1, value=_text(sheet.subtitle))
        top = 3
    header_fill = PatternFill("solid", fgColor="D9E1F2")
    for index, column in enumerate(sheet.columns, start=1):
        head = ws.cell(row=top, column=index, value=column.name)
        head.font = Font(bold=True)
        head.fill = header_fill
        head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(index)].width = column.width
    wrap = Alignment(vertical="top", wrap_text=True)
    marked = PatternFill("solid", fgColor=MARKED_FILL)
    for number, row in enumerate(sheet.rows):
        r = top + 1 + number
        for index, (column, value) in enumerate(zip(sheet.columns, row, strict=True), start=1):
            shown = _text(value) if isinstance(value, str) else value
            cell = ws.cell(row=r, column=index, value=shown)
            if cell.data_type == "f":  # text starting with "=" is text, not a formula
                cell.data_type = "s"
            cell.alignment = wrap
            if isinstance(value, str) and value in column.fills:
                cell.fill = PatternFill("solid", fgColor=column.fills[value])
            elif number in sheet.marked:
                cell.fill = marked
    ws.freeze_panes = f"A{top + 1}"
    ws.auto_filter.ref = f"A{top}:{last}{max(top, len(sheet.rows) + top)}"
    ws.print_title_rows = f"{top}:{top}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _text(value: str) -> str:
    """Control characters an xlsx file cannot hold are dropped (tabs and newlines stay)."""
    return str(ILLEGAL_CHARACTERS_RE.sub("", value))


def write_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file in the same folder, renamed over it
    once complete: a failure leaves no file, or the previous one untouched."""
    check_target(path)
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise DubanError(f"无法写入 {path}：{exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise DubanError(f"无法写入 {path}：{exc.strerror or exc}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    """The mode of the file replaced, else what a new file gets (0666 less the umask)."""
    if path.exists():
        return path.stat().st_mode & 0o7777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
