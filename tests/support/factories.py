"""Factories for test inputs: plan documents, directories and raw tasks."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bot.intake.directory import Directory, DirectoryFile
from bot.intake.model import RawTask


def write_plan(folder: Path, text: str, name: str = "plan.txt") -> Path:
    """Writes a plan document (dedented) and returns its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    return path


def make_directory(**sections: Any) -> Directory:
    """A unit directory from the same mapping the TOML file holds."""
    return Directory.build(DirectoryFile.model_validate(sections))


def make_raw_task(**overrides: Any) -> RawTask:
    values: dict[str, Any] = {
        "number": "1",
        "text": "新增公共停车位 1000 个。",
        "leads": ("市住建局",),
        "co_units": ("市财政局",),
    }
    return RawTask(**{**values, **overrides})


TABLE: list[list[str | None]] = [
    ["2020年重点工作任务责任分解表", None, None, None, None],
    ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"],
    ["一、王五副市长牵头重点工作", None, None, None, None],
    ["1", "新增公共停车位 1000 个。", "市住建局", "市财政局、各县(区)政府", "10月底前"],
    ["2", "引进大学生 1.2 万名以上。", "市委组织部(市人才办)", "市人力社保局", "上半年"],
]


def write_table(folder: Path, suffix: str, rows: list[list[str | None]] | None = None) -> Path:
    """The same small plan as a .csv, .xlsx or .docx table."""
    rows = rows if rows is not None else TABLE
    path = folder / f"plan{suffix}"
    if suffix == ".csv":
        import csv

        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows([[c or "" for c in row] for row in rows])
    elif suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        import docx

        document = docx.Document()
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.cell(r, c).text = value or ""
        document.save(str(path))
    return path
