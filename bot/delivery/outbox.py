"""Dispatch: claims pending messages atomically, sends them, records the answer.

A claim is a short transaction that moves a batch of rows to `sending` with a lease and
takes each webhook's send budget (bot/ratelimit.py) for its share; what the budget refuses
goes back to wait. The sends happen outside it, webhooks in parallel and each webhook's
messages in order, so a slow or failing webhook does not hold up the others. Successes are
recorded together (group commit): a worker hands its success over and sends nothing more
until the transaction holding it has committed; failures are recorded at once. So each
worker has at most one message the database cannot account for, in flight or sent and not
yet recorded. A process killed at any point leaves those rows `sending` until the lease
expires, and then they are claimed again: delivery is at-least-once, and one kill repeats
at most `workers` messages (with `[delivery] workers = 1`, at most one). A database restart
meanwhile delays the records (they are written again until it answers, up to a minute) and
holds the workers, rather than losing the records.

Time moves on during a run: given a clock, each claim, send and record is dated by it (the
run's `now` plus the time since the run began), so a claim's budget is stamped with the
moment of that claim, not the run's start, and a message not sent within the budget's margin
of its stamp (ratelimit.send_margin) goes back, its slot refunded, for a later claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.app.metrics import DEAD_LETTERS, RATE_LIMIT_PAUSES, SEND_SECONDS
from bot.delivery.compose import Composer, outgoing
from bot.delivery.confirmations import Claimed, Confirmations, write_sending, write_sent
from bot.delivery.failures import (
    MAX_ATTEMPTS,
    alert_text,
    dead_letter,
    record_dead,
    requeue,
    retry_later,
    split_resend,
)
from bot.delivery.ratelimit import Verdict, disable, grant_many, pause, refund, send_margin
from bot.platforms import Channel, DeliveryError, Outgoing, Receipt
from bot.platforms.registry import platform
from bot.platforms.spec import Limit
from bot.store.database import retry_while_unreachable, session_factory, writer
from bot.store.held import HeldConnection
from bot.store.models import Message

LEASE = timedelta(minutes=5)
BATCH = 500  # messages a claim takes
LANE_CAP = 20  # a remote webhook's messages in one batch: 20 × a 10 s timeout < LEASE
WAKE = 0.5  # seconds: the recorder looks at its workers at least this often
DISABLED_RECHECK = timedelta(minutes=10)
SEND_GUARD = 0.25  # seconds: a send starts this long before its margin ends, or not at all

ChannelFor = Callable[[str | None], Channel]


@dataclass(frozen=True)
class Moments:
    """The time during one dispatch run: `start`, moved on by the clock's seconds since
    `origin` (no clock: it stands still, as in a simulation)."""

    start: datetime
    clock: Callable[[], float] | None = None
    origin: float = 0.0

    def now(self) -> datetime:
        if self.clock is None:
            return self.start
        return self.start + timedelta(seconds=self.clock() - self.origin)


def _claimable(session: Session, now: datetime, limit: int) -> list[Message]:
    """Ready rows, locked; rows another dispatcher holds are skipped, not waited for."""
    ready = or_(
        and_(Message.state.in_(("pending", "failed")), Message.not_before <= now),
        and_(Message.state == "sending", Message.claimed_until < now),
    )
    return list(
        session.scalars(
            select(Message)
            .where(ready)
            .order_by(Message.not_before, Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def _expired(session: Session, message: Message, now: datetime) -> None:
    """Claimed again and again and never confirmed: sending it kills its sender."""
    message.state, message.claimed_until = "dead", None
    message.last_error = "lease expired after the last attempt"
    record_dead(session, message.id, {"error": message.last_error}, now)


def _wait_for_budget(
    session: Session, messages: list[Message], verdict: Verdict, now: datetime
) -> None:
    """Back to pending until the webhook's budget has room (or, disabled, for a while)."""
    wait = DISABLED_RECHECK if verdict.wait is None else timedelta(seconds=verdict.wait)
    for message in messages:
        message.state, message.not_before = "pending", now + wait
        message.claimed_until, message.last_error = None, f"waiting: {verdict.reason}"


