"""Evidence recorded against an assignment: the file kept in the store, its row, and an
audit event (`evidence.attached`) on the assignment, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.evidence.files import Checked
from bot.evidence.store import EvidenceStore
from bot.store.audit import record
from bot.store.models import Assignment, Evidence

ATTACHED = "evidence.attached"


def attach(
    session: Session,
    store: EvidenceStore,
    assignment: Assignment,
    file: Checked,
    *,
    actor: str,
    channel: str,
    now: datetime,
    inbound: str | None = None,
) -> Evidence:
    """Keeps a checked file (bot/evidence/files.py) and records it for `assignment`."""
    sha256 = store.put(file.data)
    evidence = Evidence(
        assignment_id=assignment.id,
        sha256=sha256,
        name=file.name,
        content_type=file.content_type,
        size=len(file.data),
        actor=actor,
        channel=channel,
        state="submitted",
        created_at=now,
    )
    session.add(evidence)
    session.flush()
    record(
        session,
        now,
        actor,
        ATTACHED,
        "assignment",
        assignment.id,
        {
            "task": assignment.task.number,
            "evidence": evidence.id,
            "name": file.name,
            "type": file.content_type,
            "size": len(file.data),
            "sha256": sha256,
        },
        channel=channel,
        inbound_message_id=inbound,
    )
    return evidence
