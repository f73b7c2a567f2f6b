"""「收到」 is not progress: a unit that acknowledged and then reported nothing for
`ack_followup_days` working days is asked again, once per acknowledgement."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.calendar import WorkCalendar
from bot.intake.directory import load_directory
from bot.intake.importing import import_file
from bot.platforms.inbound import InboundMessage
from bot.replies.followup import ack_followups
from bot.replies.identity import People
from bot.replies.inbox import handle, receive
from bot.store.models import AuditEvent, Message
from tests.support.engine import TZ, local, make_runtime
from tests.support.web import IMPORTED, write_directory, write_plan

DAYS = 3
TUESDAY = local("2020-03-10T10:00")
FRIDAY = local("2020-03-13T16:00")
_ids = itertools.count(1)


@pytest.fixture
def planned(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    directory = load_directory(write_directory(tmp_path))
    import_file(sessions, write_plan(tmp_path), directory, timezone="Asia/Shanghai", now=IMPORTED)
    return sessions


def reply(
    sessions: sessionmaker[Session], text: str, at: datetime, sender: str = "liaison2"
) -> str:
    """What a unit writes in WeCom, received and acted on at `at`; the answer."""
    event_id = str(next(_ids))
    message = InboundMessage("wecom", event_id, sender, text, at, None, None, None, {})
    with sessions.begin() as session:
        row = receive(session, "qywx", message, at)
        assert row is not None
        handled = handle(session, People.load(session), row, at)
    assert handled is not None
    assert handled.changed, handled.reply
    return handled.reply


def follow_up(sessions: sessionmaker[Session], at: datetime) -> int:
    with sessions.begin() as session:
        return ack_followups(session, WorkCalendar(), TZ, DAYS, at)


def followups(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        query = select(Message).where(Message.kind == "followup").order_by(Message.id)
        return list(session.scalars(query))


def audited(sessions: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(query))


def test_an_acknowledgement_without_progress_is_followed_up_after_the_working_days(
    planned: sessionmaker[Session],
) -> None:
    assert reply(planned, "收到 #1", TUESDAY) == "已确认收到第1项提醒，请及时报送进展。"
    assert follow_up(planned, local("2020-03-12T18:00")) == 0  # two working days on
    assert follow_up(planned, local("2020-03-13T09:00")) == 1  # three
    [message] = followups(planned)
    assert (message.recipient_kind, message.recipient_name, message.state) == (
        "unit",
        "市发改委",
        "pending",
    )
    assert "已于3月10日确认收到第1项" in message.text
    assert "3个工作日内尚未报送进展" in message.text
    assert "进展 #1 进度% 说明" in message.text
    [ack] = audited(planned, "reply.ack")
    [followed] = audited(planned, "followup.ack")
    assert (followed.actor, followed.subject_id) == ("sweep", ack.subject_id)
    assert followed.detail == {"ack": ack.id, "task": "1"}


def test_a_second_sweep_does_not_ask_again(planned: sessionmaker[Session]) -> None:
    reply(planned, "收到 #1", TUESDAY)
    assert follow_up(planned, local("2020-03-13T09:00")) == 1
    assert follow_up(planned, local("2020-03-13T09:10")) == 0
    assert follow_up(planned, local("2020-03-20T09:00")) == 0
    assert len(followups(planned)) == 1
    assert len(audited(planned, "followup.ack")) == 1


def test_progress_after_the_acknowledgement_means_no_follow_up(
    planned: sessionmaker[Session],
) -> None:
    reply(planned, "收到 #1", TUESDAY)
    reply(planned, "进展 #1 20% 已召开专题会", local("2020-03-11T15:00"))
    assert follow_up(planned, local("2020-03-16T09:00")) == 0
    assert followups(planned) == []
    assert audited(planned, "followup.ack") == []


def test_the_days_are_working_days(planned: sessionmaker[Session]) -> None:
    reply(planned, "收到 #1", FRIDAY)
    assert follow_up(planned, local("2020-03-17T23:00")) == 0  # Monday and Tuesday
    assert follow_up(planned, local("2020-03-18T09:00")) == 1  # Wednesday: the third


def test_each_acknowledgement_is_followed_up_once(planned: sessionmaker[Session]) -> None:
    reply(planned, "收到 #1", TUESDAY)
    assert follow_up(planned, local("2020-03-13T09:00")) == 1
    reply(planned, "收到 #1", local("2020-03-13T10:00"))
    assert follow_up(planned, local("2020-03-17T09:00")) == 0
    assert follow_up(planned, local("2020-03-18T09:00")) == 1
    acks = [event.id for event in audited(planned, "reply.ack")]
    assert [event.detail["ack"] for event in audited(planned, "followup.ack")] == acks


def test_a_task_asked_to_be_closed_is_not_followed_up(planned: sessionmaker[Session]) -> None:
    reply(planned, "收到 #1", TUESDAY)
    reply(planned, "完成 #1", local("2020-03-10T11:00"))
    assert follow_up(planned, local("2020-03-16T09:00")) == 0


def test_only_the_unit_that_acknowledged_is_asked(planned: sessionmaker[Session]) -> None:
    reply(planned, "收到 #1", TUESDAY, sender="liaison3")  # 市财政局, the co-unit
    assert follow_up(planned, local("2020-03-13T09:00")) == 1
    assert [m.recipient_name for m in followups(planned)] == ["市财政局"]


def test_the_runtime_sweep_follows_up(planned: sessionmaker[Session]) -> None:
    reply(planned, "收到 #1", TUESDAY)
    runtime = make_runtime(planned)
    assert runtime.ack_followup_days == DAYS
    runtime.sweep(local("2020-03-12T09:00"))
    assert followups(planned) == []
    runtime.sweep(local("2020-03-13T09:00"))
    runtime.sweep(local("2020-03-13T09:30"))
    [message] = followups(planned)
    assert message.recipient_name == "市发改委"
