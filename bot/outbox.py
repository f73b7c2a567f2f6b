"""Dispatch: claims pending messages atomically, sends them, records the answer.

A claim is a short transaction that moves rows to `sending` with a lease; the send happens
outside it; a second transaction records the outcome. A process killed between the two
leaves the row `sending` until the lease expires, and then it is claimed again: delivery is
at-least-once, with the duplicate window one in-flight request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.audit import record, record_many
from bot.channels import Channel, DeliveryError, Outgoing
from bot.models import Message

LEASE = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=1)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Claimed:
    outgoing: Outgoing
    channel: str | None


ChannelFor = Callable[[str | None], Channel]


def claim(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Moves up to `limit` sendable rows to `sending` and returns what to send."""
    ready = or_(
        and_(Message.state.in_(("pending", "failed")), Message.not_before <= now),
        and_(Message.state == "sending", Message.claimed_until < now),
    )
    rows = session.scalars(
        select(Message)
        .where(ready)
        .order_by(Message.not_before, Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sendable = []
    for message in rows:
        if message.state == "sending" and message.attempts >= MAX_ATTEMPTS:
            # Claimed again and again and never confirmed: sending it kills its sender.
            message.state, message.claimed_until = "dead", None
            message.last_error = "lease expired after the last attempt"
            record(
                session,
                now,
                "dispatch",
                "message.dead",
                "message",
                message.id,
                {"error": message.last_error},
            )
            continue
        message.state, message.claimed_until = "sending", now + LEASE
        message.attempts += 1
        sendable.append(message)
    rows = sendable
    return [
        Claimed(
            Outgoing(m.id, m.recipient_name, m.kind, m.text, tuple(m.mentions.get("mobiles", []))),
            m.channel,
        )
        for m in rows
    ]


def dispatch_once(
    sessions: sessionmaker[Session], channel_for: ChannelFor, now: datetime, limit: int = 20
) -> int:
    """Sends one batch; returns how many were claimed (a full batch: more may be waiting)."""
    with sessions.begin() as session:
        batch = claim(session, now, limit)
    for item in batch:
        _deliver(sessions, channel_for(item.channel), item.outgoing, now)
    return len(batch)


def dispatch_all(
    sessions: sessionmaker[Session], channel_for: ChannelFor, now: datetime, limit: int = 20
) -> int:
    sent = 0
    while (count := dispatch_once(sessions, channel_for, now, limit)) > 0:
        sent += count
        if count < limit:
            break
    return sent


def _deliver(
    sessions: sessionmaker[Session], channel: Channel, outgoing: Outgoing, now: datetime
) -> None:
    try:
        receipt = channel.send(outgoing)
    except DeliveryError as exc:
        _record_failure(sessions, outgoing.message_id, channel.name, exc, now)
        return
    except Exception as exc:  # a channel bug must not strand the rest of the batch
        error = DeliveryError(f"{type(exc).__name__}: {exc}")
        _record_failure(sessions, outgoing.message_id, channel.name, error, now)
        return
    with sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == outgoing.message_id)
            .values(
                state="sent",
                sent_at=now,
                claimed_until=None,
                response=receipt.detail,
                last_error=None,
            )
        )
        record_many(
            session,
            now,
            "dispatch",
            "message.sent",
            "message",
            [(outgoing.message_id, {"channel": channel.name, "recipient": outgoing.recipient})],
            channel=channel.name,
        )


def _record_failure(
    sessions: sessionmaker[Session],
    message_id: int,
    channel: str,
    error: DeliveryError,
    now: datetime,
) -> None:
    with sessions.begin() as session:
        message = session.get_one(Message, message_id)
        dead = error.permanent or message.attempts >= MAX_ATTEMPTS
        message.state = "dead" if dead else "failed"
        message.last_error, message.claimed_until = str(error), None
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
