from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import docx
import pytest
from docx.document import Document as WordDocument
from docx.table import Table
from openpyxl import Workbook

from bot.app.errors import IntakeError, UsageError
from bot.intake.labels import Role, parse_columns
from bot.intake.model import RawTask
from bot.intake.reader import read_plan
from bot.intake.tables import (
    Row,
    classify,
    docx_text,
    read_csv,
    read_docx,
    read_table_rows,
    read_xlsx,
)
from tests.support.factories import make_directory

TITLE = "2020年重点工作任务责任分解表"
HEADER = ["序号", "工作任务", "责任单位", "完成时限"]


def only_task(rows: Sequence[Row]) -> RawTask:
    (task,) = read_table_rows(rows, source="t").tasks
    return task


# --- header and columns ----------------------------------------------------------------------


def test_it_finds_the_header_after_a_title_row() -> None:
    rows: list[Row] = [
        [TITLE, None, None, None],
        HEADER,
        ["1", "新增公共停车位1000个", "市建设局", "2020年底"],
    ]
    document = read_table_rows(rows, source="t")
    assert document.title == TITLE
    assert document.tasks == (
        RawTask(
            number="1", text="新增公共停车位1000个", leads=("市建设局",), deadline_text="2020年底"
        ),
    )


def test_a_table_without_a_title_row_has_no_title() -> None:
    document = read_table_rows([HEADER, ["1", "任务", "市财政局", ""]], source="t")
    assert document.title is None


def test_it_prefers_a_title_like_row_over_an_attachment_label() -> None:
    rows: list[Row] = [["附件1", None], ["填报说明", None], [TITLE, TITLE], HEADER]
    assert read_table_rows(rows, source="t").title == TITLE


def test_header_cells_are_matched_with_spaces_and_line_breaks_removed() -> None:
    names = [
        "序 号",
        "工作\n任务",
        "分管领导",
        "牵头单位",
        "配合单位",
        "责任单位",
        "完成\n时限",
        "进展情况",
        "备注",
    ]
    assert classify(names) == (
        Role.NUMBER,
        Role.TEXT,
        Role.SUPERVISOR,
        Role.LEADS,
        Role.CO_UNITS,
        Role.UNITS,
        Role.DEADLINE,
        Role.NOTE,
        Role.NOTE,
    )


def test_only_the_first_text_like_column_holds_the_task_text() -> None:
    rows = [
        ["序号", "工作任务", "工作目标", "责任单位"],
        ["1", "建设停车场", "新增1000个", "市建设局"],
    ]
    task = only_task(rows)
    assert task.text == "建设停车场"
    assert task.notes == (("工作目标", "新增1000个"),)


def test_the_first_responsibility_unit_leads_and_the_rest_co_operate() -> None:
    rows = [HEADER, ["1", "任务", "市发改委、市财政局（列第一位者为牵头单位，下同）、市统计局", ""]]
    task = only_task(rows)
    assert (task.leads, task.co_units) == (("市发改委",), ("市财政局", "市统计局"))
    assert task.deadline_text is None


def test_lead_and_co_unit_columns_are_read_separately() -> None:
    rows = [
        ["序号", "重点任务", "牵头单位", "配合单位"],
        ["1", "任务", "市发改委、市经信局", "市财政局；各县（区）政府"],
    ]
    task = only_task(rows)
    assert task.leads == ("市发改委", "市经信局")
    assert task.co_units == ("市财政局", "各县（区）政府")


def test_a_two_row_header_splits_responsibility_into_lead_and_co_units() -> None:
    rows: list[Row] = [
        ["序号", "工作任务", "责任单位", None, "完成时限"],
        [None, None, "牵头单位", "配合单位", None],
        ["1", "任务", "市发改委", "市财政局", "6月底"],
    ]
    task = only_task(rows)
    assert (task.leads, task.co_units) == (("市发改委",), ("市财政局",))
    assert task.deadline_text == "6月底"


