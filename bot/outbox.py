"""Dispatch: claims pending messages atomically, sends them, records the answer.

A claim is a short transaction that moves rows to `sending` with a lease; the send happens
outside it; a second transaction records the outcome. A process killed between the two
leaves the row `sending` until the lease expires, and then it is claimed again: delivery is
at-least-once, with the duplicate window one in-flight request. Each webhook's send budget
(bot/ratelimit.py) is checked before its send; sends of a batch run in parallel, so a slow
or failing webhook does not hold up the others.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.audit import record, record_many
from bot.channels import Channel, DeliveryError, Outgoing, Receipt
from bot.database import session_factory, writer
from bot.formats import MENTION_IDS
from bot.models import Message
from bot.ratelimit import PLATFORM_LIMITS, Limit, acquire, disable, pause
from bot.render import render
from bot.splitting import split_message, utf8_len

LEASE = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=1)
DISABLED_RECHECK = timedelta(minutes=10)
MAX_ATTEMPTS = 8
LOCAL_PLATFORMS = frozenset({"console", "jsonl"})

ChannelFor = Callable[[str | None], Channel]


@dataclass(frozen=True)
class Claimed:
    outgoing: Outgoing
    channel: str | None


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
    return [Claimed(_outgoing(m), m.channel) for m in sendable]


def _outgoing(message: Message) -> Outgoing:
    mentions = message.mentions or {}
    ids = [i for key in MENTION_IDS for i in mentions.get(key, [])]
    return Outgoing(
        message.id,
        message.recipient_name,
        message.kind,
        message.text,
        tuple(mentions.get("mobiles", [])),
        tuple(ids),
    )


@dataclass
class Dispatcher:
    """Sends what is claimable, within each webhook's budget; records every outcome."""

    sessions: sessionmaker[Session]
    channel_for: ChannelFor
    platforms: dict[str, str] = field(default_factory=dict)
    office_channel: str | None = None
    workers: int = 16

    def __post_init__(self) -> None:
        # Dispatch reads then writes from several threads: on SQLite its transactions must
        # take the write lock at BEGIN (see database.writer), whatever sessions it was given.
        bind = self.sessions.kw.get("bind")
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
            self.sessions = session_factory(writer(bind))

    def dispatch_once(self, now: datetime, limit: int = 50) -> int:
        """Sends one batch; returns how many were claimed (a full batch: more may wait)."""
        with self.sessions.begin() as session:
            batch = claim(session, now, limit)
        # Webhooks in parallel; one webhook's messages in order (numbered parts stay in order).
        lanes: dict[str, list[Claimed]] = {}
        for item in batch:
            lanes.setdefault(self.channel_for(item.channel).name, []).append(item)
        if len(lanes) <= 1:
            self._deliver_lane(batch, now)
        else:
            with ThreadPoolExecutor(min(self.workers, len(lanes))) as pool:
                list(pool.map(lambda lane: self._deliver_lane(lane, now), lanes.values()))
        return len(batch)

    def _deliver_lane(self, lane: list[Claimed], now: datetime) -> None:
        sent: list[tuple[Claimed, Receipt]] = []
        for item in lane:
            receipt = self.deliver(item, now, record=not self._local(item.channel))
            if receipt is not None:
                sent.append((item, receipt))
        if sent:  # the console and files: one transaction for the lane, not one per message
            with self.sessions.begin() as session:
                self._record_sent(session, sent, now)

    def _local(self, channel: str | None) -> bool:
        name = self.channel_for(channel).name
        return self.platforms.get(name, "console") in LOCAL_PLATFORMS

    def dispatch_all(self, now: datetime, limit: int = 50) -> int:
        sent = 0
        while (count := self.dispatch_once(now, limit)) > 0:
            sent += count
            if count < limit:
                break
        return sent

    def deliver(self, item: Claimed, now: datetime, *, record: bool = True) -> Receipt | None:
        """Sends one message; records the success now, or returns it for the caller to."""
        channel = self.channel_for(item.channel)
        if not self._budget(channel.name, item.outgoing.message_id, now):
            return None
        try:
            receipt = channel.send(item.outgoing)
        except DeliveryError as exc:
            self._failed(channel.name, item.outgoing, exc, now)
            return None
        except Exception as exc:  # a channel bug must not strand the rest of the batch
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
            self._failed(channel.name, item.outgoing, error, now)
            return None
        if not record:
            return receipt
        with self.sessions.begin() as session:
            self._record_sent(session, [(item, receipt)], now)
        return None

    def _record_sent(
        self, session: Session, sent: list[tuple[Claimed, Receipt]], now: datetime
    ) -> None:
        session.execute(
            update(Message),
            [
                {
                    "id": item.outgoing.message_id,
                    "state": "sent",
                    "sent_at": now,
                    "claimed_until": None,
                    "response": receipt.detail,
                    "last_error": None,
                }
                for item, receipt in sent
            ],
        )
        channel = self.channel_for(sent[0][0].channel).name  # one lane: one channel
        events: list[tuple[int | None, dict[str, Any]]] = [
            (item.outgoing.message_id, {"channel": channel, "recipient": item.outgoing.recipient})
            for item, _ in sent
        ]
        record_many(session, now, "dispatch", "message.sent", "message", events, channel=channel)

    def _limits(self, channel: str) -> tuple[Limit, ...]:
        return PLATFORM_LIMITS.get(self.platforms.get(channel, ""), ())

    def _budget(self, channel: str, message_id: int, now: datetime) -> bool:
        """Takes a send from the webhook's budget, or puts the message back to wait."""
        if self.platforms.get(channel, "console") in LOCAL_PLATFORMS:
            return True  # the console and files have no budget and are never disabled
        with self.sessions.begin() as session:
            verdict = acquire(session, f"channel:{channel}", self._limits(channel), now)
            if verdict.allowed:
                return True
            wait = DISABLED_RECHECK if verdict.wait is None else timedelta(seconds=verdict.wait)
            session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(
                    state="pending",
                    not_before=now + wait,
                    claimed_until=None,
                    attempts=Message.attempts - 1,
                    last_error=f"waiting: {verdict.reason}",
                )
            )
        return False

    def _failed(
        self, channel: str, outgoing: Outgoing, error: DeliveryError, now: datetime
    ) -> None:
        with self.sessions.begin() as session:
            if error.too_long:
                _split(session, outgoing.message_id, error, now)
            elif error.retry_after is not None:
                pause(session, f"channel:{channel}", error.retry_after, now)
                _requeue(session, outgoing.message_id, error, now, error.retry_after)
            elif error.permanent:
                _dead(session, outgoing.message_id, channel, error, now)
                disable(session, f"channel:{channel}", str(error), now)
                self._alert(session, channel, str(error), now)
            else:
                _retry_later(session, outgoing.message_id, channel, error, now)

    def _alert(self, session: Session, channel: str, reason: str, now: datetime) -> None:
        """The office hears of a channel that stopped working (unless it is that channel)."""
        if self.office_channel is None or self.office_channel == channel:
            return
        session.add(
            Message(
                recipient_kind="office",
                recipient_id=None,
                recipient_name="督查室",
                channel=self.office_channel,
                kind="alert",
                state="pending",
                not_before=now,
                items=[],
                mentions={},
                text=render("alert", channel=channel, reason=reason),
                attempts=0,
                simulated=False,
                part=1,
                parts=1,
                created_at=now,
            )
        )


