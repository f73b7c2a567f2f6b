"""The import preview: counts, flags, and the review sheet that reads back as it was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.intake.directory import Directory
from bot.intake.model import ParsedPlan, ParsedTask
from bot.intake.reader import read_plan
from bot.intake.review import Review, review_plan, review_sheet
from bot.present.sheets import render, write_atomic
from tests.intake.corpus.accuracy import CORPUS, records
from tests.support.factories import make_directory, write_plan
from tests.support.paths import SAMPLE, SAMPLE_UNITS

DOCUMENTS = [SAMPLE, *(CORPUS / r["file"] for r in records())]


def essentials(task: ParsedTask) -> tuple[Any, ...]:
    return (
        task.number,
        task.text,
        task.section,
        task.supervisor,
        task.lead,
        task.co_units,
        task.co_leads,
        task.deadline,
        task.milestones,
    )


def round_trip(plan: ParsedPlan, directory: Directory, folder: Path) -> ParsedPlan:
    path = folder / "review.xlsx"
    write_atomic(path, render(review_sheet(plan, review_plan(plan, directory)), "xlsx"))
    return read_plan(path, directory)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.stem)
def test_the_review_sheet_reads_back_exactly(document: Path, tmp_path: Path) -> None:
    directory = Directory() if document != SAMPLE else make_directory()
    plan = read_plan(document, directory)
    back = round_trip(plan, directory, tmp_path)
    assert (back.title, back.year) == (plan.title, plan.year)
    assert [essentials(t) for t in back.tasks] == [essentials(t) for t in plan.tasks]


def preview(text: str, folder: Path, directory: Directory) -> tuple[ParsedPlan, Review]:
    plan = read_plan(write_plan(folder, text), directory)
    return plan, review_plan(plan, directory)


def test_the_preview_counts_tasks_units_and_what_is_missing(tmp_path: Path) -> None:
    _, review = preview(
        """
        2023年重点工作任务分解
        1.新增公共停车位 1000 个，10月底前完成。
        责任单位:市发改委、市住建局
        2.建设小干岛中央商务区。
        """,
        tmp_path,
        make_directory(units={"市发改委": {}}),
    )
    assert (review.tasks, review.units, review.new_units) == (2, 2, ["市住建局"])
    assert (review.without_units, review.without_deadline) == (1, 1)
    assert [(f.number, f.problem) for f in review.flags] == [("2", "未找到责任单位")]


def test_a_name_close_to_the_directorys_is_offered_in_its_place(tmp_path: Path) -> None:
    _, review = preview(
        "1.新增公共停车位 1000 个。\n责任单位:市发该委",
        tmp_path,
        make_directory(units={"市发改委": {}}),
    )
    assert [f.problem for f in review.flags] == [
        "单位「市发该委」不在单位名录中，是否为「市发改委」？"
    ]


def test_a_unit_name_with_a_label_or_bracket_left_in_it_is_flagged(tmp_path: Path) -> None:
    _, review = preview(
        "1.新增公共停车位 1000 个。\n责任单位:市发改委）、【市财政局",
        tmp_path,
        Directory(),
    )
    assert [f.problem for f in review.flags] == [
        "单位名「市发改委)」含标签或括号，请核对",
        "单位名「【市财政局」含标签或括号，请核对",
    ]


def test_flagged_rows_are_highlighted_in_the_review_sheet(tmp_path: Path) -> None:
    plan, review = preview(
        "1.甲项工作。\n责任单位:市发改委\n2.乙项工作。",
        tmp_path,
        Directory(),
    )
    path = tmp_path / "review.xlsx"
    write_atomic(path, render(review_sheet(plan, review), "xlsx"))
    sheet = load_workbook(path).active
    assert sheet is not None
    header = [c.value for c in sheet[3]]
    assert header == ["序号", "任务内容", "牵头单位", "配合单位", "完成时限", "分管领导", "备注"]
    first, second = sheet[4], sheet[5]
    assert first[0].fill.fgColor.rgb != second[0].fill.fgColor.rgb
    assert str(second[0].fill.fgColor.rgb).endswith("FFEB9C")
    assert second[6].value == "未找到责任单位"


def test_the_sample_reads_back_with_its_directory(tmp_path: Path) -> None:
    from bot.intake.directory import load_directory

    directory = load_directory(SAMPLE_UNITS)
    plan = read_plan(SAMPLE, directory)
    back = round_trip(plan, directory, tmp_path)
    assert len(back.tasks) == 128
    assert [essentials(t) for t in back.tasks] == [essentials(t) for t in plan.tasks]
