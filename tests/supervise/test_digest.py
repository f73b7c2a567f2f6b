"""The supervisors' and the office's digest on real databases (SQLite and PostgreSQL): what it
lists, to whom, when, and that each recipient gets one a working day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.compose import Composer
from bot.domain.tokens import verify
from bot.platforms.formats import Formats, MessageFormat
from bot.store.models import AuditEvent, Message, OnceKey, Supervisor, Task
from bot.supervise.accountability import raise_entries
from bot.supervise.digest import send_digests
from bot.supervise.digest_message import Digest, DigestSetup
from bot.supervise.ledger import decide
from bot.supervise.ranking import Accountability, RankingConfig
from bot.supervise.ranking_flow import RankingSetup
from tests.support.engine import (
    TZ,
    import_plan,
    local,
    make_runtime,
    while_the_first_holds,
    working_mornings,
    writer_sessions,
)
from tests.support.review import COMPOSER, SECRET
from tests.support.story import OFFICE, Story

pytestmark = pytest.mark.slow  # the ranking story, months of it, in most tests

MANY = "2020年重点工作任务责任分解\n" + "\n".join(
    f"{n}.推进第{n}批老旧小区改造，完成管网更新和外立面整治。10月底前完成。\n责任单位:市财政局"
    for n in range(1, 41)
)


@pytest.fixture
def setup() -> DigestSetup:
    return DigestSetup(tz=TZ)


def digests(sessions: sessionmaker[Session], setup: DigestSetup, at: str) -> list[Digest]:
    with sessions.begin() as session:
        return send_digests(session, setup, local(at))


def queued(sessions: sessionmaker[Session]) -> dict[str, list[Message]]:
    """The digest messages by recipient, in order."""
    found: dict[str, list[Message]] = {}
    with sessions() as session:
        query = select(Message).where(Message.kind == "digest").order_by(Message.id)
        for message in session.scalars(query):
            found.setdefault(message.recipient_name, []).append(message)
    return found


def texts(sessions: sessionmaker[Session]) -> dict[str, str]:
    return {name: "\n".join(m.text for m in parts) for name, parts in queued(sessions).items()}


def text_of(sessions: sessionmaker[Session], digest: Digest) -> list[str]:
    """The lines of one digest's message (all its parts)."""
    with sessions() as session:
        query = select(Message.text).where(Message.id.in_(digest.message_ids)).order_by(Message.id)
        return "\n".join(session.scalars(query)).splitlines()


def blocked_story(story: Story) -> Story:
    """Through 10-13: 市财政局 never reported for September (通报 since 9-29), 市发改委
    reported a blocker on task 2 on 10-12."""
    story.september()
    story.reply("市发改委", "困难 #2 用地审批未完成 @all **急**", "2020-10-12T10:00")
    story.sweep_until("2020-10-13")
    return story


# --- what a digest lists ------------------------------------------------------------------


