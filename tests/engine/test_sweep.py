"""The sweep and dispatch cycle over real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from bot.delivery.compose import Composer
from bot.domain.calendar import WorkCalendar
from bot.replies.lookups import Lookups
from bot.store.models import Assignment, AuditEvent, DuePoint, Message, Notification, Unit
from tests.support.engine import (
    apply_reply,
    count,
    import_plan,
    local,
    make_runtime,
    sent_messages,
    working_mornings,
    writer_sessions,
)


@pytest.fixture
def sessions(engine: Engine, tmp_path: Path) -> sessionmaker[Session]:
    factory = writer_sessions(engine)
    import_plan(factory, tmp_path)
    return factory


@pytest.fixture
def runtime(sessions: sessionmaker[Session]) -> Runtime:
    return make_runtime(sessions)


def run_days(runtime: Runtime, first: str, last: str) -> None:
    for morning in working_mornings(
        date.fromisoformat(first), date.fromisoformat(last), runtime.calendar
    ):
        runtime.cycle(morning)


def kinds_to(sessions: sessionmaker[Session], recipient: str) -> list[tuple[str, str]]:
    """(local date, kind) of every message sent to `recipient`, in order."""
    return [
        (m.sent_at.astimezone(local("2020-01-01T00:00").tzinfo).date().isoformat(), m.kind)
        for m in sent_messages(sessions)
        if m.recipient_name == recipient and m.sent_at
    ]


def reply(sessions: sessionmaker[Session], unit: str, text: str, at: str) -> str:
    with sessions.begin() as session:
        return apply_reply(session, unit, text, local(at))


def test_nothing_is_sent_before_the_first_reminder(runtime: Runtime) -> None:
    result = runtime.cycle(local("2020-09-21T09:00"))
    assert (result.sweep.notifications, result.sent) == (0, 0)


def test_each_unit_gets_one_notice_three_working_days_before_its_report(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    result = runtime.cycle(local("2020-09-22T09:00"))
    assert result.sent == 3
    messages = sent_messages(sessions)
    assert sorted(m.recipient_name for m in messages) == ["市住建局", "市发改委", "市财政局"]
    assert {m.kind for m in messages} == {"notice"}
    assert all("【督办提醒】" in m.text and "回复：进展 #" in m.text for m in messages)


def test_a_second_sweep_at_the_same_moment_creates_nothing(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    first = runtime.sweep(local("2020-09-22T09:00"))
    again = runtime.sweep(local("2020-09-22T09:00"))
    later = runtime.sweep(local("2020-09-22T09:30"))
    assert first.notifications == 3
    assert (again.notifications, again.messages, later.notifications) == (0, 0, 0)
    assert count(sessions, Notification) == 3
    assert count(sessions, Message) == 3


def test_the_ladder_runs_in_order_around_national_day(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    run_days(runtime, "2020-09-21", "2020-10-20")
    assert kinds_to(sessions, "市发改委") == [
        ("2020-09-22", "notice"),
        ("2020-09-25", "urge"),
        ("2020-09-27", "supervise"),
    ]
    to_office = kinds_to(sessions, "督查室")
    assert [day for day, _ in to_office] == ["2020-09-29", "2020-10-09", "2020-10-12", "2020-10-14"]
    assert {kind for _, kind in to_office} == {"escalate"}
    every_day = {
        day
        for m in sent_messages(sessions)
        for day in [m.sent_at.astimezone(runtime.tz).date() if m.sent_at else None]
    }
    assert not [d for d in every_day if d and date(2020, 10, 1) <= d <= date(2020, 10, 8)]


def test_escalations_reach_the_supervisor_and_the_office(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    run_days(runtime, "2020-09-21", "2020-09-29")
    escalations = [m for m in sent_messages(sessions) if m.kind == "escalate"]
    assert sorted(m.recipient_name for m in escalations) == sorted(["督查室", "李明", "赵华"])
    office = next(m for m in escalations if m.recipient_name == "督查室")
    assert [i["unit"] for i in office.items] == ["市住建局", "市财政局", "市发改委"]


def test_urge_mentions_the_contacts_and_supervise_adds_the_head(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    run_days(runtime, "2020-09-25", "2020-09-27")
    to_unit = {m.kind: m for m in sent_messages(sessions) if m.recipient_name == "市住建局"}
    assert to_unit["urge"].mentions == {"mobiles": ["13800000001"]}
    assert to_unit["supervise"].mentions == {"mobiles": ["13800000001", "13800000009"]}
    assert "@13800000009" in to_unit["supervise"].text


def test_the_repeats_stop_at_their_bound(runtime: Runtime, sessions: sessionmaker[Session]) -> None:
    run_days(runtime, "2020-09-21", "2020-10-20")
    with sessions() as session:
        office = session.scalars(
            select(Notification).where(
                Notification.recipient_kind == "office", Notification.level == "escalate"
            )
        ).all()
    per_point: dict[int, list[int]] = {}
    for note in office:
        per_point.setdefault(note.due_point_id, []).append(note.repeat)
    assert per_point
    assert all(sorted(r) == [0, 1, 2, 3] for r in per_point.values())


def test_a_message_due_after_hours_waits_for_the_next_window(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    evening = runtime.cycle(local("2020-09-22T20:00"))
    assert (evening.sweep.messages, evening.sent) == (3, 0)
    with sessions() as session:
        waiting = session.scalars(select(Message)).all()
    assert {m.not_before for m in waiting} == {local("2020-09-23T09:00")}
    assert runtime.dispatch(local("2020-09-23T08:59")) == 0
    assert runtime.dispatch(local("2020-09-23T09:00")) == 3


def test_catch_up_after_downtime_sends_only_the_highest_level(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    runtime.cycle(local("2020-10-12T09:00"))
    messages = sent_messages(sessions)
    assert {m.kind for m in messages} == {"escalate"}
    with sessions() as session:
        notes = session.scalars(select(Notification)).all()
    assert {(n.level, n.repeat) for n in notes} == {("escalate", 2)}
    assert len({n.due_point_id for n in notes}) == 3


def test_a_restart_mid_ladder_continues_without_resending(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    make_runtime(sessions).cycle(local("2020-09-22T09:00"))
    make_runtime(sessions).cycle(local("2020-09-25T09:00"))
    engine.dispose()
    restarted = make_runtime(writer_sessions(engine))
    assert restarted.cycle(local("2020-09-25T09:00")).sent == 0
    assert restarted.cycle(local("2020-09-27T09:00")).sent == 3
    assert [k for _, k in kinds_to(sessions, "市发改委")] == ["notice", "urge", "supervise"]


def test_a_progress_report_settles_the_cycle(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    runtime.cycle(local("2020-09-22T09:00"))
    assert "已收到第2项进展（40%）" in reply(
        sessions, "市发改委", "进展 #2 40% 已完成选址", "2020-09-23T15:00"
    )
    run_days(runtime, "2020-09-23", "2020-10-14")
    assert kinds_to(sessions, "市发改委") == [("2020-09-22", "notice")]
    assert [k for _, k in kinds_to(sessions, "市财政局")] == ["notice", "urge", "supervise"]


def test_a_report_made_before_its_cycle_opens_settles_it_but_one_report_settles_one_cycle(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    run_days(runtime, "2020-09-21", "2020-09-23")
    reply(sessions, "市发改委", "进展 #2 40% 已完成选址", "2020-09-23T15:00")
    reply(sessions, "市财政局", "进展 #1 30% 资金已拨付", "2020-09-23T15:00")
    run_days(runtime, "2020-09-24", "2020-10-16")
    # October's report, made before October's cycle opens (its notice would be on 10-21).
    reply(sessions, "市发改委", "进展 #2 50% 已开工", "2020-10-16T10:00")
    run_days(runtime, "2020-10-17", "2020-10-28")
    with sessions() as session:
        october = {
            (unit, state, resolution)
            for unit, state, resolution in session.execute(
                select(Unit.name, DuePoint.state, DuePoint.resolution)
                .join(Assignment, DuePoint.assignment_id == Assignment.id)
                .join(Unit, Assignment.unit_id == Unit.id)
                .where(DuePoint.key == "report:2020-10-25")
            )
        }
    assert ("市发改委", "resolved", "reported") in october
    assert ("市财政局", "open", None) in october  # its September report counted once
    assert kinds_to(sessions, "市发改委") == [("2020-09-22", "notice")]
    assert ("2020-10-21", "notice") in kinds_to(sessions, "市财政局")


@pytest.mark.parametrize("batched", [False, True])
def test_two_reports_in_one_transaction_settle_the_cycle_once_batched_or_not(
    runtime: Runtime, sessions: sessionmaker[Session], batched: bool
) -> None:
    run_days(runtime, "2020-09-21", "2020-09-23")
    lookups = Lookups() if batched else None  # as a batch of replies shares them
    at = local("2020-09-23T15:00")
    with sessions.begin() as session:
        for text in ("进展 #2 40% 已完成选址", "进展 #2 45% 已开工"):
            apply_reply(session, "市发改委", text, at, lookups=lookups)
    with sessions() as session:
        progress = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "reply.progress").order_by(AuditEvent.id)
        ).all()
        point = session.scalars(
            select(DuePoint)
            .join(Assignment, DuePoint.assignment_id == Assignment.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .where(Unit.name == "市发改委", DuePoint.key == "report:2020-09-25")
        ).one()
    assert [e.detail["cycles"] for e in progress] == [1, 0]
    assert (point.state, point.resolution) == ("resolved", "reported")


def test_a_missed_cycle_is_recorded_when_the_next_one_starts(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    run_days(runtime, "2020-09-21", "2020-10-21")
    with sessions() as session:
        points = session.scalars(
            select(DuePoint).where(DuePoint.kind == "report").order_by(DuePoint.id)
        ).all()
        missed = session.scalars(select(AuditEvent).where(AuditEvent.action == "due.missed")).all()
    september = [p for p in points if p.key == "report:2020-09-25"]
    october = [p for p in points if p.key == "report:2020-10-25"]
    assert {p.state for p in september} == {"missed"}
    assert len(october) == 3
    assert {p.due_date for p in october} == {date(2020, 10, 26)}
    assert len(missed) == 3
    assert ("2020-10-21", "notice") in kinds_to(sessions, "市发改委")


def test_an_approved_extension_moves_the_deadline_and_restarts_the_ladder(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    runtime.cycle(local("2020-09-22T09:00"))
    assert "待审批" in reply(
        sessions, "市住建局", "延期 #1 2020-12-15 施工许可延后", "2020-09-23T10:00"
    )
    assert "已同意延期" in reply(sessions, "督查室", "同意延期 #1", "2020-09-23T11:00")
    runtime.cycle(local("2020-09-24T09:00"))
    with sessions() as session:
        lead = session.scalars(
            select(Assignment).join(Assignment.unit).where(Unit.name == "市住建局")
        ).one()
        deadlines = {
            p.key: p
            for p in session.scalars(
                select(DuePoint).where(
                    DuePoint.assignment_id == lead.id, DuePoint.kind == "deadline"
                )
            )
        }
    assert lead.deadline == date(2020, 12, 15)
    assert deadlines["deadline:2020-10-31"].resolution == "extended"
    assert deadlines["deadline:2020-12-15"].state == "open"
    assert deadlines["deadline:2020-12-15"].next_action_at == local("2020-12-10T09:00")


def test_a_year_beyond_the_calendar_data_falls_back_with_a_warning(
    engine: Engine, tmp_path: Path
) -> None:
    sessions = writer_sessions(engine)
    import_plan(sessions, tmp_path, PLAN_2030, imported=local("2030-03-01T10:00"))
    warnings: list[str] = []
    runtime = make_runtime(sessions, calendar=WorkCalendar(warn=warnings.append))
    result = runtime.cycle(local("2030-03-20T09:00"))
    assert result.sent == 3
    assert len(warnings) == 1
    assert "2030" in warnings[0]


PLAN_2030 = """
    2030年重点工作任务责任分解
    1.新增公共停车位 1000 个。
    责任单位:市住建局、市财政局
    2.建设小干岛中央商务区。
    责任单位:市发改委