def test_a_first_task_that_reads_like_column_names_is_still_a_task() -> None:
    rows = [["序号", "工作任务", "责任单位"], ["", "做好安全生产工作", "有关单位"]]
    assert only_task(rows).text == "做好安全生产工作"


def test_the_supervisor_column_gives_name_and_title() -> None:
    rows = [
        ["序号", "工作内容", "分管领导", "责任单位"],
        ["1", "甲", "王××副市长", "市建设局"],
        ["2", "乙", "李××", "市建设局"],
    ]
    first, second = read_table_rows(rows, source="t").tasks
    assert (first.supervisor, first.supervisor_title) == ("王××", "副市长")
    assert (second.supervisor, second.supervisor_title) == ("李××", None)


def test_a_table_without_a_text_column_is_an_intake_error_naming_the_headers() -> None:
    rows = [["序号", "责任单位", "完成时限"], ["1", "市建设局", "年底"]]
    with pytest.raises(IntakeError, match=r"缺少任务内容列.*序号、责任单位、完成时限") as caught:
        read_table_rows(rows, source="plan.csv")
    assert caught.value.source == "plan.csv"


def test_rows_without_a_header_are_an_intake_error() -> None:
    with pytest.raises(IntakeError, match="未找到表头行"):
        read_table_rows([["甲", "乙"], ["丙", "丁"]], source="t")


def test_a_merged_title_full_of_column_words_is_not_a_header() -> None:
    title = "重点工作任务责任单位及完成时限分解表"
    rows: list[Row] = [[title] * 4, HEADER, ["1", "任务", "市财政局", ""]]
    assert read_table_rows(rows, source="t").title == title


# --- rows ------------------------------------------------------------------------------------


def test_section_rows_set_the_section_and_the_supervisor() -> None:
    rows: list[Row] = [
        HEADER,
        ["一、王××副市长主抓重点工作（2项）", None, None, None],
        ["1", "甲", "市建设局", ""],
        ["二、优化营商环境"] * 4,
        ["2", "乙", "市发改委", ""],
    ]
    first, second = read_table_rows(rows, source="t").tasks
    assert (first.section, first.supervisor, first.supervisor_title) == (
        "王××副市长主抓重点工作（2项）",
        "王××",
        "副市长",
    )
    assert (second.section, second.supervisor) == ("优化营商环境", None)


def test_a_subsection_keeps_its_chapters_supervisor() -> None:
    rows: list[Row] = [
        HEADER,
        ["一、李××副市长主抓重点工作"] * 4,
        ["（一）产业发展"] * 4,
        ["1", "甲", "市经信局", ""],
    ]
    task = only_task(rows)
    assert (task.section, task.supervisor) == ("产业发展", "李××")


def test_unknown_columns_are_kept_as_notes_when_filled() -> None:
    rows = [
        ["序号", "工作任务", "责任单位", "进展情况", "备注"],
        ["1", "甲", "市建设局", "已完成50%", ""],
    ]
    assert only_task(rows).notes == (("进展情况", "已完成50%"),)


def test_rows_with_a_blank_number_get_the_next_number() -> None:
    rows: list[Row] = [
        HEADER,
        ["", "甲", "市建设局", ""],
        ["5", "乙", "市建设局", ""],
        [None, "丙", "市建设局"],
    ]
    numbers = [task.number for task in read_table_rows(rows, source="t").tasks]
    assert numbers == ["1", "5", "6"]


def test_written_numbers_are_tidied() -> None:
    rows = [HEADER, ["１２、", "甲", "市建设局", ""], ["13.0", "乙", "市建设局", ""], ["3-1", "丙"]]
    numbers = [task.number for task in read_table_rows(rows, source="t").tasks]
    assert numbers == ["12", "13", "3-1"]