def test_the_office_digest_lists_escalated_items_by_unit_and_open_blockers(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    sent = digests(sessions, setup, "2020-10-14T08:30")
    assert [(d.recipient.name, d.channel) for d in sent] == [
        (OFFICE, "console"),
        ("赵华", "console"),
        ("李明", "console"),
    ]
    assert texts(sessions)[OFFICE].splitlines() == [
        "【督办日报】督查室：2020年10月14日",
        "以下事项已进入督办、通报程序，按责任单位汇总如下，请督促落实：",
        # Due 9-25; working days since: 9-27 (调休), 9-28 … 9-30, 10-09, 10-10 (调休) … 10-14.
        "1. 市财政局：逾期 1 项，最长 9 个工作日",
        "反映困难：",
        "  · 第2项（市发改委，10月12日反映）：用地审批未完成 ＠all **急**",
    ]


def test_items_reported_on_or_below_the_supervise_level_are_not_listed(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.september()  # 市住建局 reported on time, 市发改委 late but before 通报
    story.sweep_until("2020-09-29")
    (office,) = [d for d in digests(sessions, setup, "2020-09-30T08:30") if d.recipient.id is None]
    assert {item.unit for item in office.items} == {"市财政局"}
    (item,) = office.items
    assert (item.level, item.overdue_days) == ("escalate", 4)  # 9-27 (调休), 9-28, 9-29, 9-30


def test_an_item_at_the_supervise_level_is_listed_as_such(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.sweep_until("2020-09-28")  # 督办 for 9-25 was on 9-27, 通报 is due on 9-29
    sent = digests(sessions, setup, "2020-09-28T10:00")
    office = texts(sessions)[OFFICE]
    assert "市住建局：逾期 1 项，最长 2 个工作日" in office
    assert {item.level for d in sent for item in d.items} == {"supervise"}
    assert {item.unit for d in sent for item in d.items} == {"市住建局", "市财政局", "市发改委"}


def test_each_supervisor_sees_only_the_tasks_they_oversee(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    digests(sessions, setup, "2020-10-14T08:30")
    shown = texts(sessions)
    # 赵华 oversees 市住建局, the lead of task 1: its co-unit 市财政局's item is hers, even
    # though 李明 oversees 市财政局 itself.
    assert "市财政局：逾期 1 项" in shown["赵华"]
    assert "第2项" not in shown["赵华"]
    # 李明 oversees 市发改委, the lead of task 2: only its blocker.
    assert shown["李明"].splitlines() == [
        "【督办日报】李明常务副市长：2020年10月14日",  # addressed by title
        "反映困难：",
        "  · 第2项（市发改委，10月12日反映）：用地审批未完成 ＠all **急**",
    ]


def test_a_task_supervisor_sees_the_task_besides_the_lead_units_supervisor(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    with sessions.begin() as session:
        zhao = session.scalars(select(Supervisor.id).where(Supervisor.name == "赵华")).one()
        session.execute(update(Task).where(Task.number == "2").values(supervisor_id=zhao))
    digests(sessions, setup, "2020-10-14T08:30")
    shown = texts(sessions)
    assert "第2项（市发改委" in shown["赵华"]
    assert "第2项（市发改委" in shown["李明"]


def test_a_blocker_is_open_until_the_unit_reports_progress_again(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    digests(sessions, setup, "2020-10-14T08:30")
    story.reply("市发改委", "进展 #2 20% 已协调用地", "2020-10-14T10:00")
    story.sweep_until("2020-10-14")
    sent = digests(sessions, setup, "2020-10-15T08:30")
    assert [d.blockers for d in sent] == [(), ()]  # the office and 赵华: the September item
    assert "李明" not in [d.recipient.name for d in sent]


def test_a_closed_task_leaves_the_digest(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.october()
    story.sweep_until("2020-11-06")  # task 1's deadline (11-02) reached 通报 on 11-05
    first = digests(sessions, setup, "2020-11-06T08:30")
    office = next(d for d in first if d.recipient.id is None)
    assert {(i.task, i.unit, i.kind) for i in office.items} == {
        ("1", "市住建局", "deadline"),  # its 10-20 report settled October's cycle
        ("1", "市财政局", "deadline"),
        ("2", "市发改委", "report"),  # October's report, never sent
    }
    story.reply("市住建局", "完成 #1 已建成", "2020-11-06T10:00")
    story.reply(OFFICE, "确认办结 #1", "2020-11-06T15:00")
    later = digests(sessions, setup, "2020-11-09T08:30")
    assert {(i.task, i.unit) for d in later for i in d.items} == {("2", "市发改委")}


def test_user_text_is_escaped_for_a_markdown_channel(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    with sessions.begin() as session:
        session.execute(update(Supervisor).where(Supervisor.name == "李明").values(channel="li"))
    formats = Formats(
        {"console": MessageFormat("console"), "li": MessageFormat("wecom", "markdown")}
    )
    digests(sessions, replace(setup, composer=Composer(formats)), "2020-10-14T08:30")
    (message,) = queued(sessions)["李明"]
    assert message.channel == "li"
    assert message.text.startswith("**【督办日报】李明常务副市长**：2020年10月14日\n")
    assert "用地审批未完成 ＠all ＊＊急＊＊" in message.text
    assert "@all" not in message.text


def test_the_office_digest_goes_to_the_office_channel(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    formats = Formats(
        {"console": MessageFormat("console"), "office": MessageFormat("console")},
        office_channel="office",
    )
    digests(sessions, replace(setup, composer=Composer(formats)), "2020-10-14T08:30")
    channels = {name: {m.channel for m in parts} for name, parts in queued(sessions).items()}
    assert channels == {OFFICE: {"office"}, "赵华": {"console"}, "李明": {"console"}}


def test_forty_overdue_items_of_one_unit_are_one_line_of_the_digest(
    sessions: sessionmaker[Session], tmp_path: Path, setup: DigestSetup
) -> None:
    import_plan(sessions, tmp_path, MANY)  # 40 tasks, all 市财政局's, none reported on
    runtime = make_runtime(sessions)
    for morning in working_mornings(date(2020, 9, 1), date(2020, 11, 5), runtime.calendar):
        runtime.sweep(morning)
    formats = Formats({"console": MessageFormat("wecom", "text")})
    sent = digests(sessions, replace(setup, composer=Composer(formats)), "2020-11-06T08:30")
    office = next(d for d in sent if d.recipient.id is None)
    (message,) = queued(sessions)[OFFICE]  # a summary per unit, not a line per item
    assert len(message.items) == len(office.items) >= 40
    longest = max(item.overdue_days for item in office.items)
    assert message.text.splitlines()[1:] == [
        "以下事项已进入督办、通报程序，按责任单位汇总如下，请督促落实：",
        f"1. 市财政局：逾期 {len(office.items)} 项，最长 {longest} 个工作日",
    ]


# --- when and how often -------------------------------------------------------------------


def test_an_empty_digest_is_not_sent(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.sweep_until("2020-09-15")
    assert digests(sessions, setup, "2020-09-16T08:30") == []
    assert queued(sessions) == {}


def test_nothing_is_sent_before_the_time_or_on_a_day_off(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    assert digests(sessions, setup, "2020-10-14T08:29") == []
    assert digests(sessions, replace(setup, at=time(9, 15)), "2020-10-14T09:00") == []
    assert digests(sessions, setup, "2020-10-18T10:00") == []  # a Sunday
    assert queued(sessions) == {}
    assert len(digests(sessions, setup, "2020-10-14T08:30")) == 3


def test_a_holiday_has_no_digest_and_an_adjusted_working_saturday_has_one(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.september()
    story.sweep_until("2020-09-30")
    assert digests(sessions, setup, "2020-10-05T09:00") == []  # 国庆 (a Monday)
    assert digests(sessions, setup, "2020-10-10T09:00") != []  # a working Saturday (调休)


def test_each_recipient_gets_one_digest_a_day_however_often_it_runs(
    story: Story, sessions: sessionmaker[Session], engine: Engine, setup: DigestSetup
) -> None:
    blocked_story(story)
    assert len(digests(sessions, setup, "2020-10-14T08:30")) == 3
    assert digests(sessions, setup, "2020-10-14T08:35") == []
    other = writer_sessions(engine)  # another daemon's sessions
    assert digests(other, setup, "2020-10-14T16:00") == []
    assert {name: len(parts) for name, parts in queued(sessions).items()} == {
        OFFICE: 1,
        "赵华": 1,
        "李明": 1,
    }
    with sessions() as session:
        keys = set(session.scalars(select(OnceKey.key)))
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "digest.queued"))
        assert len(list(events)) == 3
    assert {"digest:2020-10-14:office", "digest:2020-10-14:supervisor:1"} <= keys
    assert len(digests(sessions, setup, "2020-10-15T08:30")) == 3  # the next day: again


def test_two_daemons_at_the_same_moment_queue_each_digest_once(
    story: Story, sessions: sessionmaker[Session], engine: Engine, setup: DigestSetup
) -> None:
    blocked_story(story)
    other = writer_sessions(engine)
    first, second = while_the_first_holds(
        sessions,
        lambda session: send_digests(session, setup, local("2020-10-14T08:30")),
        lambda: digests(other, setup, "2020-10-14T08:30"),
    )
    assert len(first) == 3
    assert second == []
    assert sum(len(parts) for parts in queued(sessions).values()) == 3


# --- the monthly accountability section ---------------------------------------------------


def test_the_first_digest_of_a_month_lists_last_months_confirmed_accountability(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.november()
    ranking = RankingSetup(config=RankingConfig(), tz=TZ, calendar=setup.calendar)
    with sessions.begin() as session:
        (entry,) = raise_entries(session, ranking, local("2020-12-01T00:10"))
        entry_id = entry.id
    with sessions.begin() as session:
        decide(session, entry_id, "confirmed", local("2020-12-01T10:00"), note="约谈主要负责人")
    story.sweep_until("2020-12-31")
    december = digests(sessions, setup, "2020-12-02T08:30")
    assert all(d.entries == () for d in december)  # confirmed this month, not last
    story.sweep_until("2021-01-03")
    january = {d.recipient.name: d for d in digests(sessions, setup, "2021-01-04T08:30")}
    assert january[OFFICE].entries == (entry_id,)
    assert january["李明"].entries == (entry_id,)  # 市发改委 is a unit he oversees
    assert "赵华" not in january or january["赵华"].entries == ()
    office = text_of(sessions, january[OFFICE])
    assert office[0] == "【督办日报】督查室：2021年1月4日"
    assert office[-2:] == [
        "2020年12月确认的问责事项：",
        "  · 市发改委：连续3期排名亮红灯（2020-09至2020-11）（12月1日确认，约谈主要负责人）",
    ]
    later = digests(sessions, setup, "2021-01-05T08:30")
    assert all(d.entries == () for d in later)


def test_confirmed_accountability_alone_is_worth_a_digest(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    story.november()  # after it, 赵华 oversees no task: 市财政局 now leads task 1
    story.sweep_until("2020-12-31")
    one_period = RankingConfig(accountability=Accountability(red_periods=1))
    ranking = RankingSetup(config=one_period, tz=TZ, calendar=setup.calendar)
    with sessions.begin() as session:
        entries = {
            e.unit.name: e.id for e in raise_entries(session, ranking, local("2020-12-01T00:10"))
        }
    assert set(entries) == {"市住建局", "市发改委"}  # both red in November
    with sessions.begin() as session:
        decide(session, entries["市住建局"], "confirmed", local("2020-12-03T10:00"))
        decide(session, entries["市发改委"], "dismissed", local("2020-12-03T10:05"))
    story.sweep_until("2021-01-03")
    sent = {d.recipient.name: d for d in digests(sessions, setup, "2021-01-04T08:30")}
    zhao = sent["赵华"]  # 市住建局's supervisor: nothing but the entry
    assert (zhao.items, zhao.blockers, zhao.entries) == ((), (), (entries["市住建局"],))
    assert sent[OFFICE].entries == (entries["市住建局"],)  # not the dismissed one
    assert text_of(sessions, zhao) == [
        "【督办日报】赵华副市长：2021年1月4日",
        "2020年12月确认的问责事项：",
        "  · 市住建局：连续1期排名亮红灯（2020-11）（12月3日确认）",
    ]


def test_a_leader_without_a_title_in_the_directory_is_addressed_by_name_alone(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    with sessions.begin() as session:
        session.execute(update(Supervisor).where(Supervisor.name == "李明").values(title=None))
    digests(sessions, setup, "2020-10-14T08:30")
    assert texts(sessions)["李明"].startswith("【督办日报】李明：2020年10月14日\n")


def test_each_digest_carries_its_recipients_own_review_link(
    story: Story, sessions: sessionmaker[Session], setup: DigestSetup
) -> None:
    blocked_story(story)
    digests(sessions, replace(setup, composer=COMPOSER), "2020-10-14T08:30")

    shown = texts(sessions)
    with sessions() as session:
        li_ming = session.scalar(select(Supervisor.id).where(Supervisor.name == "李明"))
    for name, subject in ((OFFICE, ("office",)), ("李明", ("supervisor", li_ming))):
        line = next(x for x in shown[name].splitlines() if "待审的办结、延期申请" in x)
        token = line.rsplit("/v/", 1)[1]
        assert verify(SECRET, token, "review", local("2020-10-14T08:30")).subject == subject
