"""What waits for a reviewer (待审): closure requests with their evidence and extension
requests, among the items the reviewer may decide — the office all of them, a supervisor
those `apply.oversees` lets them approve — oldest request first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.domain.lifecycle import REQUESTS, Event, Status
from bot.replies.apply import Actor, oversees
from bot.replies.reviewing import evidence_of
from bot.store.models import Assignment, AuditEvent, Evidence, Plan, Task


@dataclass(frozen=True)
class Waiting:
    """One request: closure (with the task's submitted evidence) or extension (to `wanted`)."""

    assignment: Assignment
    kind: str  # closure | extension
    asked_at: datetime | None
    note: str  # what the unit wrote with the request
    wanted: date | None
    evidence: tuple[Evidence, ...]

    @property
    def task(self) -> Task:
        return self.assignment.task


def waiting_for(session: Session, actor: Actor) -> list[Waiting]:
    """The requests `actor` (office or supervisor) may decide, oldest first."""
    rows = session.scalars(
        select(Assignment)
        .join(Task)
        .join(Plan)
        .where(
            Assignment.status.in_(sorted(REQUESTS)),
            Task.state == "active",
            Plan.archived_at.is_(None),
        )
        .options(selectinload(Assignment.task).selectinload(Task.assignments))
    ).all()
    mine = [a for a in rows if actor.kind == "office" or oversees(actor, a.task)]
    found = [_waiting(session, a) for a in mine]
    return sorted(found, key=lambda w: (w.asked_at is None, w.asked_at, w.assignment.id))


def _waiting(session: Session, assignment: Assignment) -> Waiting:
    action = REQUESTS[Status(assignment.status)]
    event = session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "assignment",
            AuditEvent.subject_id == assignment.id,
            AuditEvent.action == action,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    detail = event.detail if event is not None else {}
    closure = action == Event.COMPLETE
    others = [a.id for a in assignment.task.assignments if a.status != Status.WITHDRAWN]
    return Waiting(
        assignment=assignment,
        kind="closure" if closure else "extension",
        asked_at=event.at if event is not None else None,
        note=str(detail.get("text") or ""),
        wanted=None if closure or not detail.get("date") else date.fromisoformat(detail["date"]),
        evidence=tuple(evidence_of(session, others)) if closure else (),
    )