def test_it_skips_empty_rows_and_rows_without_task_text() -> None:
    rows: list[Row] = [
        HEADER,
        [None, None, None, None],
        ["", "  ", "", ""],
        ["9", "", "市建设局", ""],
        ["1", "甲", "市建设局", ""],
    ]
    assert [task.text for task in read_table_rows(rows, source="t").tasks] == ["甲"]


def test_task_text_lines_are_joined() -> None:
    task = only_task([HEADER, ["1", " 推进老旧小区\n 改造 \n", "市建设局", ""]])
    assert task.text == "推进老旧小区改造"


def test_a_task_without_units_is_warned_about() -> None:
    document = read_table_rows([HEADER, ["1", "甲", "", ""]], source="t")
    assert document.warnings == ("任务 1 未找到责任单位",)


# --- CSV -------------------------------------------------------------------------------------

CSV_TEXT = (
    '序号,工作任务,责任单位,完成时限\n1,新增公共停车位1000个,"市建设局、市交通局",2020年10月\n'
)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_it_reads_csv_exports_in_utf8_with_bom_and_gb18030(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "plan.csv"
    path.write_bytes(CSV_TEXT.encode(encoding))
    (task,) = read_csv(path).tasks
    assert (task.number, task.leads, task.co_units) == ("1", ("市建设局",), ("市交通局",))
    assert task.deadline_text == "2020年10月"


# --- Excel -----------------------------------------------------------------------------------


def write_workbook(path: Path) -> None:
    workbook = Workbook()
    cover = workbook.active
    assert cover is not None
    cover.title = "说明"
    cover.append(["本表由市政府督查室编制"])
    sheet = workbook.create_sheet("任务")
    sheet.append([TITLE])
    sheet.merge_cells("A1:E1")
    sheet.append(["序号", "工作任务", "责任单位", "完成时限", "进展情况"])
    sheet.append([1, "新增公共停车位1000个", "市建设局", datetime(2020, 10, 31), "已开工"])
    sheet.append([2.0, "建成5G基站", "市经信局、市通信发展办", "年底", None])
    workbook.save(path)


def test_it_reads_the_first_worksheet_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    write_workbook(path)
    document = read_xlsx(path)
    assert document.title == TITLE
    first, second = document.tasks
    assert (first.number, first.deadline_text, first.notes) == (
        "1",
        "2020-10-31",
        (("进展情况", "已开工"),),
    )
    assert (second.number, second.co_units, second.notes) == ("2", ("市通信发展办",), ())


def test_a_workbook_without_a_header_names_the_missing_text_column(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["序号", "责任单位"])
    workbook.save(tmp_path / "plan.xlsx")
    with pytest.raises(IntakeError, match="缺少任务内容列"):
        read_xlsx(tmp_path / "plan.xlsx")


def test_a_corrupt_workbook_is_an_intake_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(IntakeError, match="无法读取 Excel 文件") as caught:
        read_xlsx(path)
    assert caught.value.source == str(path)


# --- Word ------------------------------------------------------------------------------------


def add_table(document: WordDocument, rows: list[list[str]]) -> Table:
    table: Table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    return table


def write_word_plan(path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("附件")
    document.add_paragraph(TITLE)
    table = add_table(
        document,
        [
            HEADER,
            ["一、王××副市长主抓重点工作", "", "", ""],
            ["1", "新增公共停车位\n1000个", "市建设局、市交通局", "2020年10月底"],
            ["注：列第一位者为牵头单位", "", "", ""],
        ],
    )
    for row in (1, 3):
        table.cell(row, 0).merge(table.cell(row, 3))
    add_table(document, [HEADER, ["", "建成5G基站", "市经信局", "年底"]])
    document.save(str(path))


def test_it_reads_a_word_table_with_a_title_paragraph_and_a_merged_section_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.docx"
    write_word_plan(path)
    document = read_docx(path)
    assert document is not None
    assert document.title == TITLE
    first, second = document.tasks
    assert first == RawTask(
        number="1",
        text="新增公共停车位1000个",
        section="王××副市长主抓重点工作",
        supervisor="王××",
        supervisor_title="副市长",
        leads=("市建设局",),
        co_units=("市交通局",),
        deadline_text="2020年10月底",
    )
    assert (second.number, second.text, second.supervisor) == ("2", "建成5G基站", "王××")
    assert document.warnings == ("跳过合并单元格行：注：列第一位者为牵头单位",)


def test_a_word_table_may_split_responsibility_over_two_header_rows(tmp_path: Path) -> None:
    word = docx.Document()
    table = add_table(
        word,
        [
            ["序号", "工作任务", "责任单位", "", "完成时限"],
            ["", "", "牵头单位", "配合单位", ""],
            ["1", "建设停车场", "市建设局", "市交通局", "年底"],
        ],
    )
    for column in (0, 1, 4):
        table.cell(0, column).merge(table.cell(1, column))
    table.cell(0, 2).merge(table.cell(0, 3))
    word.save(str(tmp_path / "plan.docx"))
    document = read_docx(tmp_path / "plan.docx")
    assert document is not None
    (task,) = document.tasks
    assert (task.number, task.leads, task.co_units) == ("1", ("市建设局",), ("市交通局",))


def test_a_later_word_table_with_other_columns_is_reported_not_read(tmp_path: Path) -> None:
    word = docx.Document()
    add_table(word, [HEADER, ["1", "甲", "市建设局", ""]])
    add_table(word, [["序号", "工作任务", "牵头单位"], ["1", "乙", "市财政局"]])
    word.save(str(tmp_path / "plan.docx"))
    document = read_docx(tmp_path / "plan.docx")
    assert document is not None
    assert [task.text for task in document.tasks] == ["甲"]
    assert document.warnings == ("第 2 个表格的表头与第 1 个表格不同，未导入",)


def test_a_word_document_without_a_task_table_is_left_to_the_text_parser(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph(TITLE)
    word.add_paragraph("1.新增公共停车位1000个。")
    word.add_paragraph("责任单位：市建设局")
    add_table(word, [["签发人", "张三"]])
    word.save(str(tmp_path / "plan.docx"))
    assert read_docx(tmp_path / "plan.docx") is None
    assert docx_text(tmp_path / "plan.docx") == (
        f"{TITLE}\n1.新增公共停车位1000个。\n责任单位：市建设局\n签发人\n张三"
    )


def test_a_corrupt_word_file_is_an_intake_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.docx"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(IntakeError, match="无法读取 Word 文件"):
        read_docx(path)
    with pytest.raises(IntakeError, match="无法读取 Word 文件"):
        docx_text(path)


# --- columns, merged cells and continuation rows ------------------------------------------


@pytest.mark.parametrize(
    "name", ["民生实事", "重点工作", "目标任务", "工作任务", "主要内容", "具体任务", "任务内容"]
)
def test_every_content_header_word_names_the_task_column(name: str) -> None:
    task = only_task([["序号", name, "责任单位"], ["1", "新建人行天桥2座", "县住建局"]])
    assert (task.text, task.leads) == ("新建人行天桥2座", ("县住建局",))


def test_without_a_content_header_the_longest_column_holds_the_task() -> None:
    rows = [
        ["序号", "类别", "说明", "责任单位"],
        ["1", "交通", "新建人行天桥2座，缓解学校门前交通拥堵", "县住建局"],
        ["2", "教育", "新建中心幼儿园2所", "县教科局"],
    ]
    tasks = read_table_rows(rows, source="t").tasks
    assert [t.text for t in tasks] == ["新建人行天桥2座，缓解学校门前交通拥堵", "新建中心幼儿园2所"]


def test_the_operator_can_name_the_columns() -> None:
    rows = [["编号", "项目", "主办", "协办"], ["1", "新建人行天桥2座", "县住建局", "县财政局"]]
    overrides = parse_columns("内容=项目,牵头=主办,配合=协办")
    (task,) = read_table_rows(rows, source="t", overrides=overrides).tasks
    assert (task.text, task.leads, task.co_units) == (
        "新建人行天桥2座",
        ("县住建局",),
        ("县财政局",),
    )


def test_a_misnamed_column_option_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="内容=民生实事"):
        parse_columns("正文=项目")


def test_units_in_one_cell_split_on_line_breaks_and_unit_endings() -> None:
    task = only_task(
        [HEADER, ["1", "启动建设东湖湿地公园", "县水务局\n县住建局县护城河指挥部", ""]]
    )
    assert (task.leads, task.co_units) == (("县水务局",), ("县住建局", "县护城河指挥部"))


def test_a_row_continuing_the_task_above_is_the_same_task() -> None:
    rows: list[Row] = [
        HEADER,
        ["1", "启动县图书馆新馆建设，", "县文体广新局", "12月底前"],
        [None, "年内完成主体工程。", None, None],
        [None, None, "县代建中心", None],
        ["2", "新建2座人行天桥。", "县住建局", ""],
    ]
    first, second = read_table_rows(rows, source="t").tasks
    assert first.text == "启动县图书馆新馆建设，年内完成主体工程。"
    assert (first.leads, first.co_units) == (("县文体广新局",), ("县代建中心",))
    assert second.number == "2"


def test_a_vertically_merged_word_cell_is_one_task(tmp_path: Path) -> None:
    word = docx.Document()
    table = add_table(
        word,
        [
            HEADER,
            ["1", "开工建设县老年养护楼和老年大学。", "县民政局", "5月底前动工"],
            ["1", "开工建设县老年养护楼和老年大学。", "县教科局", "12月底前"],
        ],
    )
    table.cell(1, 0).merge(table.cell(2, 0))
    table.cell(1, 1).merge(table.cell(2, 1))
    word.save(str(tmp_path / "plan.docx"))
    document = read_docx(tmp_path / "plan.docx")
    assert document is not None
    (task,) = document.tasks
    assert (task.leads, task.co_units) == (("县民政局",), ("县教科局",))
    assert task.deadline_text == "5月底前动工；12月底前"


def test_a_merged_excel_row_is_one_task(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    rows: list[list[str | None]] = [
        list(HEADER),
        ["1", "开工建设县老年养护楼。", "县民政局", "5月底前"],
        [None, None, "县财政局", None],
    ]
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("A2:A3")
    sheet.merge_cells("B2:B3")
    book.save(tmp_path / "plan.xlsx")
    (task,) = read_xlsx(tmp_path / "plan.xlsx").tasks
    assert (task.leads, task.co_units) == (("县民政局",), ("县财政局",))


def test_a_word_document_whose_only_table_holds_no_tasks_is_read_as_text(
    tmp_path: Path,
) -> None:
    word = docx.Document()
    add_table(word, [["序号", "工作任务", "责任单位"]])
    word.add_paragraph(TITLE)
    word.add_paragraph("1.新增公共停车位1000个。")
    word.add_paragraph("责任单位：市建设局")
    path = tmp_path / "plan.docx"
    word.save(str(path))
    assert read_docx(path) is None
    plan = read_plan(path, make_directory())
    assert [(t.number, t.lead) for t in plan.tasks] == [("1", "市建设局")]


def test_a_layout_table_holding_the_text_is_read_as_text(tmp_path: Path) -> None:
    word = docx.Document()
    add_table(word, [[f"{TITLE}\n1.新增公共停车位1000个。\n责任单位：市建设局"]])
    path = tmp_path / "plan.docx"
    word.save(str(path))
    plan = read_plan(path, make_directory())
    assert [(t.number, t.lead) for t in plan.tasks] == [("1", "市建设局")]
