"""insert_new: new rows in one statement, those already there skipped; insert_rows and
update_rows: many rows in one statement; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.bulk import insert_new, insert_rows, update_rows
from bot.store.models import AuditEvent, InboundEvent, Message
from tests.support.outbox import make_message

NOW = datetime(2020, 3, 10, 2, 0, tzinfo=UTC)
TABLE = cast(Table, InboundEvent.__table__)


def row(event_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "source": "oa",
        "platform": "generic",
        "event_id": event_id,
        "signature": None,
        "sender": "liaison1",
        "text": "收到",
        "payload": {"n": event_id},
        "reply_to": None,
        "reply_expires": None,
        "state": "received",
        "received_at": NOW,
        **changes,
    }


def test_insert_new_returns_only_the_rows_it_inserted(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        first = insert_new(session.connection(), TABLE, [row("a"), row("b")], ("event_id",))
    with sessions.begin() as session:
        again = insert_new(
            session.connection(), TABLE, [row("b"), row("c"), row("c")], ("event_id",)
        )
    assert sorted(r.event_id for r in first) == ["a", "b"]
    assert [r.event_id for r in again] == ["c"]


def test_insert_new_keeps_json_nul_and_times_as_the_orm_reads_them(
    sessions: sessionmaker[Session],
) -> None:
    east = timezone(timedelta(hours=8))
    payload = {"text": "进展\x00", "nested": [1, None, True]}
    with sessions.begin() as session:
        insert_new(
            session.connection(),
            TABLE,
            [row("a", payload=payload, reply_expires=NOW.astimezone(east))],
            ("id",),
        )
    with sessions() as session:
        stored = session.scalars(select(InboundEvent)).one()
    assert stored.payload == payload
    assert stored.reply_expires == NOW
    assert stored.received_at == NOW
    assert (stored.actor, stored.reply, stored.processed_at) == (None, None, None)


def test_update_rows_sets_each_rows_values_on_the_row_with_its_key(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        first, second, untouched = (make_message(session).id for _ in range(3))
    east = timezone(timedelta(hours=8))
    with sessions.begin() as session:
        update_rows(
            session.connection(),
            cast(Table, Message.__table__),
            "id",
            [
                {"id": first, "state": "sent", "sent_at": NOW, "response": {"msg": "进展\x00"}},
                {
                    "id": second,
                    "state": "failed",
                    "sent_at": NOW.astimezone(east),
                    "response": None,
                },
            ],
        )
    with sessions() as session:
        stored = {m.id: m for m in session.scalars(select(Message))}
    assert (stored[first].state, stored[first].sent_at) == ("sent", NOW)
    assert stored[first].response == {"msg": "进展\x00"}
    assert (stored[second].state, stored[second].sent_at, stored[second].response) == (
        "failed",
        NOW,
        None,
    )
    assert (stored[untouched].state, stored[untouched].sent_at) == ("pending", None)


def test_insert_rows_inserts_every_row_with_its_json_and_times(
    sessions: sessionmaker[Session],
) -> None:
    rows = [
        {
            "at": NOW,
            "actor": "dispatch",
            "action": "message.sent",
            "channel": channel,
            "subject_type": "message",
            "subject_id": n,
            "detail": {"channel": channel, "recipient": "市住建局"},
        }
        for n, channel in enumerate(["w0", "w1", "w0"], start=1)
    ]
    with sessions.begin() as session:
        insert_rows(session.connection(), cast(Table, AuditEvent.__table__), rows)
        insert_rows(session.connection(), cast(Table, AuditEvent.__table__), [])
    with sessions() as session:
        stored = session.scalars(select(AuditEvent).order_by(AuditEvent.subject_id)).all()
    assert [(e.subject_id, e.channel, e.at) for e in stored] == [
        (1, "w0", NOW),
        (2, "w1", NOW),
        (3, "w0", NOW),
    ]
    assert stored[1].detail == {"channel": "w1", "recipient": "市住建局"}
