"""Reads a document file of any supported kind into a parsed plan, or says what is wrong."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.app.errors import IntakeError
from bot.intake.chrome import document_year
from bot.intake.directory import Directory
from bot.intake.model import ParsedPlan, RawDocument
from bot.intake.resolve import resolve
from bot.intake.tables import Overrides, docx_text, read_csv, read_docx, read_xlsx
from bot.intake.text import read_text

SUFFIXES = (".txt", ".text", ".md", ".docx", ".xlsx", ".csv")
# Formats offices use that duban does not read, and what to save them as.
SAVE_AS = {
    ".doc": "请用 Word 或 WPS 另存为 .docx 后再导入",
    ".wps": "请用 WPS 另存为 .docx 后再导入",
    ".xls": "请用 Excel 或 WPS 另存为 .xlsx 后再导入",
    ".et": "请用 WPS 另存为 .xlsx 后再导入",
    ".pdf": "请把原文另存为 .docx，或把文字复制为 .txt 后再导入",
}


def read_plan(
    path: Path, directory: Directory, year: int | None = None, columns: Overrides | None = None
) -> ParsedPlan:
    """Parses `path` (text, Word, Excel or CSV); raises IntakeError naming the problem.
    `columns` gives table columns the operator named (`--columns 内容=民生实事`)."""
    raw = read_raw(path, columns)
    if not raw.tasks:
        raise IntakeError(str(path), "未识别到任何编号任务（如「1.任务内容」后接「责任单位:」）")
    return resolve(raw, directory, year)


def read_raw(path: Path, columns: Overrides | None = None) -> RawDocument:
    """The document's raw tasks; its year from the file name when the text names none."""
    raw = _read_kind(path, columns)
    return raw if raw.year else replace(raw, year=document_year(raw.title, (), path.name))


def _read_kind(path: Path, columns: Overrides | None) -> RawDocument:
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in SAVE_AS:
        raise IntakeError(source, f"不能直接读取 {suffix} 文件，{SAVE_AS[suffix]}")
    if suffix not in SUFFIXES:
        raise IntakeError(
            source, f"不支持的文件类型「{suffix or '无扩展名'}」，支持 {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise IntakeError(source, "文件不存在")
    if path.stat().st_size == 0:
        raise IntakeError(source, "文件为空")
    if suffix == ".xlsx":
        return read_xlsx(path, columns)
    if suffix == ".csv":
        return read_csv(path, columns)
    if suffix == ".docx":
        table = read_docx(path, columns)
        return table if table is not None else read_text(docx_text(path), source=source)
    return read_text(decode_text(path), source=source)


def decode_text(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030; binary content is refused."""
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise IntakeError(str(path), "不是文本文件（含二进制内容）")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.strip():
            return text
        raise IntakeError(str(path), "文件为空")
    raise IntakeError(str(path), "无法识别文本编码（支持 UTF-8 与 GB18030）")
