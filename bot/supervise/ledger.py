"""The accountability ledger (问责台账) as the office uses it: list the entries, confirm or
dismiss one (with a note; each decision an audit event), and the entries confirmed in a
month for its first digest."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.app.errors import DubanError, NotFoundError
from bot.delivery.compose import DEFAULT_OFFICE
from bot.store.audit import record
from bot.store.models import AccountabilityEntry

STATE_NAMES = {"open": "待处理", "confirmed": "已确认", "dismissed": "已撤销"}
DECIDED = {"confirmed": "accountability.confirmed", "dismissed": "accountability.dismissed"}
VERBS = {"confirmed": "确认", "dismissed": "撤销"}
Decision = Literal["confirmed", "dismissed"]


# --- reading and deciding -----------------------------------------------------------------


def list_entries(session: Session, state: str | None = None) -> list[AccountabilityEntry]:
    """The ledger, oldest first; only entries in `state` when given."""
    query = select(AccountabilityEntry).options(selectinload(AccountabilityEntry.unit))
    if state is not None:
        query = query.where(AccountabilityEntry.state == state)
    return list(session.scalars(query.order_by(AccountabilityEntry.id)))


def confirmed_between(
    session: Session, start: datetime, end: datetime
) -> list[AccountabilityEntry]:
    """Entries confirmed from `start` (inclusive) to `end` (exclusive), in decision order."""
    query = (
        select(AccountabilityEntry)
        .where(
            AccountabilityEntry.state == "confirmed",
            AccountabilityEntry.decided_at >= start,
            AccountabilityEntry.decided_at < end,
        )
        .options(selectinload(AccountabilityEntry.unit))
        .order_by(AccountabilityEntry.decided_at, AccountabilityEntry.id)
    )
    return list(session.scalars(query))


def decide(
    session: Session,
    entry_id: int,
    decision: Decision,
    now: datetime,
    *,
    note: str | None = None,
    actor: str = DEFAULT_OFFICE,
    channel: str = "cli",
) -> AccountabilityEntry:
    """Confirms or dismisses an open entry, with the office's note; anything else is refused
    with a clear error and changes nothing."""
    entry = session.scalars(
        select(AccountabilityEntry)
        .where(AccountabilityEntry.id == entry_id)
        .options(selectinload(AccountabilityEntry.unit))
        .with_for_update()
    ).one_or_none()
    if entry is None:
        raise NotFoundError(f"没有编号为 {entry_id} 的问责事项（`duban accountability` 可查看）")
    if entry.state != "open":
        raise DubanError(
            f"问责事项 {entry_id} {STATE_NAMES[entry.state]}，不能再{VERBS[decision]}："
            "只有待处理的事项可以确认或撤销"
        )
    cleaned = note.strip() if note and note.strip() else None
    entry.state, entry.note = decision, cleaned
    entry.decided_at, entry.decided_by = now, actor
    detail = {
        "key": entry.key,
        "rule": entry.rule,
        "unit": entry.unit.name,
        "summary": entry.summary,
        "note": cleaned,
    }
    record(
        session, now, actor, DECIDED[decision], "accountability", entry.id, detail, channel=channel
    )
    session.flush()
    return entry


def as_json(entries: Iterable[AccountabilityEntry]) -> list[dict[str, Any]]:
    """`duban accountability --json`: id, unit, rule, evidence, state."""
    return [
        {
            "id": e.id,
            "unit": e.unit.name,
            "rule": e.rule,
            "evidence": e.evidence,
            "state": e.state,
        }
        for e in entries
    ]
