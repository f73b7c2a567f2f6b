"""The sweep flow: turns due ladder steps into outbox messages, exactly once.

Reads only the due points whose next action has come (an indexed range), asks `decide`
what each needs, writes one notification row per reminder and recipient under a unique
key — a second sweep, or a second daemon, inserts nothing — and bundles what one recipient
gets in one sweep into one message. On PostgreSQL the due points are claimed with
`FOR UPDATE SKIP LOCKED`, so concurrent daemons split the work instead of waiting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, selectinload

from bot.audit import record_many
from bot.calendar import WorkCalendar
from bot.database import insert_ignoring_duplicates
from bot.ladder import Decision, DueSpec, PointState, Step, decide
from bot.models import Assignment, DuePoint, Message, Notification, Plan, Task, Unit
from bot.render import render_reminder
from bot.rules import Rules
from bot.schedule import context_of, point_row, report_after, schedule_pending

OFFICE = "督查室"
UNIT_RECIPIENTS = frozenset({"unit", "contacts", "head"})


@dataclass(frozen=True)
class Recipient:
    kind: str  # unit | supervisor | office
    id: int | None
    name: str
    channel: str | None


@dataclass(frozen=True)
class Reminder:
    """One step of one due point, for one recipient: a notification row to be."""

    key: str
    recipient: Recipient
    point: DuePoint
    step: Step
    item: dict[str, Any]
    mention: tuple[str, ...]
    tz: ZoneInfo


@dataclass(frozen=True)
class SweepResult:
    points: int = 0
    notifications: int = 0
    messages: int = 0


Claimed = Row[DuePoint, Assignment, Task, Plan, Unit]


def sweep(
    session: Session,
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    *,
    batch: int = 1000,
    simulated: bool = False,
) -> SweepResult:
    """One sweep at `now`: schedule new assignments, act on due points, fill the outbox."""
    schedule_pending(session, rules, cal, now)
    points, reminders = 0, []
    while rows := _claim(session, now, batch):
        events: dict[str, list[tuple[int | None, dict[str, Any]]]] = defaultdict(list)
        for row in rows:
            reminders += _handle(session, row, rules, cal, now, events)
        for action, subjects in events.items():
            record_many(session, now, "sweep", action, "due_point", subjects, channel="scheduler")
        points += len(rows)
        session.flush()
    notes, messages = _enqueue(session, reminders, rules, cal, now, simulated)
    return SweepResult(points, notes, messages)


def _claim(session: Session, now: datetime, batch: int) -> Sequence[Claimed]:
    query = (
        select(DuePoint, Assignment, Task, Plan, Unit)
        .join(Assignment, DuePoint.assignment_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .join(Plan, Task.plan_id == Plan.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(DuePoint.next_action_at <= now)
        .order_by(DuePoint.next_action_at, DuePoint.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=DuePoint)
        .options(selectinload(Task.supervisor), selectinload(Unit.supervisor))
    )
    return session.execute(query).all()


Events = dict[str, list[tuple[int | None, dict[str, Any]]]]


def _handle(
    session: Session,
    row: Claimed,
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    events: Events,
) -> list[Reminder]:
    point, assignment, task, plan, unit = row
    tz = ZoneInfo(plan.timezone)
    decision = decide(_state(point, assignment), rules, cal, tz, now)
    _record_change(point, decision, events)
    point.step, point.next_action_at, point.state = (
        decision.step,
        decision.next_action_at,
        decision.state,
    )
    if decision.roll_over and point.kind == "report":
        _roll_over(session, point, assignment, task, plan, rules, cal, now)
    if decision.send is None:
        return []
    return _reminders(point, assignment, task, unit, decision.send, cal, tz, now)


def _state(point: DuePoint, assignment: Assignment) -> PointState:
    return PointState(
        point.kind,
        point.due_date,
        point.window_start,
        point.state,
        point.step,
        point.superseded_at,
        assignment.status,
        assignment.last_report_at,
    )


def _record_change(point: DuePoint, decision: Decision, events: Events) -> None:
    detail = {"key": point.key, "assignment_id": point.assignment_id}
    if decision.state == "missed" and point.state == "open":
        events["due.missed"].append((point.id, detail))
    if decision.send is not None:
        step = decision.send
        events["due.level"].append(
            (
                point.id,
                {
                    **detail,
                    "level": step.level.key,
                    "repeat": step.repeat,
                    "light": step.level.light,
                },
            )
        )


def _roll_over(
    session: Session,
    point: DuePoint,
    assignment: Assignment,
    task: Task,
    plan: Plan,
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
) -> None:
    """The next report cycle starts: create its due point (the sweep's loop handles it)."""
    ctx = context_of(assignment, task, plan)
    nominal = date.fromisoformat(point.key.split(":", 1)[1])
    spec: DueSpec | None = report_after(ctx, nominal, rules, cal)
    if spec is not None:
        insert_ignoring_duplicates(session, DuePoint, [point_row(ctx, spec, rules, cal, now)])


def _reminders(
    point: DuePoint,
    assignment: Assignment,
    task: Task,
    unit: Unit,
    step: Step,
    cal: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> list[Reminder]:
    today = now.astimezone(tz).date()
    item = {
        "task": task.number,
        "text": task.text,
        "unit": unit.name,
        "role": assignment.role,
        "kind": point.kind,
        "name": point.name,
        "due": point.due_date.isoformat(),
        "level": step.level.key,
        "level_name": step.level.name,
        "repeat": step.repeat,
        "light": step.level.light,
        "overdue_days": max(cal.working_days_between(point.due_date, today), 0),
    }
    reminders = []
    for recipient, mention in _recipients(step, task, unit):
        key = (
            f"remind:{assignment.id}:{point.id}:{step.level.key}:{step.repeat}"
            f":{recipient.kind}:{recipient.id or 0}"
        )
        reminders.append(Reminder(key, recipient, point, step, item, mention, tz))
    return reminders


def _recipients(step: Step, task: Task, unit: Unit) -> list[tuple[Recipient, tuple[str, ...]]]:
    to = set(step.level.to)
    found: list[tuple[Recipient, tuple[str, ...]]] = []
    if to & UNIT_RECIPIENTS:
        found.append(
            (Recipient("unit", unit.id, unit.name, unit.channel), _mobiles(unit.contacts, to))
        )
    supervisor = task.supervisor or unit.supervisor
    if "supervisor" in to and supervisor is not None:
        found.append(
            (Recipient("supervisor", supervisor.id, supervisor.name, supervisor.channel), ())
        )
    if "office" in to or ("supervisor" in to and supervisor is None):
        found.append((Recipient("office", None, OFFICE, None), ()))
    return found


def _mobiles(contacts: list[Any], to: set[str]) -> tuple[str, ...]:
    """The mobiles to mention: every contact at "contacts" levels, the head at "head" ones."""
    chosen = [
        c
        for c in contacts
        if ("contacts" in to and c.get("role") != "head")
        or ("head" in to and c.get("role") == "head")
    ]
    return tuple(str(c["mobile"]) for c in chosen if c.get("mobile"))


def _enqueue(
    session: Session,
    reminders: list[Reminder],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    simulated: bool,
) -> tuple[int, int]:
    """Inserts the notifications; those actually new become one message per recipient."""
    if not reminders:
        return 0, 0
    rows = [_notification_row(r, now) for r in reminders]
    fresh = set(insert_ignoring_duplicates(session, Notification, rows, returning="key"))
    bundles: dict[Recipient, list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        if reminder.key in fresh:
            bundles[reminder.recipient].append(reminder)
    for recipient, bundle in sorted(bundles.items(), key=lambda kv: (kv[0].kind, kv[0].name)):
        message = _message(recipient, bundle, rules, cal, now, simulated)
        session.add(message)
        session.flush()
        session.execute(
            update(Notification)
            .where(Notification.key.in_([r.key for r in bundle]))
            .values(message_id=message.id)
        )
    return len(fresh), len(bundles)


def _notification_row(reminder: Reminder, now: datetime) -> dict[str, Any]:
    return {
        "key": reminder.key,
        "message_id": None,
        "due_point_id": reminder.point.id,
        "assignment_id": reminder.point.assignment_id,
        "level": reminder.step.level.key,
        "repeat": reminder.step.repeat,
        "recipient_kind": reminder.recipient.kind,
        "recipient_id": reminder.recipient.id,
        "created_at": now,
    }


def _message(
    recipient: Recipient,
    bundle: list[Reminder],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    simulated: bool,
) -> Message:
    levels = [level.key for level in rules.ladder]
    top = max(bundle, key=lambda r: levels.index(r.step.level.key))
    items = sorted((r.item for r in bundle), key=_item_order)
    mobiles = sorted({m for r in bundle for m in r.mention})
    text = render_reminder(
        top.step.level.key,
        recipient.name,
        recipient.kind,
        items,
        " ".join(f"@{m}" for m in mobiles),
    )
    return Message(
        recipient_kind=recipient.kind,
        recipient_id=recipient.id,
        recipient_name=recipient.name,
        channel=recipient.channel,
        kind=top.step.level.key,
        state="pending",
        not_before=cal.next_send_time(now, rules.window, top.tz),
        items=items,
        mentions={"mobiles": mobiles},
        text=text,
        attempts=0,
        simulated=simulated,
        created_at=now,
    )


def _item_order(item: dict[str, Any]) -> tuple[int, str, str]:
    number = str(item["task"])
    return (int(number) if number.isdigit() else 10**9, number, str(item["unit"]))