def _requeue(
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


def _dead(
    session: Session, message_id: int, channel: str, error: DeliveryError, now: datetime
) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(state="dead", claimed_until=None, last_error=str(error), response=error.answer)
    )
    record(
        session,
        now,
        "dispatch",
        "message.dead",
        "message",
        message_id,
        {"channel": channel, "error": str(error)},
        channel=channel,
    )


def _retry_later(
    session: Session, message_id: int, channel: str, error: DeliveryError, now: datetime
) -> None:
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


def _split(session: Session, message_id: int, error: DeliveryError, now: datetime) -> None:
    """The platform found it too long: resend it as parts half the size."""
    message = session.get_one(Message, message_id)
    parts = split_message(message.text, max(utf8_len(message.text) // 2, 256))
    message.state, message.claimed_until, message.last_error = "split", None, str(error)
    for number, text in enumerate(parts, start=1):
        session.add(
            Message(
                recipient_kind=message.recipient_kind,
                recipient_id=message.recipient_id,
                recipient_name=message.recipient_name,
                channel=message.channel,
                kind=message.kind,
                state="pending",
                not_before=now,
                items=[],
                text=text,
                mentions=message.mentions if number == 1 else {},
                attempts=0,
                simulated=message.simulated,
                part=number,
                parts=len(parts),
                created_at=now,
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


def dispatch_once(
    sessions: sessionmaker[Session], channel_for: ChannelFor, now: datetime, limit: int = 20
) -> int:
    """One batch without per-webhook budgets (local channels, tests)."""
    return Dispatcher(sessions, channel_for).dispatch_once(now, limit)


def dispatch_all(
    sessions: sessionmaker[Session], channel_for: ChannelFor, now: datetime, limit: int = 20
) -> int:
    return Dispatcher(sessions, channel_for).dispatch_all(now, limit)
