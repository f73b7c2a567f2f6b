"""The progress table (bot/supervise/progress.py) on real databases (SQLite and PostgreSQL):
as of a day, its lights, its pure parts, and its sheet read back from xlsx."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import DubanError
from bot.domain.calendar import WorkCalendar
from bot.domain.rules import RulesModel, build_rules, default_rules
from bot.present.sheets import render
from bot.store.models import Assignment, DuePoint, Plan, Task, Unit
from bot.store.queries import current_plan
from bot.supervise.progress import (
    UnitReport,
    check_as_of,
    progress_sheet,
    progress_table,
    report_line,
    responsibility_text,
    task_light,
)
from tests.support.engine import TZ, local
from tests.support.review import assignment_of, make_evidence
from tests.support.story import Story

pytestmark = pytest.mark.slow  # the ranking story, months of it, in most tests

CALENDAR = WorkCalendar()
HEADER = ["序号", "内容与要求", "进展情况", "佐证材料", "责任单位", "状态", "灯"]
TASK1 = "新增公共停车位 1000 个。10月底前完成。"
TASK2 = "建设小干岛中央商务区。"
BOTH = "牵头：市住建局；配合：市财政局"


def table(sessions: sessionmaker[Session], day: str, **rules: Any) -> list[tuple[str, ...]]:
    """The progress table as of `day`, as its sheet's rows."""
    chosen = build_rules(RulesModel(**rules)) if rules else default_rules()
    with sessions() as session:
        plan = current_plan(session)
        found = progress_table(session, plan, date.fromisoformat(day), chosen, CALENDAR)
    return [tuple(str(v) for v in row) for row in progress_sheet(found).rows]


def column(rows: list[tuple[str, ...]], name: str) -> list[str]:
    return [row[HEADER.index(name)] for row in rows]


# --- the progress table, as of a day ------------------------------------------------------


def test_the_table_before_any_reply(story: Story, sessions: sessionmaker[Session]) -> None:
    assert table(sessions, "2020-09-22") == [
        ("1", TASK1, "尚未报送", "无", BOTH, "未启动", "绿"),
        ("2", TASK2, "尚未报送", "无", "牵头：市发改委", "未启动", "绿"),
    ]


def test_each_units_latest_report_lead_first(story: Story, sessions: sessionmaker[Session]) -> None:
    story.october()
    assert table(sessions, "2020-10-31") == [
        (
            "1",
            TASK1,
            "市住建局（80%，10月20日）：主体完工\n市财政局（10月22日）：资金已拨付",
            "无",
            BOTH,
            "推进中",
            "绿",
        ),
        ("2", TASK2, "市发改委（10%，9月28日）：完成选址", "无", "牵头：市发改委", "推进中", "绿"),
    ]


def test_as_of_before_and_after_a_reply(story: Story, sessions: sessionmaker[Session]) -> None:
    story.september()
    story.reply("市财政局", "进展 #1 资金到位", "2020-10-21T23:30")  # 15:30 UTC
    story.reply("市住建局", "进展 #1 80% 主体完工", "2020-10-22T09:00")
    before, day, after = (table(sessions, d) for d in ("2020-10-20", "2020-10-21", "2020-10-22"))
    assert column(before, "进展情况")[0] == "市住建局（50%，9月23日）：已开工"
    # The end of the day in the plan's time zone, not in UTC.
    assert column(day, "进展情况")[0] == (
        "市住建局（50%，9月23日）：已开工\n市财政局（10月21日）：资金到位"
    )
    assert column(after, "进展情况")[0] == (
        "市住建局（80%，10月22日）：主体完工\n市财政局（10月21日）：资金到位"
    )
    assert column(table(sessions, "2020-09-22"), "状态") == ["未启动", "未启动"]
    assert column(before, "状态") == ["推进中", "推进中"]


def test_status_follows_closure_and_extension(
    story: Story, sessions: sessionmaker[Session]
) -> None:
    story.october()
    story.reply("市住建局", "完成 #1 已建成", "2020-11-04T10:00")
    requested = table(sessions, "2020-11-04")
    story.november()  # the office confirms at 15:00 the same day, then more happens
    assert column(requested, "状态") == ["申请办结", "推进中"]
    assert column(requested, "进展情况")[0].startswith("市住建局（申请办结，11月4日）：已建成\n")
    assert column(table(sessions, "2020-11-04"), "状态") == ["已办结", "推进中"]
    assert column(table(sessions, "2020-11-03"), "状态") == ["推进中", "推进中"]
    assert column(table(sessions, "2020-11-10"), "状态") == ["已办结", "申请延期"]
    assert column(table(sessions, "2020-11-11"), "状态") == ["已办结", "推进中"]


