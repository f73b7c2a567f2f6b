"""「收到」 is not progress: a unit that acknowledged and then reported nothing for
`[replies] ack_followup_days` working days is asked again, once per acknowledgement.

Runs with every sweep. Read from the audit trail: the `reply.ack` events of the last weeks,
the assignment's last report, and the `followup.ack` events already written (each names the
acknowledgement it followed up, so a second sweep does not ask twice).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.compose import Composer, Recipient
from bot.delivery.render import render
from bot.domain.calendar import WorkCalendar
from bot.domain.lifecycle import PAUSED
from bot.platforms.formats import MessageFormat
from bot.store.audit import record
from bot.store.models import Assignment, AuditEvent


def ack_followups(
    session: Session,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    days: int,
    now: datetime,
    *,
    composer: Composer | None = None,
    simulated: bool = False,
) -> int:
    """Queues the follow-ups that are due (through `composer`); returns how many."""
    since = now - timedelta(days=days * 2 + 30)  # far enough back for holidays
    acks = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "reply.ack",
            AuditEvent.subject_type == "assignment",
            AuditEvent.at >= since,
        )
        .order_by(AuditEvent.id)
    ).all()
    if not acks:
        return 0
    asked = {
        event.detail.get("ack")
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "followup.ack", AuditEvent.at >= since)
        )
    }
    latest = {ack.subject_id: ack for ack in acks}  # the newest acknowledgement counts
    today = now.astimezone(tz).date()
    queued = 0
    for assignment_id, ack in latest.items():
        if ack.id in asked or assignment_id is None:
            continue
        acknowledged = ack.at.astimezone(tz).date()
        if today < calendar.add_working_days(acknowledged, days):
            continue
        assignment = session.get(Assignment, assignment_id)
        if assignment is None or assignment.status in PAUSED:
            continue
        if assignment.last_report_at is not None and assignment.last_report_at >= ack.at:
            continue
        when = f"{acknowledged.month}月{acknowledged.day}日"
        _queue(session, composer or Composer(), assignment, when, days, now, simulated)
        record(
            session,
            now,
            "sweep",
            "followup.ack",
            "assignment",
            assignment.id,
            {"ack": ack.id, "task": assignment.task.number},
        )
        queued += 1
    return queued


def _queue(
    session: Session,
    composer: Composer,
    assignment: Assignment,
    acknowledged: str,
    days: int,
    now: datetime,
    simulated: bool,
) -> None:
    unit, task = assignment.unit, assignment.task

    def text(shape: MessageFormat) -> str:
        return render(
            "followup",
            shape.markup,
            recipient=unit.name,
            task=task.number,
            summary=task.text,
            acknowledged=acknowledged,
            days=days,
        )

    recipient = Recipient("unit", unit.id, unit.name, unit.channel)
    item = {"assignment": assignment.id, "task": task.number}
    messages = composer.compose(recipient, "followup", text, now, items=[item], simulated=simulated)
    session.add_all(messages)
