"""The inbox: `receive` keeps an event once, `handle` acts on it once and stores the answer,
`pending` lists what a stopped process left unanswered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.compose import DEFAULT_OFFICE
from bot.intake.directory import load_directory
from bot.platforms.inbound import InboundMessage
from bot.replies.identity import People
from bot.replies.inbox import (
    NO_PLAN,
    NOT_TEXT,
    UNKNOWN_SENDER,
    handle,
    pending,
    receive,
    stored_event_id,
)
from bot.replies.keywords import help_text
from bot.store.models import AuditEvent, InboundEvent
from tests.support.web import NOW, write_directory

WEBHOOK = "https://oapi.dingtalk.com/robot/sendBySession?session=c3f1b2"


def message(
    text: str = "进展 #1 60% 已完成立项",
    *,
    sender: str = "liaison2",
    event_id: str = "7301",
    platform: str = "wecom",
    reply_to: str | None = None,
    reply_expires: datetime | None = None,
) -> InboundMessage:
    return InboundMessage(
        platform=platform,
        event_id=event_id,
        sender=sender,
        text=text,
        sent_at=NOW,
        conversation=None,
        reply_to=reply_to,
        reply_expires=reply_expires,
        raw={"Content": text, "MsgId": event_id},
    )


def kept(sessions: sessionmaker[Session], event: InboundMessage, source: str = "qywx") -> int:
    with sessions.begin() as session:
        row = receive(session, source, event, NOW)
    assert row is not None
    return row


def stored(sessions: sessionmaker[Session], row: int) -> InboundEvent:
    with sessions() as session:
        return session.get_one(InboundEvent, row)


def refusals(sessions: sessionmaker[Session]) -> list[AuditEvent]:
    with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == "reply.refused")
        return list(session.scalars(query))


# receive


def test_receive_keeps_a_new_event_as_received(sessions: sessionmaker[Session]) -> None:
    expires = NOW + timedelta(hours=1)
    event = message(platform="dingtalk", reply_to=WEBHOOK, reply_expires=expires)
    row = stored(sessions, kept(sessions, event, "ding"))
    assert (row.source, row.platform, row.event_id, row.sender) == (
        "ding",
        "dingtalk",
        "7301",
        "liaison2",
    )
    assert (row.text, row.payload) == ("进展 #1 60% 已完成立项", event.raw)
    assert (row.reply_to, row.reply_expires) == (WEBHOOK, expires)
    assert (row.state, row.actor, row.reply, row.processed_at) == ("received", None, None, None)
    assert row.received_at == NOW


def test_receive_returns_none_for_a_message_received_before(
    sessions: sessionmaker[Session],
) -> None:
    first = kept(sessions, message())
    with sessions.begin() as session:
        assert receive(session, "qywx", message("another text"), NOW + timedelta(1)) is None
    with sessions() as session:
        assert session.scalars(select(InboundEvent.id)).all() == [first]


def test_the_same_message_id_from_another_hook_is_another_event(
    sessions: sessionmaker[Session],
) -> None:
    assert kept(sessions, message(), "qywx") != kept(sessions, message(), "qywx-2")


def test_receive_keeps_text_no_database_column_can_hold_as_replacement_characters(
    sessions: sessionmaker[Session],
) -> None:
    event = message("进展\x00 #1 \ud800", sender="a\x00b", event_id="id\x00", reply_to="x\udfff")
    row = stored(sessions, kept(sessions, event))
    assert (row.text, row.sender, row.event_id, row.reply_to) == (
        "进展\ufffd #1 \ufffd",
        "a\ufffdb",
        "id\ufffd",
        "x\ufffd",
    )
    assert stored_event_id("id\x00") == row.event_id


def test_receive_cuts_an_overlong_message_id_as_stored_event_id_does(
    sessions: sessionmaker[Session],
) -> None:
    long_id = "m" * 300
    row = stored(sessions, kept(sessions, message(event_id=long_id)))
    assert row.event_id == stored_event_id(long_id) == "m" * 200
    with sessions.begin() as session:
        assert receive(session, "qywx", message(event_id=long_id), NOW) is None


# handle


def test_handle_acts_stores_the_answer_and_returns_it(
    planned: sessionmaker[Session], people: People
) -> None:
    row = kept(planned, message(platform="dingtalk", reply_to=WEBHOOK), "ding")
    with planned.begin() as session:
        handled = handle(session, people, row, NOW + timedelta(seconds=1))
    assert handled is not None
    assert (handled.event, handled.platform, handled.source) == (row, "dingtalk", "ding")
    assert (handled.reply, handled.reply_to, handled.changed) == (
        "已收到第1项进展（60%），谢谢。",
        WEBHOOK,
        True,
    )
    event = stored(planned, row)
    assert (event.state, event.actor, event.reply) == ("processed", "市发改委", handled.reply)
    assert event.processed_at == NOW + timedelta(seconds=1)


def test_handle_claims_an_event_once(planned: sessionmaker[Session], people: People) -> None:
    row = kept(planned, message())
    with planned.begin() as session:
        assert handle(session, people, row, NOW) is not None
    with planned.begin() as session:
        assert handle(session, people, row, NOW) is None
    with planned() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor != "import"))
        assert list(actions) == ["reply.progress"]


def test_handle_of_an_event_that_does_not_exist_is_none(
    planned: sessionmaker[Session], people: People
) -> None:
    with planned.begin() as session:
        assert handle(session, people, 12345, NOW) is None


def test_an_event_being_handled_elsewhere_is_not_claimed_again(
    planned: sessionmaker[Session], people: People
) -> None:
    row = kept(planned, message())
    with planned.begin() as session:
        session.get_one(InboundEvent, row).state = "processing"
    with planned.begin() as session:
        assert handle(session, people, row, NOW) is None


def test_an_unknown_sender_is_refused_politely_and_on_record(
    planned: sessionmaker[Session], people: People
) -> None:
    row = kept(planned, message(sender="stranger"))
    with planned.begin() as session:
        handled = handle(session, people, row, NOW)
    assert handled is not None
    assert (handled.reply, handled.changed) == (UNKNOWN_SENDER.format(office=DEFAULT_OFFICE), False)
    [refused] = refusals(planned)
    assert (refused.actor, refused.channel, refused.inbound_message_id) == (
        "unknown sender",
        "qywx",
        "7301",
    )
    assert refused.detail["sender"] == "stranger"
    assert stored(planned, row).actor is None


def test_a_message_that_is_not_text_is_answered_with_how_to_write(
    planned: sessionmaker[Session], people: People
) -> None:
    row = kept(planned, message(""))
    with planned.begin() as session:
        handled = handle(session, people, row, NOW)
    assert handled is not None
    assert (handled.reply, handled.changed) == (NOT_TEXT, False)


def test_without_a_plan_nothing_is_done(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    directory = load_directory(write_directory(tmp_path))
    row = kept(sessions, message())
    with sessions.begin() as session:
        handled = handle(session, People.load(session, directory.office), row, NOW)
    assert handled is not None
    assert handled.reply == UNKNOWN_SENDER.format(
        office=DEFAULT_OFFICE
    )  # units and their contacts come with a plan
    row = kept(sessions, message(sender="ducha", event_id="7302"))
    with sessions.begin() as session:
        handled = handle(session, People.load(session, directory.office), row, NOW)
    assert handled is not None  # the office is in the directory file: known without a plan
    assert (handled.reply, handled.changed) == (NO_PLAN.format(office=DEFAULT_OFFICE), False)


def test_a_message_that_is_no_command_is_answered_with_the_help(
    planned: sessionmaker[Session], people: People
) -> None:
    row = kept(planned, message("你好，请问这个怎么填？"))
    with planned.begin() as session:
        handled = handle(session, people, row, NOW)
    assert handled is not None
    assert handled.reply.startswith("未能识别指令。")
    assert handled.reply.endswith(help_text())
    assert refusals(planned) == []


def test_a_refused_command_is_on_record_with_what_was_asked(
    planned: sessionmaker[Session], people: People
) -> None:
    row = kept(planned, message("完成 #1", sender="liaison3"))
    with planned.begin() as session:
        handled = handle(session, people, row, NOW)
    assert handled is not None
    assert handled.changed is False
    [refused] = refusals(planned)
    assert refused.actor == "市财政局"
    assert refused.detail == {"sender": "liaison3", "text": "完成 #1", "reply": handled.reply}


# pending


def test_pending_lists_events_received_long_ago_and_never_acted_on(
    planned: sessionmaker[Session], people: People
) -> None:
    old = kept(planned, message(event_id="1"))
    older = kept(planned, message(event_id="2"))
    done = kept(planned, message(event_id="3"))
    with planned.begin() as session:
        assert handle(session, people, done, NOW) is not None
    with planned.begin() as session:
        session.get_one(InboundEvent, older).received_at = NOW - timedelta(hours=1)
    recent = message(event_id="4")
    with planned.begin() as session:
        receive(session, "qywx", recent, NOW + timedelta(minutes=9, seconds=30))
    later = NOW + timedelta(minutes=10)
    with planned() as session:
        assert pending(session, later, timedelta(minutes=1)) == [old, older]
        assert pending(session, later, timedelta(minutes=30)) == [older]
        assert pending(session, datetime(2020, 1, 1, tzinfo=UTC), timedelta(0)) == []
