"""A task's page on the dashboard: its assignments and its timeline — due points, the
reminders sent, the replies and approvals — in order. Read-only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.domain.rules import Rules
from bot.engine.schedule import deadline_of
from bot.present.labels import (
    APPROVAL_ACTIONS,
    EVIDENCE_STATES,
    MESSAGE_STATES,
    POINT_KINDS,
    POINT_STATES,
    REPLY_ACTIONS,
    RESOLUTIONS,
    TIMELINE_ACTIONS,
    size_text,
)
from bot.store.models import (
    Assignment,
    AuditEvent,
    DuePoint,
    Evidence,
    Message,
    Notification,
    Plan,
    Task,
    Unit,
)
from bot.supervise.board import (
    AssignmentRow,
    assignment_lights,
    assignment_row,
    item_light,
    level_lights,
    level_names,
    worst,
)
from bot.supervise.task_list import active_assignments, plan_or_none, task_supervisor

EvidenceLink = Callable[[int], str | None]  # an evidence file's id → its download link


@dataclass(frozen=True)
class Entry:
    """One line of a task's timeline."""

    at: datetime
    kind: str  # reminder | reply | approval | due | other
    title: str
    unit: str | None = None
    actor: str | None = None
    text: str | None = None
    note: str | None = None
    light: str | None = None
    day: date | None = None  # a due date: the entry is about a day, not a moment
    link: str | None = None  # an evidence file's signed link (links on)


@dataclass(frozen=True)
class TaskPage:
    plan: Plan
    task: Task
    supervisor: str | None
    deadline: date | None
    light: str
    assignments: tuple[AssignmentRow, ...]
    timeline: tuple[Entry, ...]
    indicators: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def task_page(
    session: Session,
    rules: Rules,
    tz: ZoneInfo,
    number: str,
    evidence_link: EvidenceLink | None = None,
) -> TaskPage | None:
    """A task of the current plan with its units and its timeline (oldest first); evidence
    files link to their download through `evidence_link` (id → URL, None: no link)."""
    plan = plan_or_none(session)
    if plan is None:
        return None
    task = session.scalar(
        select(Task)
        .where(Task.plan_id == plan.id, Task.number == number.strip().lstrip("#＃"))
        .options(
            selectinload(Task.assignments)
            .selectinload(Assignment.unit)
            .selectinload(Unit.supervisor),
            selectinload(Task.supervisor),
        )
    )
    if task is None:
        return None
    lights = assignment_lights(session, plan, rules)
    rows = tuple(
        assignment_row(a, task, a.unit.name, plan, lights)
        for a in sorted(task.assignments, key=lambda a: (a.role != "lead", a.id))
    )
    supervisor = task_supervisor(task)
    units = {a.id: a.unit.name for a in task.assignments}
    return TaskPage(
        plan=plan,
        task=task,
        supervisor=supervisor.name if supervisor else None,
        deadline=deadline_of(None, task, plan),
        light=worst(item_light(a, lights) for a in active_assignments(task)),
        assignments=rows,
        timeline=tuple(timeline(session, rules, tz, units, evidence_link)),
        indicators=tuple(i for i in task.indicators if isinstance(i, dict)),
    )


def timeline(
    session: Session,
    rules: Rules,
    tz: ZoneInfo,
    units: dict[int, str],
    evidence_link: EvidenceLink | None = None,
) -> list[Entry]:
    """Reminders and escalations, replies, evidence, approvals and due dates of the
    assignments `units` names (id → unit), oldest first."""
    if not units:
        return []
    ids = sorted(units)
    entries = _reminders(session, rules, ids, units)
    entries += _audit_entries(session, ids, units)
    entries += _due_entries(session, tz, ids, units)
    entries += _evidence_entries(session, ids, units, evidence_link)
    entries.sort(key=lambda e: (e.at, _KIND_ORDER.get(e.kind, 9)))
    return entries


_KIND_ORDER = {"due": 0, "reminder": 1, "evidence": 2, "reply": 3, "approval": 4, "other": 5}