"""


def test_a_sweep_on_an_empty_database_does_nothing(engine: Engine) -> None:
    result = make_runtime(writer_sessions(engine)).cycle(local("2020-09-22T09:00"))
    assert (result.sweep.points, result.sent) == (0, 0)


def test_a_unit_due_at_two_levels_gets_one_message_with_each_level_under_its_headline(
    engine: Engine, tmp_path: Path
) -> None:
    sessions = writer_sessions(engine)
    # Task 3's deadline (9月30日) is three working days away on 2020-09-27, the Sunday
    # worked before National Day, when the September report of task 1 stands at 督办.
    import_plan(sessions, tmp_path, TWO_LEVELS_PLAN)
    make_runtime(sessions).cycle(local("2020-09-27T09:00"))
    (message,) = [m for m in sent_messages(sessions) if m.recipient_name == "市住建局"]
    assert message.kind == "supervise"  # the highest level names the message
    assert [(i["task"], i["kind"], i["level"]) for i in message.items] == [
        ("1", "report", "supervise"),
        ("3", "report", "supervise"),
        ("3", "deadline", "notice"),
    ]
    supervise, notice = message.text.split("【督办提醒】")
    assert supervise.startswith("【督办通知】市住建局：")  # the higher level first
    assert notice.startswith("市住建局：")
    assert "办结时限：9月30日" in notice  # task 3 under 督办提醒 only
    assert "办结时限" not in supervise
    assert "第1项" in supervise
    assert "第1项" not in notice
    assert "（督办）" not in message.text  # each headline names its level once


TWO_LEVELS_PLAN = """
    2020年重点工作任务责任分解
    1.新增公共停车位 1000 个。10月底前完成。
    责任单位:市住建局
    3.完成停车场规划编制。9月30日前完成。
    责任单位:市住建局
"""


def test_escalations_sum_up_each_unit_address_leaders_by_title_and_link_the_dashboard(
    sessions: sessionmaker[Session],
) -> None:
    plain = make_runtime(sessions)
    runtime = replace(plain, composer=Composer(plain.messages.formats, "督查室", DASHBOARD))
    run_days(runtime, "2020-09-21", "2020-10-12")
    latest = {m.recipient_name: m for m in sent_messages(sessions) if m.kind == "escalate"}
    assert latest["督查室"].text.splitlines() == [
        "【督办通报】督查室：",
        "以下事项逾期未办结，按责任单位汇总如下，请督促落实：",
        "1. 市住建局：逾期 1 项，最长 7 个工作日",
        "2. 市发改委：逾期 1 项，最长 7 个工作日",
        "3. 市财政局：逾期 1 项，最长 7 个工作日",
        f"详情请见督办看板：{DASHBOARD}",
    ]
    assert latest["李明"].text.splitlines()[:2] == [
        "【督办通报】李明常务副市长：",
        "现将逾期未办结事项按责任单位汇总如下，请审阅：",
    ]
    assert "第1项" not in latest["李明"].text  # a line per unit, not per task


DASHBOARD = "https://duban.example.gov.cn"
