"""Every supported file kind reads into the same plan; bad files are refused clearly."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import docx
import pytest
from openpyxl import Workbook

from bot.app.errors import IntakeError
from bot.intake.reader import read_plan
from tests.support.factories import make_directory, write_plan, write_table

TEXT_PLAN = """
    2020年重点工作任务责任分解表
    一、王五副市长牵头重点工作
    1.新增公共停车位 1000 个。10月底前完成。
    责任单位:市住建局、市财政局,各县(区)政府
    2.引进大学生 1.2 万名以上。上半年完成。
    责任单位:市委组织部(市人才办)、市人力社保局
"""


def write_any(folder: Path, suffix: str) -> Path:
    if suffix == ".txt":
        return write_plan(folder, TEXT_PLAN)
    return write_table(folder, suffix)


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".xlsx", ".docx"])
def test_every_format_reads_into_the_same_plan(tmp_path: Path, suffix: str) -> None:
    plan = read_plan(write_any(tmp_path, suffix), make_directory())
    assert (plan.title, plan.year) == ("2020年重点工作任务责任分解表", 2020)
    first, second = plan.tasks
    assert (first.number, first.lead, first.co_units) == (
        "1",
        "市住建局",
        ("市财政局", "各县(区)政府"),
    )
    assert (first.supervisor, first.deadline) == ("王五", date(2020, 10, 31))
    assert (second.lead, second.deadline) == ("市委组织部", date(2020, 6, 30))
    assert [(i.value, i.unit) for i in second.indicators] == [(12000, "名")]
    assert {u.name: u.aliases for u in plan.units}["市委组织部"] == ("市人才办",)


def test_a_word_document_without_tables_is_read_as_text(tmp_path: Path) -> None:
    document = docx.Document()
    for line in TEXT_PLAN.strip().splitlines():
        document.add_paragraph(line.strip())
    path = tmp_path / "plan.docx"
    document.save(str(path))
    plan = read_plan(path, make_directory())
    assert [t.lead for t in plan.tasks] == ["市住建局", "市委组织部"]


def test_other_columns_are_kept_as_notes(tmp_path: Path) -> None:
    rows: list[list[str | None]] = [
        ["序号", "工作任务", "责任单位", "进展情况"],
        ["1", "新增公共停车位 1000 个。", "市住建局、市财政局", "已完成选址"],
    ]
    plan = read_plan(write_table(tmp_path, ".xlsx", rows), make_directory())
    assert plan.tasks[0].notes == (("进展情况", "已完成选址"),)


def refused(path: Path) -> str:
    with pytest.raises(IntakeError) as caught:
        read_plan(path, make_directory())
    assert caught.value.source == str(path)
    return caught.value.problem


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert "为空" in refused(path)


def test_a_blank_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("  \n\n", encoding="utf-8")
    assert "为空" in refused(path)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "二进制" in refused(path)


def test_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.pdf"
    path.write_bytes(b"%PDF-1.4")
    assert ".pdf" in refused(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert "不存在" in refused(tmp_path / "missing.txt")


def test_a_document_without_numbered_tasks_is_refused(tmp_path: Path) -> None:
    assert "未识别到任何编号任务" in refused(
        write_plan(tmp_path, "关于做好有关工作的通知。\n请各单位认真落实。")
    )


def test_a_table_without_a_text_column_is_refused(tmp_path: Path) -> None:
    rows: list[list[str | None]] = [["序号", "责任单位", "完成时限"], ["1", "市住建局", "10月底前"]]
    assert "内容" in refused(write_table(tmp_path, ".csv", rows))


def test_a_corrupt_spreadsheet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    assert "Excel" in refused(path)


def test_gb18030_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_bytes("1.新增公共停车位 1000 个。\n责任单位:市住建局\n".encode("gb18030"))
    assert read_plan(path, make_directory()).tasks[0].lead == "市住建局"


def test_an_excel_date_cell_is_a_deadline(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["2027年重点工作任务分解表", None, None, None],
        ["序号", "工作任务", "责任单位", "完成时限"],
        ["1", "新建人行天桥2座", "县住建局", datetime(2027, 10, 31)],
    ]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(tmp_path / "plan.xlsx")
    plan = read_plan(tmp_path / "plan.xlsx", make_directory())
    assert plan.tasks[0].deadline == date(2027, 10, 31)


def test_without_a_title_the_year_comes_from_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "2027年重点工作任务.csv"
    path.write_text("序号,工作任务,责任单位\n1,年底前建成人行天桥2座,县住建局\n", encoding="utf-8")
    plan = read_plan(path, make_directory())
    assert (plan.year, plan.tasks[0].deadline) == (2027, date(2027, 12, 31))
