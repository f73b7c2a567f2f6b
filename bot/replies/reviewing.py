"""Who reviews a unit's request, what they are told, and what the decision does to the
evidence (佐证材料).

A closure (完成) or extension (延期) request goes to whoever may decide it — the task's
supervisor, else the lead unit's (as `apply.oversees` allows), else the office — with the
evidence submitted for the task (file names, sizes and their links) and the reviewer's own
review page (bot/web/review.py).
确认办结 accepts the task's submitted evidence; 退回 returns the unit's with the reason as
its note, and the unit hears the reason, as it does for 驳回延期.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.delivery.compose import Composer, Recipient
from bot.delivery.render import due_label, render
from bot.domain.lifecycle import Status, supervisor_of
from bot.platforms.formats import MessageFormat
from bot.present.labels import size_text
from bot.store.models import Assignment, DuePoint, Evidence, Supervisor, Unit

SUBMITTED, ACCEPTED, RETURNED = "submitted", "accepted", "returned"


def reviewer_of(composer: Composer, assignment: Assignment) -> Recipient:
    """The item's supervisor (the task's, else the unit's, else the lead unit's), else the
    office: who hears of its blockers."""
    task = assignment.task
    lead = _lead_unit(assignment)
    return _recipient(
        composer, supervisor_of(task.supervisor, assignment.unit.supervisor, lead.supervisor)
    )


def approver_of(composer: Composer, assignment: Assignment) -> Recipient:
    """Who decides the item's requests: the task's supervisor, else the lead unit's — those
    `apply.oversees` lets approve — else the office."""
    return _recipient(composer, assignment.task.supervisor or _lead_unit(assignment).supervisor)


def _lead_unit(assignment: Assignment) -> Unit:
    return next((a.unit for a in assignment.task.assignments if a.role == "lead"), assignment.unit)


def _recipient(composer: Composer, supervisor: Supervisor | None) -> Recipient:
    if supervisor is None:
        return composer.office_recipient
    return Recipient(
        "supervisor", supervisor.id, supervisor.name, supervisor.channel, supervisor.title
    )


def evidence_of(
    session: Session, assignment_ids: Iterable[int], states: Sequence[str] = (SUBMITTED,)
) -> list[Evidence]:
    """The evidence of these assignments in `states`, oldest first."""
    ids = sorted(set(assignment_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(Evidence)
            .where(Evidence.assignment_id.in_(ids), Evidence.state.in_(states))
            .order_by(Evidence.id)
        )
    )


def shown_evidence(
    composer: Composer, files: Iterable[Evidence], now: datetime
) -> list[dict[str, object]]:
    """Each file as messages and pages show it: name, size, state, link (None without links)."""
    return [
        {
            "id": e.id,
            "name": e.name,
            "size": size_text(e.size),
            "state": e.state,
            "note": e.note or "",
            "link": composer.links.evidence(e.id, now),
        }
        for e in files
    ]


def decide_evidence(
    session: Session,
    assignment_ids: Iterable[int],
    state: str,
    now: datetime,
    note: str | None = None,
) -> int:
    """Submitted evidence of these assignments becomes `state` (accepted or returned, with
    `note`); how many files."""
    ids = sorted(set(assignment_ids))
    if not ids:
        return 0
    result = session.execute(
        update(Evidence)
        .where(Evidence.assignment_id.in_(ids), Evidence.state == SUBMITTED)
        .values(state=state, note=note, decided_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0))


def tell_reviewer(
    session: Session,
    composer: Composer,
    assignment: Assignment,
    now: datetime,
    note: str,
    wanted: date | None = None,
) -> None:
    """Queues the request of `assignment` (closure, or extension to `wanted`) to its
    reviewer, with the task's submitted evidence and the reviewer's review link."""
    task = assignment.task
    recipient = approver_of(composer, assignment)
    active = [a.id for a in task.assignments if a.status != Status.WITHDRAWN]
    files = shown_evidence(composer, evidence_of(session, active), now) if not wanted else []
    person = recipient.id if recipient.kind == "supervisor" else None
    context = {
        "recipient": recipient.address,
        "recipient_kind": recipient.kind,
        "request": "extension" if wanted else "closure",
        "unit": assignment.unit.name,
        "task": task.number,
        "summary": task.text[:60],
        "note": note,
        "wanted": due_label(wanted.isoformat()) if wanted else "",
        "evidence": files,
        "review_url": composer.links.review(recipient.kind, person, now) or "",
    }

    def text(shape: MessageFormat) -> str:
        return render("request", shape.markup, **context)

    item = {"assignment": assignment.id, "task": task.number}
    session.add_all(composer.compose(recipient, "request", text, now, items=[item]))


def tell_unit(
    session: Session,
    composer: Composer,
    assignment: Assignment,
    now: datetime,
    decision: str,
    reason: str,
) -> None:
    """Queues a decision that sends the unit back to work (退回, 驳回延期) to the unit,
    naming the reason, with its report page when links are on."""
    unit = assignment.unit
    point = session.scalar(
        select(DuePoint.id)
        .where(DuePoint.assignment_id == assignment.id, DuePoint.state == "open")
        .order_by(DuePoint.due_date, DuePoint.id)
        .limit(1)
    )
    context = {
        "recipient": unit.name,
        "decision": decision,
        "task": assignment.task.number,
        "summary": assignment.task.text[:60],
        "reason": reason,
        "report_url": (composer.links.report(unit.id, point, now) if point else None) or "",
    }

    def text(shape: MessageFormat) -> str:
        return render("decision", shape.markup, **context)

    recipient = Recipient("unit", unit.id, unit.name, unit.channel)
    item = {"assignment": assignment.id, "task": assignment.task.number}
    session.add_all(composer.compose(recipient, "decision", text, now, items=[item]))