def test_text_and_units_are_those_of_the_day(story: Story, sessions: sessionmaker[Session]) -> None:
    story.november()  # re-imported on 11-05: the lead swapped, task 2 got a deadline
    early, late = table(sessions, "2020-11-04"), table(sessions, "2020-11-05")
    assert column(early, "内容与要求") == [TASK1, TASK2]
    assert column(early, "责任单位")[0] == BOTH
    assert column(late, "内容与要求") == [TASK1, TASK2 + "11月底前完成。"]
    assert column(late, "责任单位")[0] == "牵头：市财政局；配合：市住建局"
    # The lead's report comes first: the unit that leads on that day.
    assert column(late, "进展情况")[0].startswith("市财政局（10月22日）")
    assert column(table(sessions, "2020-11-30"), "进展情况")[1] == "市发改委（30%，11月9日）"


def test_a_removed_task_leaves_the_table_from_that_day(
    story: Story, sessions: sessionmaker[Session]
) -> None:
    story.september()
    story.reimport(ONLY_TASK_1, "2020-10-12T10:00")
    assert column(table(sessions, "2020-10-11"), "序号") == ["1", "2"]
    assert column(table(sessions, "2020-10-12"), "序号") == ["1"]


ONLY_TASK_1 = """
    2020年重点工作任务责任分解
    1.新增公共停车位 1000 个。10月底前完成。
    责任单位:市住建局、市财政局
"""


# --- the light ----------------------------------------------------------------------------


def test_a_deadline_turns_yellow_then_red_by_the_ladder(
    story: Story, sessions: sessionmaker[Session]
) -> None:
    story.october()  # task 1 is due 10-31, a Saturday: 11-02; closure is never requested
    lights = {
        d: column(table(sessions, f"2020-{d}"), "灯") for d in ("11-02", "11-03", "11-04", "11-05")
    }
    assert lights == {
        "11-02": ["绿", "绿"],  # due day: 催办, no light
        "11-03": ["黄", "绿"],  # +1 working day: 督办
        "11-04": ["黄", "绿"],
        "11-05": ["红", "绿"],  # +3 working days: 通报
    }


def test_a_closure_request_puts_the_light_out(
    story: Story, sessions: sessionmaker[Session]
) -> None:
    story.november()
    assert column(table(sessions, "2020-11-03"), "灯") == ["黄", "绿"]
    assert column(table(sessions, "2020-11-04"), "灯") == ["绿", "绿"]
    # Task 2: due 11-30 since the re-import, extended on 11-11 to 2021-03-31.
    assert column(table(sessions, "2020-12-03"), "灯") == ["绿", "绿"]


def test_the_light_follows_the_configured_ladder(
    story: Story, sessions: sessionmaker[Session]
) -> None:
    story.october()
    ladder = [
        {"level": "urge", "name": "催办", "offset": 0, "to": ["unit"]},
        {"level": "escalate", "name": "通报", "offset": 2, "to": ["office"], "light": "red"},
    ]
    assert column(table(sessions, "2020-11-03", ladder=ladder), "灯") == ["绿", "绿"]
    assert column(table(sessions, "2020-11-04", ladder=ladder), "灯") == ["红", "绿"]


