"""The ranking flow on real databases (SQLite and PostgreSQL): computed from the audit trail,
the same whenever it is asked, and posted once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import DubanError
from bot.delivery.compose import Composer
from bot.domain.calendar import WorkCalendar
from bot.domain.periods import parse_period
from bot.platforms.formats import Formats, MessageFormat
from bot.store.models import Assignment, AuditEvent, Message, Plan
from bot.supervise import ranking_flow
from bot.supervise.history import History
from bot.supervise.ranking import RankingConfig
from bot.supervise.ranking_flow import (
    RankingSetup,
    as_json,
    compute_ranking,
    publish_due_rankings,
    publish_ranking,
    published_at,
)
from tests.support.engine import PLAN, TZ, local
from tests.support.story import Story

pytestmark = pytest.mark.slow  # the ranking story, months of it, in most tests


def ranking(
    sessions: sessionmaker[Session], period: str, setup: RankingSetup
) -> list[dict[str, Any]]:
    with sessions() as session:
        return as_json(compute_ranking(session, parse_period(period), setup))


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, float, int, str, str]]:
    return [(r["unit"], r["score"], r["rank"], r["light"], r["trend"]) for r in rows]


def messages(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        query = select(Message).where(Message.kind == "ranking").order_by(Message.id)
        return list(session.scalars(query))


def events(sessions: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- computing ----------------------------------------------------------------------------


def test_september_scores_reports_progress_and_overdue_items(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    rows = ranking(sessions, "2020-09", setup)
    assert summary(rows) == [
        ("市住建局", 100.0, 1, "green", "new"),  # reported; 50% ≥ the 49% expected
        ("市财政局", 28.6, 2, "red", "new"),  # no report; leads nothing: 20/70
        ("市发改委", 20.0, 3, "red", "new"),  # reported late; 10% < the 24% expected
    ]
    assert rows[0]["metrics"] == {
        "reports_due": 1,
        "reports_on_time": 1,
        "on_time_rate": 100.0,
        "lead_tasks": 1,
        "on_track": 1,
        "on_track_rate": 100.0,
        "assignments": 1,
        "overdue": 0,
        "no_overdue_rate": 100.0,
    }
    assert rows[1]["metrics"]["lead_tasks"] == 0
    assert rows[1]["metrics"]["on_track_rate"] is None


def test_the_month_before_the_plan_ranks_no_one(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    assert ranking(sessions, "2020-08", setup) == []


def test_trends_follow_the_ranks_of_the_previous_month(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    assert summary(ranking(sessions, "2020-10", setup)) == [
        ("市财政局", 100.0, 1, "green", "up"),
        ("市住建局", 70.0, 2, "yellow", "down"),  # 80% by the 10-31 deadline: behind
        ("市发改委", 20.0, 3, "red", "same"),
    ]


def test_a_week_counts_the_reports_due_in_it(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    week = ranking(sessions, "2020-W39", setup)  # 09-21 … 09-27, the report due 09-25
    assert [(r["unit"], r["metrics"]["reports_due"]) for r in week] == [
        ("市住建局", 1),
        ("市财政局", 1),
        ("市发改委", 1),
    ]
    # 09-28 … 10-04: no report due; by 10-05 task 1 is expected at 55%, task 2 at 27%.
    next_week = ranking(sessions, "2020-W40", setup)
    assert {r["metrics"]["reports_due"] for r in next_week} == {0}
    assert summary(next_week) == [
        ("市财政局", 100.0, 1, "green", "up"),
        ("市住建局", 40.0, 2, "red", "down"),  # ties are listed by name
        ("市发改委", 40.0, 2, "red", "up"),
    ]


def test_an_overdue_deadline_counts_until_closure_is_requested(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.november()
    rows = {r["unit"]: r for r in ranking(sessions, "2020-11", setup)}
    # Task 1 was due 10-31 (a Saturday: 11-02) and only requested closed on 11-04.
    assert rows["市住建局"]["metrics"]["overdue"] == 1
    assert rows["市财政局"]["metrics"]["overdue"] == 1
    assert rows["市发改委"]["metrics"]["overdue"] == 0
    # The roles swapped on 11-05: 市财政局 leads the closed task, 市住建局 leads nothing.
    assert rows["市财政局"]["metrics"]["on_track"] == 1
    assert rows["市住建局"]["metrics"]["lead_tasks"] == 0
    # Task 1 closed: no November report cycle; task 2's was not reported by 11-25.
    assert rows["市发改委"]["metrics"]["reports_due"] == 1
    assert rows["市住建局"]["metrics"]["reports_due"] == 0
    assert summary(list(rows.values())) == [
        ("市财政局", 60.0, 1, "yellow", "same"),
        ("市发改委", 20.0, 2, "red", "up"),
        ("市住建局", 0.0, 3, "red", "down"),
    ]


def test_december_after_the_extension_is_not_overdue(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.november()
    story.sweep_until("2020-12-31")
    rows = {r["unit"]: r for r in ranking(sessions, "2020-12", setup)}
    assert set(rows) == {"市住建局", "市财政局", "市发改委"}
    assert rows["市发改委"]["metrics"]["overdue"] == 0  # extended from 11-30 to 2021-03-31
    assert rows["市住建局"]["metrics"] == rows["市财政局"]["metrics"] | {
        "lead_tasks": 0,
        "on_track": 0,
        "on_track_rate": None,
    }


def test_a_past_period_is_the_same_after_everything_that_happened_since(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    september, october = ranking(sessions, "2020-09", setup), ranking(sessions, "2020-10", setup)
    story.november()
    story.sweep_until("2020-12-31")
    with sessions() as session:  # the current rows have moved on …
        roles = {a.unit.name: a.role for a in session.scalars(select(Assignment))}
        assert roles["市财政局"] == "lead"
        statuses = {a.status for a in session.scalars(select(Assignment))}
        assert "closed" in statuses
    # … the rankings of the past have not.
    assert ranking(sessions, "2020-09", setup) == september
    assert ranking(sessions, "2020-10", setup) == october


def test_a_removed_task_leaves_the_ranking_from_its_removal(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    only_task_1 = PLAN.split("2.建设")[0]
    story.reimport(only_task_1, "2020-10-12T10:00")
    assert "市发改委" in [r["unit"] for r in ranking(sessions, "2020-09", setup)]
    story.sweep_until("2020-10-31")
    assert "市发改委" not in [r["unit"] for r in ranking(sessions, "2020-10", setup)]


# --- publishing ---------------------------------------------------------------------------


def test_publishing_queues_one_message_and_records_it(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    now = local("2020-10-09T10:00")
    with sessions.begin() as session:
        result = publish_ranking(session, parse_period("2020-09"), setup, now)
    assert (result.outcome, result.channel) == ("published", "console")
    (message,) = messages(sessions)
    assert (message.state, message.channel, message.recipient_kind) == (
        "pending",
        "console",
        "public",
    )
    assert message.text.splitlines()[:4] == [
        "【工作晾晒】2020年9月",
        "1. 市住建局 100 分 绿灯 新",
        "2. 市财政局 28.6 分 红灯 新",
        "3. 市发改委 20 分 红灯 新",
    ]
    (event,) = events(sessions, "ranking.published")
    assert event.detail["period"] == "2020-09"
    assert event.detail["message_ids"] == [message.id]
    assert [row["unit"] for row in event.detail["rows"]] == ["市住建局", "市财政局", "市发改委"]
    with sessions() as session:
        assert published_at(session, parse_period("2020-09"), TZ) == now


def test_publishing_a_period_twice_queues_it_once(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    with sessions.begin() as session:
        first = publish_ranking(session, parse_period("2020-09"), setup, local("2020-10-09T10:00"))
    with sessions.begin() as session:
        again = publish_ranking(session, parse_period("2020-09"), setup, local("2020-10-10T10:00"))
    assert again.outcome == "already"
    assert again.message_ids == first.message_ids
    assert again.at == local("2020-10-09T10:00")
    assert len(messages(sessions)) == 1
    assert len(events(sessions, "ranking.published")) == 1


def test_a_period_not_over_or_without_units_is_not_published(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    with sessions.begin() as session, pytest.raises(DubanError, match="尚未结束"):
        publish_ranking(session, parse_period("2020-10"), setup, local("2020-10-31T23:59"))
    with sessions.begin() as session, pytest.raises(DubanError, match="没有可排名的单位"):
        publish_ranking(session, parse_period("2020-08"), setup, local("2020-10-01T00:00"))
    assert messages(sessions) == []


def test_a_markdown_channel_gets_the_markdown_ranking(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    formats = Formats(
        {"console": MessageFormat("console"), "public": MessageFormat("wecom", "markdown")}
    )
    public = replace(setup.config, channel="public")
    wecom = replace(setup, config=public, composer=Composer(formats))
    with sessions.begin() as session:
        publish_ranking(session, parse_period("2020-09"), wecom, local("2020-10-09T10:00"))
    (message,) = messages(sessions)
    assert message.channel == "public"
    assert message.text.startswith("**【工作晾晒】2020年9月**\n第1名　市住建局　**100** 分 绿灯 新")


def test_the_daemon_posts_each_period_once_when_it_ends(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    with sessions.begin() as session:
        posted = publish_due_rankings(session, setup, local("2020-10-01T00:05"))
    assert sorted((p.period.label, p.outcome) for p in posted) == [
        ("2020-09", "published"),
        ("2020-W39", "published"),
    ]
    for moment in ("2020-10-01T00:06", "2020-10-02T09:00"):
        with sessions.begin() as session:
            assert publish_due_rankings(session, setup, local(moment)) == []
    assert [m.text.splitlines()[0] for m in messages(sessions)] == [
        "【工作晾晒】2020年第39周（9月21日—9月27日）",
        "【工作晾晒】2020年9月",
    ]
    with sessions.begin() as session:  # a manual publish of the same period changes nothing
        result = publish_ranking(session, parse_period("2020-09"), setup, local("2020-10-02T10:00"))
    assert result.outcome == "already"
    assert len(messages(sessions)) == 2


def test_the_daemon_skips_periods_before_any_plan(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    weekly = replace(setup, config=replace(setup.config, periods=("week",)))
    with sessions.begin() as session:  # 2020-W35 ended 08-31: before the plan existed
        assert publish_due_rankings(session, weekly, local("2020-09-01T12:00")) == []
    with sessions.begin() as session:  # 2020-W36 had the plan's assignments
        (posted,) = publish_due_rankings(session, weekly, local("2020-09-07T12:00"))
    assert (posted.period.label, posted.outcome) == ("2020-W36", "published")


def test_the_daemon_records_a_period_with_no_one_to_rank_and_does_not_post_it(
    sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    with sessions.begin() as session:  # a plan without tasks: nothing to rank
        at = local("2020-08-01T10:00")
        session.add(
            Plan(
                key="empty",
                timezone="Asia/Shanghai",
                source="empty.txt",
                source_sha256="0" * 64,
                created_at=at,
                updated_at=at,
            )
        )
    weekly = replace(setup, config=replace(setup.config, periods=("week",)))
    with sessions.begin() as session:
        (skipped,) = publish_due_rankings(session, weekly, local("2020-09-07T12:00"))
    assert (skipped.period.label, skipped.outcome) == ("2020-W36", "skipped")
    with sessions.begin() as session:
        assert publish_due_rankings(session, weekly, local("2020-09-07T12:01")) == []
    assert messages(sessions) == []
    assert len(events(sessions, "ranking.skipped")) == 1


def test_with_approval_the_office_gets_a_preview_and_publish_posts_it(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    monthly = RankingConfig(periods=("month",), require_approval=True)
    formats = Formats(
        {"console": MessageFormat("console"), "office": MessageFormat("console")},
        office_channel="office",
    )
    approving = replace(setup, config=monthly, composer=Composer(formats))
    with sessions.begin() as session:
        (preview,) = publish_due_rankings(session, approving, local("2020-10-01T08:00"))
    assert (preview.outcome, preview.channel) == ("previewed", "office")
    with sessions.begin() as session:
        assert publish_due_rankings(session, approving, local("2020-10-01T09:00")) == []
    (message,) = messages(sessions)
    assert (message.channel, message.recipient_kind) == ("office", "office")
    assert message.text.startswith("【工作晾晒（预览）】2020年9月")
    assert "duban rank publish 2020-09" in message.text
    with sessions() as session:
        assert published_at(session, parse_period("2020-09"), TZ) is None
    with sessions.begin() as session:
        result = publish_ranking(
            session, parse_period("2020-09"), approving, local("2020-10-08T10:00")
        )
    assert (result.outcome, result.channel) == ("published", "console")
    public = messages(sessions)[-1]
    assert (public.channel, public.recipient_kind) == ("console", "public")
    assert public.text.splitlines()[1:4] == message.text.splitlines()[1:4]


def test_a_long_ranking_is_split_for_a_small_channel(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    formats = Formats({"console": MessageFormat("wecom", "text")})
    with sessions.begin() as session:
        ranked = compute_ranking(session, parse_period("2020-09"), setup)
    many = [replace(ranked[0], unit=f"第{i}个很长名字的单位" * 3) for i in range(60)]
    small = replace(setup, composer=Composer(formats))
    with sessions.begin() as session:
        result = ranking_flow._post(
            session,
            parse_period("2020-09"),
            small,
            many,
            local("2020-10-09T10:00"),
            actor="test",
            channel="cli",
        )
    parts = messages(sessions)
    assert len(parts) == len(result.message_ids) > 1
    assert all(len(m.text.encode()) <= 2048 for m in parts)
    assert parts[0].text.startswith("【工作晾晒】2020年9月（1/")


def test_history_is_read_only_up_to_the_period_end(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.september()
    period = parse_period("2020-09")
    with sessions() as session:
        history = History.load(session, period.bounds(TZ)[1], WorkCalendar())
        with pytest.raises(ValueError, match="history loaded until"):
            history.metrics(parse_period("2020-10"), TZ)
    assert isinstance(history.until, datetime)
