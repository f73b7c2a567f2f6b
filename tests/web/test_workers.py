"""The receiver's group commit: one event the database refuses costs only itself."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import Rejected
from bot.platforms.inbound import InboundMessage
from bot.store.models import InboundEvent
from bot.web.workers import keep_events

NOW = datetime(2020, 3, 10, 2, 0, tzinfo=UTC)


def event(n: int, raw: dict[str, object] | None = None) -> tuple[str, InboundMessage, datetime]:
    message = InboundMessage(
        "generic", f"oa-{n}", "liaison1", f"收到 #{n}", NOW, None, None, None, raw or {"n": n}
    )
    return "oa", message, NOW


def test_a_batch_with_an_event_the_database_refuses_keeps_the_others(
    sessions: sessionmaker[Session],
) -> None:
    # PostgreSQL refuses a JSON payload holding Infinity; the parsers no longer let one in,
    # but whatever else a database refuses must not take a whole batch with it.
    batch = [event(n) for n in range(3)] + [event(3, {"n": float("inf")})]
    batch += [event(n) for n in range(4, 8)]
    kept = keep_events(sessions, batch)
    legitimate = kept[:3] + kept[4:]
    assert all(isinstance(found, int) for found in legitimate), kept
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert isinstance(kept[3], Rejected)
        assert kept[3].status == 400
    with sessions() as session:
        stored = session.scalars(select(InboundEvent.event_id)).all()
    assert {f"oa-{n}" for n in (0, 1, 2, 4, 5, 6, 7)} <= set(stored)


def test_an_event_sent_twice_in_one_batch_is_kept_once(sessions: sessionmaker[Session]) -> None:
    first, again = keep_events(sessions, [event(1), event(1)])
    assert isinstance(first, int)
    assert again is None
