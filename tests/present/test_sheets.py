"""Sheets (bot/present/sheets.py): the format asked for or read from the suffix, the three
formats read back, and the file written atomically."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.app.errors import DubanError
from bot.cli.exports import parse_day
from bot.present.labels import LIGHT_FILLS
from bot.present.sheets import Column, Sheet, choose_format, md_cell, render, write_atomic

# --- the format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "name", "chosen"),
    [
        ("xlsx", "a.csv", "xlsx"),
        (None, "a.XLSX", "xlsx"),
        (None, "a.md", "md"),
        ("CSV", "a", "csv"),
    ],
)
def test_the_format_is_asked_for_or_the_suffix(wanted: str | None, name: str, chosen: str) -> None:
    assert choose_format(wanted, Path(name)) == chosen


def test_a_bad_format_or_day_is_refused() -> None:
    with pytest.raises(DubanError, match="不支持的格式「pdf」"):
        choose_format("pdf", Path("a.xlsx"))
    with pytest.raises(DubanError, match=r"无法从文件名「a\.txt」判断格式"):
        choose_format(None, Path("a.txt"))
    with pytest.raises(DubanError, match="--as-of「2020-13-01」不是有效日期"):
        parse_day("2020-13-01")


# --- the formats, read back ---------------------------------------------------------------

SAMPLE = Sheet(
    title="计划 进展情况（截至2020年10月31日）",
    name="进展情况 2020-10-31",
    columns=(Column("序号", 8), Column("进展情况", 60), Column("灯", 6, fills=LIGHT_FILLS)),
    rows=(
        ("1", "A（60%，10月26日）：立项\nB（10月22日）：a|b", "红"),
        ("2", '=HYPERLINK("x")\x0b', "绿"),
        ("3", None, "黄"),
    ),
)


def test_xlsx_has_a_title_a_frozen_bold_header_and_wrapped_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    path.write_bytes(render(SAMPLE, "xlsx"))
    sheet = load_workbook(path).active
    assert isinstance(sheet, Worksheet)
    assert sheet.title == "进展情况 2020-10-31"
    assert sheet["A1"].value == SAMPLE.title
    assert sheet.freeze_panes == "A3"
    assert [c.value for c in sheet[2]] == ["序号", "进展情况", "灯"]
    assert all(c.font.bold for c in sheet[2])
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert values == [
        ["1", "A（60%，10月26日）：立项\nB（10月22日）：a|b", "红"],
        ["2", '=HYPERLINK("x")', "绿"],  # text, not a formula; the control character dropped
        ["3", None, "黄"],
    ]
    assert sheet["B4"].data_type == "s"
    assert sheet["B3"].alignment.wrap_text
    assert sheet.column_dimensions["B"].width == 60
    assert sheet["C3"].fill.fgColor.rgb.endswith("FFC7CE")


def test_csv_is_utf8_with_a_bom_and_keeps_newlines() -> None:
    data = render(SAMPLE, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["序号", "进展情况", "灯"],
        ["1", "A（60%，10月26日）：立项\nB（10月22日）：a|b", "红"],
        ["2", '\'=HYPERLINK("x")\x0b', "绿"],  # a spreadsheet must not run it
        ["3", "", "黄"],
    ]


def test_md_is_a_table_with_pipes_and_newlines_escaped() -> None:
    text = render(SAMPLE, "md").decode("utf-8")
    assert text.split("\n") == [
        "# 计划 进展情况（截至2020年10月31日）",
        "",
        "| 序号 | 进展情况 | 灯 |",
        "| --- | --- | --- |",
        "| 1 | A（60%，10月26日）：立项<br>B（10月22日）：a\\|b | 红 |",
        '| 2 | =HYPERLINK("x") | 绿 |',
        "| 3 |  | 黄 |",
        "",
    ]
    assert md_cell("<b>*x*</b> [l](u) `c` a\\b") == (
        "\\<b\\>\\*x\\*\\</b\\> \\[l\\](u) \\`c\\` a\\\\b"
    )


# --- writing the file ---------------------------------------------------------------------


def test_the_file_appears_only_when_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.csv"
    path.write_bytes(b"old")

    def broken(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(DubanError, match=r"无法写入 .*No space left on device"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.md"
    write_atomic(path, b"x")
    assert path.read_bytes() == b"x"
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(
    ("name", "problem"), [("missing/out.xlsx", "目录 .* 不存在"), (".", "这是一个目录")]
)
def test_an_unwritable_path_is_refused(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(DubanError, match=f"无法写入 .*{problem}"):
        write_atomic(tmp_path / name, b"x")
    assert list(tmp_path.iterdir()) == []
