"""The accountability ledger (问责) on real databases (SQLite and PostgreSQL): which rules raise
an entry, with what evidence, once; and the office's decisions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import DubanError, NotFoundError
from bot.domain.periods import parse_period
from bot.store.models import AccountabilityEntry, AuditEvent, OnceKey
from bot.supervise.accountability import raise_entries
from bot.supervise.ledger import decide, list_entries
from bot.supervise.ranking import Accountability
from bot.supervise.ranking_flow import RankingSetup, as_json, compute_ranking
from tests.support.engine import local, while_the_first_holds, writer_sessions
from tests.support.story import Story

pytestmark = pytest.mark.slow  # the ranking story, months of it, in most tests


def with_rule(setup: RankingSetup, **rule: Any) -> RankingSetup:
    return replace(setup, config=replace(setup.config, accountability=Accountability(**rule)))


def raised(
    sessions: sessionmaker[Session], setup: RankingSetup, at: str
) -> list[tuple[str, str, str]]:
    """(unit, rule, summary) of each entry raised at `at`."""
    with sessions.begin() as session:
        entries = raise_entries(session, setup, local(at))
        return [(e.unit.name, e.rule, e.summary) for e in entries]


def ledger(sessions: sessionmaker[Session]) -> list[AccountabilityEntry]:
    with sessions() as session:
        return list_entries(session)


def events(sessions: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(query))


def overdue_story(story: Story) -> Story:
    """Task 1 (市住建局 leads, 市财政局 co) is due 10-31, a Saturday: 11-02. Nobody closes it."""
    story.october()
    story.sweep_until("2020-11-17")
    return story


# --- red in consecutive periods -----------------------------------------------------------


def test_a_unit_red_three_months_running_gets_one_entry_with_the_rankings_as_evidence(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.november()  # 市发改委: 20 points in September, October and November
    assert raised(sessions, setup, "2020-12-01T00:10") == [
        ("市发改委", "red_periods", "连续3期排名亮红灯（2020-09至2020-11）")
    ]
    (entry,) = ledger(sessions)
    assert (entry.key, entry.period, entry.state) == (
        f"red:{entry.unit_id}:2020-11",
        "2020-11",
        "open",
    )
    assert [(e["period"], e["score"], e["light"]) for e in entry.evidence] == [
        ("2020-09", 20.0, "red"),
        ("2020-10", 20.0, "red"),
        ("2020-11", 20.0, "red"),
    ]
    with sessions() as session:  # the evidence is the ranking itself, reproducible
        for shown in entry.evidence:
            ranking = as_json(compute_ranking(session, parse_period(shown["period"]), setup))
            (row,) = [r for r in ranking if r["unit"] == "市发改委"]
            assert shown["metrics"] == row["metrics"]
            assert (shown["rank"], shown["ranked"]) == (row["rank"], len(ranking))
    (event,) = events(sessions, "accountability.raised")
    assert (event.subject_type, event.subject_id) == ("accountability", entry.id)
    assert event.detail["unit"] == "市发改委"


def test_red_in_only_two_periods_raises_nothing(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()  # 市发改委 red in September and October; August had no ranking
    assert raised(sessions, setup, "2020-11-01T00:10") == []
    assert ledger(sessions) == []


def test_the_number_of_periods_comes_from_the_rule_file(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    two = with_rule(setup, red_periods=2)
    assert raised(sessions, two, "2020-11-01T00:10") == [
        ("市发改委", "red_periods", "连续2期排名亮红灯（2020-09至2020-10）")
    ]


def test_a_run_of_red_periods_raises_one_entry_not_one_a_period(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.november()
    two = with_rule(setup, red_periods=2)
    assert [unit for unit, _, _ in raised(sessions, two, "2020-11-01T00:10")] == ["市发改委"]
    # Red again in November: October–November overlaps the run already raised.
    assert raised(sessions, two, "2020-12-01T00:10") == []


def test_weeks_can_be_the_periods(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    weekly = with_rule(setup, red_periods=2, period="week")
    found = raised(sessions, weekly, "2020-10-05T00:10")  # W39 and W40
    assert ("市发改委", "red_periods", "连续2期排名亮红灯（2020-W39至2020-W40）") in found


# --- overdue items ------------------------------------------------------------------------


def test_an_item_ten_working_days_overdue_raises_nothing_yet(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    overdue_story(story)
    assert raised(sessions, setup, "2020-11-16T23:00") == []  # 11-03 … 11-16: ten


def test_an_item_more_than_ten_working_days_overdue_raises_an_entry_with_its_reminders(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    overdue_story(story)
    summary = "第1项「新增公共停车位 1000 个。10月底前完成。」办结时限 11月2日，逾期 11 个工作日"
    assert raised(sessions, setup, "2020-11-17T08:00") == [
        ("市住建局", "overdue", summary),
        ("市财政局", "overdue", summary),
    ]
    housing = next(e for e in ledger(sessions) if e.unit.name == "市住建局")
    point, *rest = housing.evidence
    assert point["type"] == "due_point"
    assert (point["kind"], point["due_date"], point["working_days_overdue"]) == (
        "deadline",
        "2020-11-02",
        11,
    )
    assert housing.key == f"overdue:{housing.assignment_id}:{point['id']}"
    reminders = [e["level"] for e in rest if e["type"] == "notification"]
    assert {"urge", "supervise", "escalate"} <= set(reminders)
    replies = [e["action"] for e in rest if e["type"] == "audit_event"]
    assert replies.count("reply.progress") == 2  # 9-23 and 10-20: reported, never finished
    notes = [e for e in rest if e["type"] == "notification"]
    audits = [e for e in rest if e["type"] == "audit_event"]
    assert rest == notes + audits  # the reminders, then the events, each oldest first
    assert [e["at"] for e in notes] == sorted(e["at"] for e in notes)
    assert [e["at"] for e in audits] == sorted(e["at"] for e in audits)


def test_the_working_days_limit_comes_from_the_rule_file(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    overdue_story(story)
    five = with_rule(setup, overdue_working_days=5)
    assert len(raised(sessions, five, "2020-11-10T08:00")) == 2  # 11-03 … 11-10: six


def test_an_item_whose_closure_is_requested_raises_nothing(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    story.october()
    story.reply("市住建局", "完成 #1 已建成", "2020-11-04T10:00")
    story.reply("督查室", "确认办结 #1", "2020-11-04T15:00")
    story.sweep_until("2020-11-20")
    assert raised(sessions, setup, "2020-11-20T08:00") == []


# --- once ---------------------------------------------------------------------------------


def test_each_entry_is_raised_once_however_often_the_rules_run(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    overdue_story(story)
    assert len(raised(sessions, setup, "2020-11-17T08:00")) == 2
    for moment in ("2020-11-17T08:05", "2020-11-18T09:00", "2020-11-30T09:00"):
        assert raised(sessions, setup, moment) == []  # more days overdue: the same case
    assert len(ledger(sessions)) == 2
    assert len(events(sessions, "accountability.raised")) == 2
    with sessions() as session:  # October's ranking was looked at once
        assert "accountability:red:2020-10" in set(session.scalars(select(OnceKey.key)))


def test_two_daemons_at_the_same_moment_raise_each_entry_once(
    story: Story, sessions: sessionmaker[Session], engine: Engine, setup: RankingSetup
) -> None:
    overdue_story(story)
    other = writer_sessions(engine)
    first, second = while_the_first_holds(
        sessions,
        lambda session: raise_entries(session, setup, local("2020-11-17T08:00")),
        lambda: raised(other, setup, "2020-11-17T08:00"),
    )
    assert len(first) == 2
    assert second == []
    assert len(ledger(sessions)) == 2


# --- decisions ----------------------------------------------------------------------------


def test_the_office_confirms_an_entry_with_a_note(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    overdue_story(story)
    raised(sessions, setup, "2020-11-17T08:00")
    first, second = (e.id for e in ledger(sessions))
    with sessions.begin() as session:
        decide(session, first, "confirmed", local("2020-11-18T10:00"), note=" 约谈 ")
        decide(session, second, "dismissed", local("2020-11-18T10:05"), note="配合单位，不予问责")
    states = [(e.state, e.note, e.decided_by) for e in ledger(sessions)]
    assert states == [
        ("confirmed", "约谈", "督查室"),
        ("dismissed", "配合单位，不予问责", "督查室"),
    ]
    (confirmed,) = events(sessions, "accountability.confirmed")
    (dismissed,) = events(sessions, "accountability.dismissed")
    assert (confirmed.subject_id, confirmed.detail["note"]) == (first, "约谈")
    assert (dismissed.subject_id, dismissed.detail["note"]) == (second, "配合单位，不予问责")


def test_a_decided_entry_cannot_be_decided_again(
    story: Story, sessions: sessionmaker[Session], setup: RankingSetup
) -> None:
    overdue_story(story)
    raised(sessions, setup, "2020-11-17T08:00")
    entry_id = ledger(sessions)[0].id
    with sessions.begin() as session:
        decide(session, entry_id, "dismissed", local("2020-11-18T10:00"))
    with sessions.begin() as session, pytest.raises(DubanError, match="已撤销，不能再确认"):
        decide(session, entry_id, "confirmed", local("2020-11-18T11:00"))
    assert ledger(sessions)[0].state == "dismissed"
    assert events(sessions, "accountability.confirmed") == []


def test_an_unknown_entry_is_not_found(sessions: sessionmaker[Session]) -> None:
    with (
        sessions.begin() as session,
        pytest.raises(NotFoundError, match="没有编号为 99 的问责事项"),
    ):
        decide(session, 99, "confirmed", local("2020-11-18T10:00"))