@dataclass(frozen=True)
class Batch:
    """One claim: what was looked at (a full batch: more may wait) and what will be sent."""

    examined: int
    lanes: dict[str, list[Claimed]]
    deferred: int = 0  # ready, but past a webhook's LANE_CAP: the next batch takes them

    @property
    def claimed(self) -> int:
        return sum(len(lane) for lane in self.lanes.values())

    @property
    def all(self) -> list[Claimed]:
        """Every claimed message, lane after lane."""
        return [claimed for lane in self.lanes.values() for claimed in lane]


@dataclass
class Dispatcher:
    """Sends what is claimable, within each webhook's budget; records every outcome."""

    sessions: sessionmaker[Session]
    channel_for: ChannelFor
    platforms: dict[str, str] = field(default_factory=dict)
    composer: Composer | None = None  # how the office is alerted; None: it is not
    workers: int = 16
    # Monotonic seconds that date each claim, send and record of a run (None: the run's
    # `now` stands still — simulation, and tests that fix the time).
    clock: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        # Dispatch reads then writes from several threads: on SQLite its transactions must
        # take the write lock at BEGIN (see database.writer), whatever sessions it was given.
        bind = self.sessions.kw.get("bind")
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
            self.sessions = session_factory(writer(bind))

    @property
    def engine(self) -> Engine:
        return cast(Engine, self.sessions.kw["bind"])

    def dispatch_once(self, now: datetime, limit: int = BATCH) -> int:
        """Sends one batch; returns how many messages it claimed."""
        with self._senders() as pool:
            return self._dispatch(self._moments(now), self._batch(limit), pool).claimed

    def dispatch_all(self, now: datetime, limit: int = BATCH) -> int:
        limit, sent, moments = self._batch(limit), 0, self._moments(now)
        with self._senders() as pool:
            while True:
                batch = self._dispatch(moments, limit, pool)
                sent += batch.claimed
                more = batch.examined == limit or batch.deferred > 0
                if not more or batch.claimed == 0:
                    return sent

    def _senders(self) -> ThreadPoolExecutor:
        """The workers' threads, started as lanes need them and kept from one batch to the
        next of a run (started a batch, 128 of them were a tenth of the dispatcher's
        interpreter time); a run ends once they have all stopped."""
        return ThreadPoolExecutor(self.workers, thread_name_prefix="duban-send")

    def _batch(self, limit: int) -> int:
        """At most LANE_CAP messages a worker: a batch ends well inside its lease."""
        return max(1, min(limit, self.workers * LANE_CAP))

    def _moments(self, now: datetime) -> Moments:
        return Moments(now, self.clock, 0.0 if self.clock is None else self.clock())

    def _dispatch(self, moments: Moments, limit: int, pool: ThreadPoolExecutor) -> Batch:
        claimed_at = moments.now()  # the budget's stamp
        with self.sessions.begin() as session:
            batch = self.claim(session, claimed_at, limit)
        if not batch.lanes:
            return batch
        # Webhooks in parallel; one webhook's messages in order (numbered parts stay in order).
        lanes = list(batch.lanes.items())
        confirmations = Confirmations(len(lanes))
        records = HeldConnection(self.engine)  # the recorder's, from one group to the next
        with records:
            futures = [
                pool.submit(
                    confirmations.lane,
                    self._send_lane,
                    name,
                    lane,
                    moments,
                    claimed_at,
                    confirmations,
                )
                for name, lane in lanes
            ]
            while not confirmations.done():
                waiting, sent = confirmations.take(WAKE)
                try:
                    self._confirm(records, sent, moments.now())
                except BaseException:
                    # The workers stop; their rows stay claimed until the lease expires.
                    confirmations.broken(waiting)
                    raise
                confirmations.written(waiting)
        for future in futures:
            future.result()  # a failure no record could hold (the database gone for long)
        return batch

    def claim(self, session: Session, now: datetime, limit: int) -> Batch:
        """Claims a batch, at most LANE_CAP messages a webhook, and takes each webhook's
        budget for its share in the same transaction; what the budget refuses waits."""
        rows = _claimable(session, now, limit)
        lanes: dict[str, list[Message]] = {}
        deferred: dict[str, list[Message]] = {}
        for message in rows:
            if message.state == "sending" and message.attempts >= MAX_ATTEMPTS:
                _expired(session, message, now)
                continue
            name = self.channel_for(message.channel).name
            lane = lanes.setdefault(name, [])
            if self._local(name) or len(lane) < LANE_CAP:
                lane.append(message)
            else:
                deferred.setdefault(name, []).append(message)  # for the next batch
        remote = {name: lane for name, lane in lanes.items() if not self._local(name)}
        grants = grant_many(
            session,
            {f"channel:{name}": (self._limits(name), len(lane)) for name, lane in remote.items()},
            now,
        )
        claimed: dict[str, list[Claimed]] = {}
        sending: list[Message] = []
        for name, lane in lanes.items():
            grant = grants.get(f"channel:{name}")
            granted = len(lane) if grant is None else grant.granted
            sending += lane[:granted]
            if grant is not None and granted < len(lane):
                # What is past the lane cap waits as long, so the webhook's queue keeps its order.
                later = lane[granted:] + deferred.pop(name, [])
                _wait_for_budget(session, later, grant.verdict, now)
            if granted:
                claimed[name] = [Claimed(outgoing(m), m.channel) for m in lane[:granted]]
        write_sending(session.connection(), sending, now + LEASE)
        return Batch(len(rows), claimed, sum(len(rest) for rest in deferred.values()))

    def _local(self, name: str) -> bool:
        """The console and files: no budget, never disabled, no lane cap."""
        return platform(self.platforms.get(name, "console")).local

    def _send_lane(
        self,
        name: str,
        lane: list[Claimed],
        moments: Moments,
        claimed_at: datetime,
        confirmations: Confirmations,
    ) -> None:
        channel = self.channel_for(lane[0].channel)
        platform = self.platforms.get(name, "console")
        limits = () if self._local(name) else self._limits(name)
        margin = send_margin(limits) if limits and self.clock is not None else None
        for index, item in enumerate(lane):
            now = moments.now()
            if margin is not None and now >= claimed_at + timedelta(seconds=margin - SEND_GUARD):
                # Too late for the budget taken at the claim: a later claim takes it afresh.
                reason = f"waiting: not sent within {margin:g} s of its budget"
                self._release(name, lane[index:], None, reason, claimed_at)
                return
            started = time.perf_counter()
            try:
                receipt = channel.send(item.outgoing)
            except DeliveryError as exc:
                SEND_SECONDS.labels(platform, "failed").observe(time.perf_counter() - started)
                now = moments.now()
                self._failed(name, item.outgoing, exc, now)
                if exc.retry_after is not None or exc.permanent:
                    # Paused or disabled: the rest of the lane waits for the webhook's budget.
                    wait = (
                        DISABLED_RECHECK
                        if exc.retry_after is None
                        else timedelta(seconds=exc.retry_after)
                    )
                    self._release(
                        name, lane[index + 1 :], now + wait, f"waiting: {exc}", claimed_at
                    )
                    return
                continue
            except Exception as exc:  # a channel bug must not strand the rest of the batch
                error = DeliveryError(f"{type(exc).__name__}: {exc}")
                self._failed(name, item.outgoing, error, moments.now())
                continue
            SEND_SECONDS.labels(platform, "sent").observe(time.perf_counter() - started)
            if not confirmations.add(item, name, receipt):
                return  # the record failed: the rest stays claimed until the lease expires

    def _release(
        self, name: str, rest: list[Claimed], until: datetime | None, reason: str, stamp: datetime
    ) -> None:
        """Claimed, not attempted: back to pending until the webhook may be tried again (None:
        ready as before, in their order), and their slots back in its budget (taken at `stamp`)."""
        if rest:
            retry_while_unreachable(
                lambda: self._write_release(name, rest, until, reason, stamp),
                "releasing messages",
            )

    def _write_release(
        self, name: str, rest: list[Claimed], until: datetime | None, reason: str, stamp: datetime
    ) -> None:
        with self.sessions.begin() as session:
            if not self._local(name):
                refund(session, f"channel:{name}", stamp, len(rest))
            session.execute(
                update(Message)
                .where(Message.id.in_([item.outgoing.message_id for item in rest]))
                .where(Message.state == "sending")
                .values(
                    state="pending",
                    not_before=Message.not_before if until is None else until,
                    claimed_until=None,
                    attempts=Message.attempts - 1,
                    last_error=reason,
                )
            )

    def _confirm(
        self, records: HeldConnection, sent: list[tuple[Claimed, str, Receipt]], now: datetime
    ) -> None:
        """Records the sends; a database restart delays the record rather than losing it."""
        if sent:
            retry_while_unreachable(
                lambda: self._write_confirmations(records, sent, now), "recording sent messages"
            )

    def _write_confirmations(
        self, records: HeldConnection, sent: list[tuple[Claimed, str, Receipt]], now: datetime
    ) -> None:
        with records.transaction() as connection:
            write_sent(connection, sent, now)

    def _limits(self, channel: str) -> tuple[Limit, ...]:
        return platform(self.platforms.get(channel, "console")).limits

    def _failed(
        self, channel: str, outgoing: Outgoing, error: DeliveryError, now: datetime
    ) -> None:
        retry_while_unreachable(
            lambda: self._write_failure(channel, outgoing, error, now), "recording a failure"
        )

    def _write_failure(
        self, channel: str, outgoing: Outgoing, error: DeliveryError, now: datetime
    ) -> None:
        with self.sessions.begin() as session:
            if error.too_long:
                split_resend(session, outgoing.message_id, error, now)
            elif error.retry_after is not None:
                RATE_LIMIT_PAUSES.labels(self.platforms.get(channel, "console")).inc()
                pause(session, f"channel:{channel}", error.retry_after, now)
                requeue(session, outgoing.message_id, error, now, error.retry_after)
            elif error.permanent:
                DEAD_LETTERS.labels(self.platforms.get(channel, "console")).inc()
                dead_letter(session, outgoing.message_id, channel, error, now)
                disable(session, f"channel:{channel}", str(error), now)
                self._alert(session, channel, str(error), now)
            elif retry_later(session, outgoing.message_id, channel, error, now):
                DEAD_LETTERS.labels(self.platforms.get(channel, "console")).inc()

    def _alert(self, session: Session, channel: str, reason: str, now: datetime) -> None:
        """The office hears of a channel that stopped working (unless it is that channel)."""
        composer = self.composer
        if composer is None or composer.channel_of(composer.office_recipient) == channel:
            return
        office = composer.office_recipient
        text = partial(alert_text, channel=channel, reason=reason)
        session.add_all(composer.compose(office, "alert", text, now))


def dispatch_once(
    sessions: sessionmaker[Session], channel_for: ChannelFor, now: datetime, limit: int = 20
) -> int:
    """One batch without per-webhook budgets (local channels, tests)."""
    return Dispatcher(sessions, channel_for).dispatch_once(now, limit)


def dispatch_all(
    sessions: sessionmaker[Session], channel_for: ChannelFor, now: datetime, limit: int = 20
) -> int:
    return Dispatcher(sessions, channel_for).dispatch_all(now, limit)