def _reminders(
    session: Session, rules: Rules, ids: Sequence[int], units: dict[int, str]
) -> list[Entry]:
    names, colours = level_names(rules), level_lights(rules)
    rows = session.execute(
        select(
            Notification.assignment_id,
            Notification.due_point_id,
            Notification.level,
            Notification.repeat,
            Notification.created_at,
            Message.recipient_name,
            Message.state,
            Message.sent_at,
            DuePoint.kind,
            DuePoint.name,
            DuePoint.due_date,
        )
        .join(DuePoint, Notification.due_point_id == DuePoint.id)
        .outerjoin(Message, Notification.message_id == Message.id)
        .where(Notification.assignment_id.in_(ids))
        .order_by(Notification.id)
    ).all()
    # One entry per ladder step of a due point; its recipients listed together.
    grouped: dict[tuple[int, int, str, int], list[Any]] = {}
    for row in rows:
        grouped.setdefault((row[0], row[1], row[2], row[3]), []).append(row)
    entries = []
    for (aid, _, level, repeat), group in grouped.items():
        first = group[0]
        sent = [r.sent_at for r in group if r.state == "sent" and r.sent_at is not None]
        states = {r.state for r in group if r.state is not None}
        if states == {"sent"}:
            state = "已发送"
        elif not states:
            state = "消息已删除"
        else:
            state = "、".join(sorted(MESSAGE_STATES.get(s, s) for s in states))
        recipients = "、".join(dict.fromkeys(r.recipient_name for r in group if r.recipient_name))
        title = names.get(level, level) + (f"（第{repeat + 1}次）" if repeat else "")
        what = first.name or POINT_KINDS.get(first.kind, first.kind)
        entries.append(
            Entry(
                at=min(sent) if sent else first.created_at,
                kind="reminder",
                title=title,
                unit=units[aid],
                text=f"{what}（{first.due_date.isoformat()} 到期）",
                note=f"发给 {recipients or '—'}：{state}",
                light=colours.get(level),
            )
        )
    return entries


def _audit_entries(session: Session, ids: Sequence[int], units: dict[int, str]) -> list[Entry]:
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "assignment",
            AuditEvent.subject_id.in_(ids),
            AuditEvent.action.in_(sorted(TIMELINE_ACTIONS)),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    entries = []
    for event in events:
        detail = event.detail or {}
        kind = (
            "reply"
            if event.action in REPLY_ACTIONS
            else "approval"
            if event.action in APPROVAL_ACTIONS
            else "other"
        )
        notes = []
        if detail.get("percent") is not None:
            notes.append(f"进度 {detail['percent']}%")
        if detail.get("date"):
            notes.append(f"至 {detail['date']}")
        entries.append(
            Entry(
                at=event.at,
                kind=kind,
                title=TIMELINE_ACTIONS[event.action],
                unit=units.get(event.subject_id or 0),
                actor=event.actor,
                text=str(detail["text"]) if detail.get("text") else None,
                note="，".join(notes) or None,
                light="red" if event.action == "reply.blocker" else None,
            )
        )
    return entries


def _due_entries(
    session: Session, tz: ZoneInfo, ids: Sequence[int], units: dict[int, str]
) -> list[Entry]:
    points = session.scalars(
        select(DuePoint).where(DuePoint.assignment_id.in_(ids)).order_by(DuePoint.due_date)
    )
    entries = []
    for point in points:
        if point.state == "resolved" and point.resolution:
            state = RESOLUTIONS.get(point.resolution, point.resolution)
        else:
            state = POINT_STATES.get(point.state, point.state)
        entries.append(
            Entry(
                at=datetime.combine(point.due_date, time(0), tzinfo=tz).astimezone(UTC),
                kind="due",
                title=f"{point.name or POINT_KINDS.get(point.kind, point.kind)}到期",
                unit=units[point.assignment_id],
                note=state,
                day=point.due_date,
            )
        )
    return entries


def _evidence_entries(
    session: Session,
    ids: Sequence[int],
    units: dict[int, str],
    evidence_link: EvidenceLink | None,
) -> list[Entry]:
    """Each evidence file: its name, size and state (a returned one with the reason)."""
    files = session.scalars(
        select(Evidence).where(Evidence.assignment_id.in_(ids)).order_by(Evidence.id)
    )
    entries = []
    for file in files:
        state = EVIDENCE_STATES.get(file.state, file.state)
        note = f"{size_text(file.size)} · {state}" + (f"：{file.note}" if file.note else "")
        link = evidence_link(file.id) if evidence_link is not None else None
        entries.append(
            Entry(
                at=file.created_at,
                kind="evidence",
                title="提交佐证材料",
                unit=units[file.assignment_id],
                actor=file.actor,
                text=file.name,
                note=note,
                link=link,
            )
        )
    return entries
