"""What the operator does with the outbox: look at it, and put a dead message back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.errors import DubanError, NotFoundError
from bot.delivery.ratelimit import enable
from bot.store.models import Message

STATES = ("pending", "sending", "sent", "failed", "dead", "split")


def list_messages(session: Session, state: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest messages first, of one state or all."""
    if state is not None and state not in STATES:
        raise DubanError(f"未知的状态「{state}」，可选：{'、'.join(STATES)}")
    query = select(Message).order_by(Message.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Message.state == state)
    return [
        {
            "id": m.id,
            "channel": m.channel,
            "kind": m.kind,
            "state": m.state,
            "attempts": m.attempts,
            "last_error": m.last_error,
            "recipient": m.recipient_name,
        }
        for m in session.scalars(query)
    ]


def retry(session: Session, message_id: int, now: datetime) -> bool:
    """Puts a dead message back in the queue and re-enables its channel; whether the
    channel had been disabled."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError(f"没有编号为 {message_id} 的消息")
    if message.state != "dead":
        raise DubanError(f"消息 {message_id} 的状态是 {message.state}，只有 dead 的消息可以重发")
    message.state, message.attempts, message.not_before = "pending", 0, now
    message.last_error = None
    return enable(session, f"channel:{message.channel}", now)
