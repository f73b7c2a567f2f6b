"""What a failed send leads to: waiting for the platform's Retry-After, retrying with
backoff, resending in halves when too long, or the dead letter that disables the channel."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.delivery.compose import message_rows
from bot.delivery.render import render
from bot.delivery.splitting import split_message, utf8_len
from bot.platforms import DeliveryError
from bot.platforms.formats import MessageFormat
from bot.store.audit import record
from bot.store.models import Message

RETRY_AFTER = timedelta(minutes=1)
MAX_ATTEMPTS = 8


def alert_text(shape: MessageFormat, *, channel: str, reason: str) -> str:
    return render("alert", shape.markup, channel=channel, reason=reason)


def requeue(
    session: Session, message_id: int, error: DeliveryError, now: datetime, seconds: float
) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(
            state="pending",
            not_before=now + timedelta(seconds=seconds),
            claimed_until=None,
            last_error=str(error),
        )
    )
    record(
        session,
        now,
        "dispatch",
        "message.rate_limited",
        "message",
        message_id,
        {"error": str(error), "wait": seconds},
    )


def dead_letter(
    session: Session, message_id: int, channel: str, error: DeliveryError, now: datetime
) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(state="dead", claimed_until=None, last_error=str(error), response=error.answer)
    )
    record_dead(session, message_id, {"channel": channel, "error": str(error)}, now, channel)


def record_dead(
    session: Session,
    message_id: int,
    detail: dict[str, str],
    now: datetime,
    channel: str = "cli",
) -> None:
    """The audit event of a message given up on."""
    record(session, now, "dispatch", "message.dead", "message", message_id, detail, channel=channel)


def retry_later(
    session: Session, message_id: int, channel: str, error: DeliveryError, now: datetime
) -> bool:
    """Backs the message off, or gives up on it after MAX_ATTEMPTS (returns True then)."""
    message = session.get_one(Message, message_id)
    dead = message.attempts >= MAX_ATTEMPTS
    message.state = "dead" if dead else "failed"
    message.last_error, message.claimed_until = str(error), None
    message.response = error.answer or None
    message.not_before = now + RETRY_AFTER * 2 ** min(message.attempts, 6)
    record(
        session,
        now,
        "dispatch",
        "message.dead" if dead else "message.failed",
        "message",
        message.id,
        {"channel": channel, "error": str(error)},
        channel=channel,
    )
    return dead


def split_resend(session: Session, message_id: int, error: DeliveryError, now: datetime) -> None:
    """The platform found it too long: resend it as parts half the size."""
    message = session.get_one(Message, message_id)
    parts = split_message(message.text, max(utf8_len(message.text) // 2, 256))
    message.state, message.claimed_until, message.last_error = "split", None, str(error)
    recipient = (message.recipient_kind, message.recipient_id, message.recipient_name)
    session.add_all(
        message_rows(
            recipient,
            message.channel,
            message.kind,
            parts,
            now,
            mentions=message.mentions,
            simulated=message.simulated,
        )
    )
    record(
        session,
        now,
        "dispatch",
        "message.split",
        "message",
        message.id,
        {"parts": len(parts), "error": str(error)},
    )
