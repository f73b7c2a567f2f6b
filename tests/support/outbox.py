"""Outbox rows made by hand, for the dispatcher's and the daemon's tests."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Message
from tests.support.engine import local

NOW = local("2020-10-12T10:00").astimezone(UTC)  # a Monday morning, inside the send window
EARLIER = NOW - timedelta(hours=1)


def make_message(session: Session, **overrides: Any) -> Message:
    """Inserts one pending outbox row, ready since an hour before NOW unless told otherwise."""
    values: dict[str, Any] = {
        "recipient_kind": "unit",
        "recipient_id": None,
        "recipient_name": "市住建局",
        "channel": None,
        "kind": "remind",
        "state": "pending",
        "not_before": EARLIER,
        "mentions": {"mobiles": ["13800000001"]},
        "text": "请于本周内报送重点工作进展。",
        "created_at": EARLIER,
    }
    message = Message(**{**values, **overrides})
    session.add(message)
    session.flush()
    return message


def load(sessions: sessionmaker[Session], message_id: int) -> Message:
    with sessions() as session:
        return session.get_one(Message, message_id)
