"""Audit events: every state change is recorded with who, what, when and through what."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from bot.store.models import AuditEvent

AUDIT_EVENTS = cast(Table, AuditEvent.__table__)


def record(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    detail: dict[str, Any] | None = None,
    *,
    channel: str = "cli",
    inbound_message_id: str | None = None,
) -> None:
    """Adds one audit event to the session (the caller's transaction commits it)."""
    session.add(
        AuditEvent(
            at=at,
            actor=actor,
            action=action,
            channel=channel,
            subject_type=subject_type,
            subject_id=subject_id,
            detail=detail or {},
            inbound_message_id=inbound_message_id,
        )
    )


def record_many(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subjects: list[tuple[int | None, dict[str, Any]]],
    *,
    channel: str = "cli",
) -> None:
    """Writes one event per (subject id, detail) in a single batched INSERT."""
    if not subjects:
        return
    rows = [
        event_row(at, actor, action, subject_type, subject_id, detail, channel=channel)
        for subject_id, detail in subjects
    ]
    # Core INSERT on the table: thousands of rows per sweep skip the ORM's bookkeeping.
    session.execute(insert(AUDIT_EVENTS), rows)


def event_row(
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    detail: dict[str, Any],
    *,
    channel: str,
) -> dict[str, Any]:
    """One audit event as a row of the table, for writing many at once (`record_many`, the
    dispatcher's record of its sends)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "channel": channel,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "detail": detail,
    }