def test_an_open_milestone_counts(story: Story, sessions: sessionmaker[Session]) -> None:
    story.september()
    with sessions.begin() as session:
        (aid,) = session.scalars(
            select(Assignment.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .where(Unit.name == "市发改委")
        ).all()
        session.add(
            DuePoint(
                assignment_id=aid,
                kind="milestone",
                key="milestone:2020-10-15",
                name="完成选址",
                due_date=date(2020, 10, 15),
                window_start=date(2020, 9, 1),
                state="open",
                step=-1,
                created_at=local("2020-09-01T10:00"),
            )
        )
    assert column(table(sessions, "2020-10-15"), "灯") == ["绿", "绿"]
    assert column(table(sessions, "2020-10-16"), "灯") == ["绿", "黄"]
    assert column(table(sessions, "2020-10-20"), "灯") == ["绿", "红"]


def test_working_days_skip_the_holidays() -> None:
    # Due 09-30; 10-01 … 10-08 is the National Day break, 10-10 (a Saturday) a working day.
    ladder = default_rules().ladder
    days = {d: task_light([date(2020, 9, 30)], d, ladder, CALENDAR) for d in _days(10, 8, 12)}
    assert days == {
        date(2020, 10, 8): "green",
        date(2020, 10, 9): "yellow",
        date(2020, 10, 10): "yellow",
        date(2020, 10, 11): "yellow",
        date(2020, 10, 12): "red",
    }
    assert task_light([], date(2020, 12, 31), ladder, CALENDAR) == "green"
    two = [date(2020, 11, 2), date(2020, 9, 30)]
    assert task_light(two, date(2020, 11, 3), ladder, CALENDAR) == "red"  # the worst


def _days(month: int, first: int, last: int) -> list[date]:
    return [date(2020, month, d) for d in range(first, last + 1)]


# --- the pure parts -----------------------------------------------------------------------


def test_responsibility_and_report_lines() -> None:
    document = {"lead": "A", "co_leads": ["B"], "co_units": ["B", "C", "D"]}
    assert responsibility_text(document) == "牵头：A、B；配合：C、D"
    assert responsibility_text({"lead": "A", "co_units": []}) == "牵头：A"
    at = datetime(2020, 10, 26, 10, tzinfo=TZ)
    report = UnitReport("市发改委", True, at, "已完成项目立项", 60)
    assert report_line(report, 2020) == "市发改委（60%，10月26日）：已完成项目立项"
    assert report_line(replace(report, text="", percent=None), 2020) == "市发改委（10月26日）"
    assert report_line(replace(report, closure=True), 2021) == (
        "市发改委（申请办结，2020年10月26日）：已完成项目立项"
    )


def test_as_of_must_be_within_the_plans_life(story: Story, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        plan = session.scalars(select(Plan)).one()
        check_as_of(plan, date(2020, 9, 1), date(2020, 9, 1))
        with pytest.raises(DubanError, match="晚于今天"):
            check_as_of(plan, date(2020, 9, 2), date(2020, 9, 1))
        with pytest.raises(DubanError, match="早于计划导入的日期（2020-09-01）"):
            check_as_of(plan, date(2020, 8, 31), date(2020, 9, 1))


def test_the_progress_sheet_reads_back_from_xlsx(
    story: Story, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    story.october()
    with sessions() as session:
        found = progress_table(
            session, current_plan(session), date(2020, 10, 31), default_rules(), CALENDAR
        )
    sheet = progress_sheet(found)
    assert sheet.title == "2020年重点工作任务责任分解 进展情况（截至2020年10月31日）"
    assert [c.name for c in sheet.columns] == HEADER
    book = load_workbook(io.BytesIO(render(sheet, "xlsx"))).active
    assert isinstance(book, Worksheet)
    assert [c.value for c in book[2]] == HEADER
    assert (
        book["C3"].value == "市住建局（80%，10月20日）：主体完工\n市财政局（10月22日）：资金已拨付"
    )


def test_tasks_are_in_document_order(story: Story, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for task in session.scalars(select(Task)):
            task.seq = 10 - task.seq
    assert column(table(sessions, "2020-09-22"), "序号") == ["2", "1"]


def test_the_evidence_column_lists_each_units_files_not_returned_by_the_day(
    story: Story, sessions: sessionmaker[Session]
) -> None:
    story.october()
    with sessions.begin() as session:
        lead, co = assignment_of(session, "市住建局"), assignment_of(session, "市财政局")
        make_evidence(session, co, local("2020-10-22T10:00"), name="拨付凭证.pdf")
        make_evidence(session, lead, local("2020-10-26T10:00"), name="照片1.jpg")
        make_evidence(session, lead, local("2020-10-27T10:00"), name="照片2.jpg")
        blurred = make_evidence(session, lead, local("2020-10-27T11:00"), name="模糊.jpg")
        blurred.state, blurred.note = "returned", "不清晰"
        blurred.decided_at = local("2020-10-29T10:00")

    assert column(table(sessions, "2020-10-26"), "佐证材料") == [
        "市住建局（1份）：照片1.jpg\n市财政局（1份）：拨付凭证.pdf",
        "无",
    ]
    assert column(table(sessions, "2020-10-28"), "佐证材料")[0].startswith(
        "市住建局（3份）：照片1.jpg、照片2.jpg、模糊.jpg\n"
    )
    assert column(table(sessions, "2020-10-29"), "佐证材料")[0].startswith(
        "市住建局（2份）：照片1.jpg、照片2.jpg\n"
    )
