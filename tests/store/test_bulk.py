"""insert_new: new rows in one statement, those already there skipped, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.bulk import insert_new
from bot.store.models import InboundEvent

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
