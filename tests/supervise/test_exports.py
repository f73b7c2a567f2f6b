"""Exports on real databases (SQLite and PostgreSQL): the progress table as of a day, the
ranking history, and the three file formats read back."""

from __future__ import annotations

import csv
import io
import os
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
from bot.cli.exports import parse_day
from bot.domain.calendar import WorkCalendar
from bot.domain.lifecycle import task_status
from bot.domain.periods import parse_period
from bot.domain.rules import RulesModel, build_rules, default_rules
from bot.present.labels import LIGHT_FILLS
from bot.present.sheets import Column, Sheet, choose_format, md_cell, render, write_atomic
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
from bot.supervise.ranking_export import ranking_history, ranking_periods, ranking_sheet
from bot.supervise.ranking_flow import RankingSetup, compute_ranking
from tests.engine_factories import TZ, local
from tests.supervise.test_ranking_flow import Story

CALENDAR = WorkCalendar()
HEADER = ["序号", "内容与要求", "进展情况", "责任单位", "状态", "灯"]
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
        ("1", TASK1, "尚未报送", BOTH, "未启动", "绿"),
        ("2", TASK2, "尚未报送", "牵头：市发改委", "未启动", "绿"),
    ]


def test_each_units_latest_report_lead_first(story: Story, sessions: sessionmaker[Session]) -> None:
    story.october()
    assert table(sessions, "2020-10-31") == [
        (
            "1",
            TASK1,
            "市住建局（80%，10月20日）：主体完工\n市财政局（10月22日）：资金已拨付",
            BOTH,
            "推进中",
            "绿",
        ),
        ("2", TASK2, "市发改委（10%，9月28日）：完成选址", "牵头：市发改委", "推进中", "绿"),
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


def test_status_takes_the_furthest_assignment() -> None:
    assert task_status(["closed", "not_started"], False) == "closed"
    assert task_status(["in_progress", "closure_requested"], True) == "closure_requested"
    assert task_status(["not_started", "extension_requested"], True) == "extension_requested"
    assert task_status(["not_started"], True) == "in_progress"  # a report without a percent
    assert task_status(["not_started", "withdrawn"], False) == "not_started"
    assert task_status([], False) == "not_started"


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


def test_as_of_must_be_within_the_plans_life(story: Story, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        plan = session.scalars(select(Plan)).one()
        check_as_of(plan, date(2020, 9, 1), date(2020, 9, 1))
        with pytest.raises(DubanError, match="晚于今天"):
            check_as_of(plan, date(2020, 9, 2), date(2020, 9, 1))
        with pytest.raises(DubanError, match="早于计划导入的日期（2020-09-01）"):
            check_as_of(plan, date(2020, 8, 31), date(2020, 9, 1))


# --- the ranking history ------------------------------------------------------------------


def periods(
    sessions: sessionmaker[Session], setup: RankingSetup, now: str = "2020-11-15T10:00", **kw: Any
) -> list[str]:
    with sessions() as session:
        plan = current_plan(session)
        return [p.label for p in ranking_periods(plan, setup, local(now), **kw)]


def test_the_default_range_is_the_plan_years_ended_months(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    assert periods(sessions, setup) == [f"2020-{m:02d}" for m in range(1, 11)]
    assert periods(sessions, setup, "2021-03-01T10:00")[-1] == "2020-12"
    assert periods(sessions, setup, kind="week")[-1] == "2020-W45"  # 11-02 … 11-08
    assert periods(sessions, setup, first="2020-09") == ["2020-09", "2020-10"]
    assert periods(sessions, setup, last="2020-02") == ["2020-01", "2020-02"]
    weeks = periods(sessions, setup, first="2020-W38", last="2020-W40", kind="week")
    assert weeks == ["2020-W38", "2020-W39", "2020-W40"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"first": "2020-13"}, "不存在"),
        ({"last": "2020/10"}, "格式不对"),
        ({"first": "2020-10", "last": "2020-09"}, "--from 2020-10 晚于 --to 2020-09"),
        ({"first": "2020-W38", "last": "2020-10"}, "期间类型不一致"),
        ({"first": "2020-09", "kind": "week"}, "期间类型不一致"),
        ({"kind": "day"}, "不支持的期间类型「day」"),
        ({"last": "2020-11"}, "尚未结束"),
    ],
)
def test_a_bad_range_is_refused(
    story: Story,
    sessions: sessionmaker[Session],
    setup: RankingSetup,
    options: dict[str, str],
    problem: str,
) -> None:
    with pytest.raises(DubanError, match=problem):
        periods(sessions, setup, **options)


def test_nothing_ended_yet_in_the_plan_year(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    with pytest.raises(DubanError, match="2020年还没有已结束的期间"):
        periods(sessions, setup, "2020-01-20T10:00")


def test_the_rows_are_the_rankings_of_each_period(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    with sessions() as session:
        plan = current_plan(session)
        chosen = ranking_periods(plan, setup, local("2020-11-15T10:00"), first="2020-08")
        history = ranking_history(session, chosen, setup)
        expected = [
            (p, compute_ranking(session, parse_period(p), setup))
            for p in ("2020-08", "2020-09", "2020-10")
        ]
    assert [(p.label, rows) for p, rows in history] == expected
    sheet = ranking_sheet(plan, history, "month")
    assert sheet.title == "2020年重点工作任务责任分解 工作晾晒排名（2020-08 至 2020-10，按月）"
    assert [row[:6] for row in sheet.rows] == [
        ("2020-09", 1, "市住建局", 100.0, "绿", "新上榜"),
        ("2020-09", 2, "市财政局", 28.6, "红", "新上榜"),
        ("2020-09", 3, "市发改委", 20.0, "红", "新上榜"),
        ("2020-10", 1, "市财政局", 100.0, "绿", "上升"),
        ("2020-10", 2, "市住建局", 70.0, "黄", "下降"),
        ("2020-10", 3, "市发改委", 20.0, "红", "持平"),
    ]
    # reports due / on time / rate, lead tasks / on track / rate, assignments / overdue / rate
    assert sheet.rows[0][6:] == (1, 1, 100.0, 1, 1, 100.0, 1, 0, 100.0)
    assert sheet.rows[1][6:] == (1, 0, 0.0, 0, 0, None, 1, 0, 100.0)


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


def test_tasks_are_in_document_order(story: Story, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for task in session.scalars(select(Task)):
            task.seq = 10 - task.seq
    assert column(table(sessions, "2020-09-22"), "序号") == ["2", "1"]
