"""Per-webhook send budgets kept in the database, so every daemon shares them.

Each webhook has a row holding the times of its most recent sends; a send is allowed when
every window of the platform's limits (bot/platforms: WeCom and DingTalk 20 a minute,
Feishu 100 a minute and 5 a second) still has room. A rolling-window log, rather than a
refilling token bucket, because a bucket lets a full burst plus a minute's refill through in
one rolling minute — more than the platform accepts. The row is locked while it is read and written
(`FOR UPDATE` on PostgreSQL; SQLite's write transaction), so two daemons cannot both spend
the last slot. A rate-limit answer pauses the webhook; a permanent error disables it.

The dispatcher takes a batch's budget when it claims the batch, stamped with the moment of
the claim, and sends each message within `send_margin(limits)` seconds of that stamp (what it
cannot send by then goes back and its stamps are refunded). So every window is counted
`send_margin` seconds wider than the platform's: a send the platform sees at any moment in
[stamp, stamp + margin] still falls inside the window the budget counted it in, and a
real-clock burst never draws a rate-limit answer (WeCom and DingTalk: 20 in 65 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.platforms.spec import Limit
from bot.store.database import insert_ignoring_duplicates
from bot.store.models import RateBucket

BUCKETS = cast(Table, RateBucket.__table__)
SEND_MARGIN = 5.0  # seconds after a claim's stamp by which its messages are sent (at most)


def send_margin(limits: tuple[Limit, ...]) -> float:
    """How late after its stamp a granted send may still go: SEND_MARGIN, or the shortest
    window if that is shorter (Feishu's 5 a second: within a second)."""
    return min([SEND_MARGIN, *(limit.seconds for limit in limits)])


@dataclass(frozen=True)
class Verdict:
    """Whether a send may go now; if not, how long to wait (None: disabled until fixed)."""

    allowed: bool
    wait: float | None = 0.0
    reason: str = ""


def _buckets(
    session: Session, keys: list[str], now: datetime, *, rows: bool = False
) -> dict[str, Any]:
    """The webhooks' rows, locked in key order (two daemons never wait on each other in a
    cycle); rows two daemons meet at once are created without conflict, then locked. As
    RateBucket objects, or (`rows`) as plain rows to read, for a batch's many (loading an
    object per webhook was most of a claim's budget)."""
    ordered = sorted(set(keys))

    def locked() -> dict[str, Any]:
        if rows:
            query = (
                select(BUCKETS)
                .where(BUCKETS.c.key.in_(ordered))
                .order_by(BUCKETS.c.key)
                .with_for_update()
            )
            return {row.key: row for row in session.execute(query)}
        objects = (
            select(RateBucket)
            .where(RateBucket.key.in_(ordered))
            .order_by(RateBucket.key)
            .with_for_update()
        )
        return {bucket.key: bucket for bucket in session.scalars(objects)}

    buckets = locked()
    missing = [key for key in ordered if key not in buckets]
    if missing:
        blank = {"sent": [], "updated_at": now, "paused_until": None, "disabled_reason": None}
        insert_ignoring_duplicates(session, RateBucket, [{"key": key, **blank} for key in missing])
        buckets = locked()
    return buckets


def _bucket(session: Session, key: str, now: datetime) -> RateBucket:
    bucket: RateBucket = _buckets(session, [key], now)[key]
    return bucket


@dataclass(frozen=True)
class Grant:
    """How many of the sends asked for may go now; the verdict for the rest."""

    granted: int
    verdict: Verdict


def acquire(session: Session, key: str, limits: tuple[Limit, ...], now: datetime) -> Verdict:
    """Takes one send from the webhook's budget, or says how long to wait for one."""
    grant = grant_many(session, {key: (limits, 1)}, now)[key]
    return grant.verdict if grant.granted == 0 else Verdict(True)


def grant_many(
    session: Session, wanted: Mapping[str, tuple[tuple[Limit, ...], int]], now: datetime
) -> dict[str, Grant]:
    """Takes up to `count` sends from each webhook's budget, all in one transaction: the
    dispatcher asks once per batch rather than once per message. The rows are read locked
    and the budgets that changed written back in one statement."""
    buckets = _buckets(session, list(wanted), now, rows=True)
    grants: dict[str, Grant] = {}
    changed: list[dict[str, Any]] = []
    for key, (limits, count) in wanted.items():
        grant, sent = _take(buckets[key], limits, count, now)
        grants[key] = grant
        if sent is not None:
            changed.append({"bucket": key, "sent": sent, "at": now})
    if changed:
        session.connection().execute(SPENT, changed)
    return grants


SPENT = (
    update(BUCKETS)
    .where(BUCKETS.c.key == bindparam("bucket"))
    .values(sent=bindparam("sent"), updated_at=bindparam("at"))
)


def _take(
    bucket: Any, limits: tuple[Limit, ...], count: int, now: datetime
) -> tuple[Grant, list[float] | None]:
    """The grant from a bucket's row, and its sends' times afterwards (None: unchanged)."""
    if bucket.disabled_reason:
        return Grant(0, Verdict(False, None, bucket.disabled_reason)), None
    if bucket.paused_until is not None and bucket.paused_until > now:
        wait = (bucket.paused_until - now).total_seconds()
        return Grant(0, Verdict(False, wait, "paused")), None
    if not limits:
        return Grant(count, Verdict(True)), None
    stamp, margin = now.timestamp(), send_margin(limits)
    windows = [Limit(limit.count, limit.seconds + margin) for limit in limits]
    longest = max(window.seconds for window in windows)
    recent = [t for t in bucket.sent if t > stamp - longest]
    granted, verdict = 0, Verdict(True)
    while granted < count:
        wait = max(_wait(recent, window, stamp) for window in windows)
        if wait > 0:
            verdict = Verdict(False, wait, "rate limit")
            break
        recent.append(stamp)
        granted += 1
    if not granted:
        return Grant(0, verdict), None
    keep = max(limit.count for limit in limits)
    return Grant(granted, verdict), recent[-keep:]


def _wait(recent: list[float], limit: Limit, stamp: float) -> float:
    inside = [t for t in recent if t > stamp - limit.seconds]
    if len(inside) < limit.count:
        return 0.0
    # The window frees a slot when its oldest counted send leaves it.
    oldest = sorted(inside)[-limit.count]
    return max(oldest + limit.seconds - stamp, 0.001)


def refund(session: Session, key: str, stamp: datetime, count: int) -> None:
    """Claimed sends that did not go (too late after their stamp, or the rest of a lane after
    a pause): their slots return to the budget."""
    bucket = session.get(RateBucket, key, with_for_update=True)
    if bucket is None or count <= 0:
        return
    sent, at = list(bucket.sent), stamp.timestamp()
    for _ in range(count):
        if at not in sent:
            break
        sent.remove(at)
    bucket.sent = sent


def pause(session: Session, key: str, seconds: float, now: datetime) -> None:
    """A rate-limit answer: this webhook rests; other webhooks keep flowing."""
    bucket = _bucket(session, key, now)
    until = now + timedelta(seconds=seconds)
    if bucket.paused_until is None or bucket.paused_until < until:
        bucket.paused_until = until
    bucket.updated_at = now


def disable(session: Session, key: str, reason: str, now: datetime) -> None:
    """A permanent error: no more sends to this webhook until `enable` (config fixed)."""
    bucket = _bucket(session, key, now)
    bucket.disabled_reason, bucket.updated_at = reason, now


def enable(session: Session, key: str, now: datetime) -> bool:
    bucket = session.get(RateBucket, key)
    if bucket is None or bucket.disabled_reason is None:
        return False
    bucket.disabled_reason, bucket.paused_until, bucket.updated_at = None, None, now
    return True
