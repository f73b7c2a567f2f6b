"""The sweep flow: turns due ladder steps into outbox messages, exactly once.

Reads only the due points whose next action has come (an indexed range), asks `decide`
what each needs, writes one notification row per reminder and recipient under a unique
key — a second sweep, or a second daemon, inserts nothing — and bundles what one recipient
gets in one sweep into one message. On PostgreSQL the due points are claimed with
`FOR UPDATE SKIP LOCKED`, so concurrent daemons split the work instead of waiting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, defer, selectinload

from bot.delivery.compose import Composer, Recipient
from bot.delivery.render import render_reminder, shorten
from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import Decision, DueSpec, PointState, Step, StepCache, decide
from bot.domain.lifecycle import supervisor_of
from bot.domain.rules import Rules
from bot.engine.schedule import context_of, point_row, report_after, schedule_pending
from bot.platforms.formats import MessageFormat
from bot.platforms.registry import MENTION_KEYS
from bot.store.audit import record_many
from bot.store.database import insert_ignoring_duplicates
from bot.store.models import (
    Assignment,
    DuePoint,
    Message,
    Notification,
    Plan,
    Supervisor,
    Task,
    Unit,
)

KEY_CHUNK = 500
ENQUEUE_GROUP = 5000
UNIT_RECIPIENTS = frozenset({"unit", "contacts", "head"})


@dataclass(frozen=True)
class Reminder:
    """One step of one due point, for one recipient: a notification row to be."""

    key: str
    recipient: Recipient
    point: PointRef
    step: Step
    item: dict[str, Any]
    mention: tuple[Contact, ...]
    tz: ZoneInfo


@dataclass(frozen=True)
class PointRef:
    """The due point a reminder is for — plain values, so no ORM object outlives its batch."""

    id: int
    assignment_id: int
    key: str


@dataclass(frozen=True)
class SweepOptions:
    composer: Composer = field(default_factory=Composer)
    simulated: bool = False


@dataclass(frozen=True)
class SweepResult:
    points: int = 0
    notifications: int = 0
    messages: int = 0


# A claimed due point with what its reminders need: the task's lead unit's supervisor last.
Claimed = tuple[DuePoint, Assignment, Task, Plan, Unit, Supervisor | None]
Contact = tuple[tuple[str, str], ...]  # a contact's (field, value) pairs, hashable
Events = dict[str, list[tuple[int | None, dict[str, Any]]]]


def sweep(
    session: Session,
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    *,
    batch: int = 1000,
    options: SweepOptions | None = None,
) -> SweepResult:
    """One sweep at `now`: schedule new assignments, act on due points, fill the outbox."""
    options = options or SweepOptions()
    schedule_pending(session, rules, cal, now)
    points, reminders = 0, []
    caches: dict[str, StepCache] = {}
    lookup = _Lookup(session)
    while claimed := _claim(session, now, batch):
        lookup.load([assignment for _, assignment in claimed])
        rows = [lookup.row(point, assignment) for point, assignment in claimed]
        events: Events = defaultdict(list)
        rolled: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            tz = row[3].timezone
            steps = caches.setdefault(tz, StepCache(rules, cal, ZoneInfo(tz)))
            office = options.composer.office_recipient
            reminders += _handle(row, steps, now, events, rolled, updates, office)
        # The points' new states go out as one bulk UPDATE by primary key, new cycles as one
        # INSERT: the ORM's per-object bookkeeping costs more than the sweep's own work.
        session.execute(update(DuePoint), updates)
        insert_ignoring_duplicates(session, DuePoint, rolled)
        for action, subjects in events.items():
            record_many(session, now, "sweep", action, "due_point", subjects, channel="scheduler")
        points += len(rows)
        session.flush()
        # Everything is flushed; forget the batch's objects so a big sweep stays small.
        session.expunge_all()
    notes, messages = _enqueue(session, reminders, rules, cal, now, options)
    return SweepResult(points, notes, messages)


def _claim(session: Session, now: datetime, batch: int) -> Sequence[Row[DuePoint, Assignment]]:
    query = (
        select(DuePoint, Assignment)
        .join(Assignment, DuePoint.assignment_id == Assignment.id)
        .where(DuePoint.next_action_at <= now)
        .order_by(DuePoint.next_action_at, DuePoint.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=DuePoint)
    )
    return session.execute(query).all()


@dataclass
class _Lookup:
    """Tasks, units and plans by id, loaded once per sweep for all the points that need them."""

    session: Session
    tasks: dict[int, Task] = field(default_factory=dict)
    units: dict[int, Unit] = field(default_factory=dict)
    plans: dict[int, Plan] = field(default_factory=dict)
    leads: dict[int, Supervisor | None] = field(default_factory=dict)  # by task

    def load(self, assignments: list[Assignment]) -> None:
        tasks = {a.task_id for a in assignments} - self.tasks.keys()
        units = {a.unit_id for a in assignments} - self.units.keys()
        for task in self.session.scalars(
            select(Task)
            .where(Task.id.in_(tasks))
            .options(
                selectinload(Task.supervisor),
                defer(Task.responsibility),
                defer(Task.indicators),
                defer(Task.notes),
            )
        ):
            self.tasks[task.id] = task
        for unit in self.session.scalars(
            select(Unit).where(Unit.id.in_(units)).options(selectinload(Unit.supervisor))
        ):
            self.units[unit.id] = unit
        plans = {t.plan_id for t in self.tasks.values()} - self.plans.keys()
        for plan in self.session.scalars(select(Plan).where(Plan.id.in_(plans))):
            self.plans[plan.id] = plan
        self._load_leads(tasks)

    def _load_leads(self, tasks: set[int]) -> None:
        """Each task's first lead unit's supervisor, for items nobody else oversees."""
        self.leads.update(dict.fromkeys(tasks))
        rows = self.session.execute(
            select(Assignment.task_id, Supervisor)
            .join(Unit, Assignment.unit_id == Unit.id)
            .join(Supervisor, Unit.supervisor_id == Supervisor.id)
            .where(Assignment.task_id.in_(tasks), Assignment.role == "lead")
            .order_by(Assignment.id)
        )
        for task_id, supervisor in rows:
            self.leads[task_id] = self.leads[task_id] or supervisor

    def row(self, point: DuePoint, assignment: Assignment) -> Claimed:
        task = self.tasks[assignment.task_id]
        unit, lead = self.units[assignment.unit_id], self.leads[task.id]
        return (point, assignment, task, self.plans[task.plan_id], unit, lead)


def _handle(
    row: Claimed,
    steps: StepCache,
    now: datetime,
    events: Events,
    rolled: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    office: Recipient,
) -> list[Reminder]:
    point, assignment, task, plan, unit, lead = row
    rules, cal, tz = steps.rules, steps.calendar, steps.tz
    decision = decide(_state(point, assignment), rules, cal, tz, now, steps)
    _record_change(point, decision, events)
    updates.append(
        {
            "id": point.id,
            "step": decision.step,
            "state": decision.state,
            "next_action_at": decision.next_action_at,
        }
    )
    if decision.roll_over and point.kind == "report":
        rolled += _next_cycle(point, assignment, task, plan, rules, cal, now)
    if decision.send is None:
        return []
    supervisor = supervisor_of(task.supervisor, unit.supervisor, lead)
    recipients = _recipients(decision.send, unit, supervisor, office)
    return _reminders(point, assignment, task, unit, recipients, decision.send, cal, tz, now)


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
    # Levels reached are recorded with the message that carries them (see _enqueue).
    detail = {"key": point.key, "assignment_id": point.assignment_id}
    if decision.state == "missed" and point.state == "open":
        events["due.missed"].append((point.id, detail))


def _next_cycle(
    point: DuePoint,
    assignment: Assignment,
    task: Task,
    plan: Plan,
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
) -> list[dict[str, Any]]:
    """The next report cycle starts: the row of its due point (the sweep's loop handles it).

    A report made in the new cycle's window before the cycle started settles it at once,
    unless it was the report that settled the cycle before (one report, one cycle)."""
    ctx = context_of(assignment, task, plan)
    nominal = date.fromisoformat(point.key.split(":", 1)[1])
    spec: DueSpec | None = report_after(ctx, nominal, rules, cal)
    if spec is None:
        return []
    row = point_row(ctx, spec, rules, cal, now)
    report = assignment.last_report_at
    early = (
        report is not None
        and row["state"] == "open"
        and (point.resolved_at is None or point.resolved_at < report)
        and report.astimezone(ctx.tz).date() > spec.window_start  # as ladder.reported
    )
    if early:
        row.update(
            state="resolved",
            resolution="reported",
            resolved_at=report,
            next_action_at=row["superseded_at"],
        )
    return [row]


def _reminders(
    point: DuePoint,
    assignment: Assignment,
    task: Task,
    unit: Unit,
    recipients: list[tuple[Recipient, tuple[Contact, ...]]],
    step: Step,
    cal: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> list[Reminder]:
    today = now.astimezone(tz).date()
    item = {
        "task": task.number,
        "text": shorten(task.text, 40),  # templates show 30; a sweep may hold 100k items
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
    for recipient, mention in recipients:
        key = (
            f"remind:{assignment.id}:{point.id}:{step.level.key}:{step.repeat}"
            f":{recipient.kind}:{recipient.id or 0}"
        )
        ref = PointRef(point.id, point.assignment_id, point.key)
        reminders.append(Reminder(key, recipient, ref, step, item, mention, tz))
    return reminders


def _recipients(
    step: Step, unit: Unit, supervisor: Supervisor | None, office: Recipient
) -> list[tuple[Recipient, tuple[Contact, ...]]]:
    to = set(step.level.to)
    found: list[tuple[Recipient, tuple[Contact, ...]]] = []
    if to & UNIT_RECIPIENTS:
        found.append(
            (Recipient("unit", unit.id, unit.name, unit.channel), _mentioned(unit.contacts, to))
        )
    if "supervisor" in to and supervisor is not None:
        found.append(
            (Recipient("supervisor", supervisor.id, supervisor.name, supervisor.channel), ())
        )
    if "office" in to or ("supervisor" in to and supervisor is None):
        found.append((office, ()))
    return found


def _mentioned(contacts: list[Any], to: set[str]) -> tuple[Contact, ...]:
    """Who to mention: every contact at "contacts" levels, the head at "head" ones."""
    chosen = [
        c
        for c in contacts
        if ("contacts" in to and c.get("role") != "head")
        or ("head" in to and c.get("role") == "head")
    ]
    return tuple(tuple(sorted((k, str(v)) for k, v in c.items() if v)) for c in chosen)


def _mention_ids(bundle: list[Reminder], platform: str) -> dict[str, list[str]]:
    """Mobiles and user ids of everyone the bundle mentions; a chat platform gets only its
    own ids (user ids are per platform: another platform's id may name someone else)."""
    contacts = [dict(c) for r in bundle for c in r.mention]
    ids = {k: v for k, v in MENTION_KEYS.items() if platform not in MENTION_KEYS or k == platform}
    fields = {"mobiles": "mobile", **ids}
    found = {name: sorted({c[key] for c in contacts if c.get(key)}) for name, key in fields.items()}
    return {name: ids for name, ids in found.items() if ids}


def _enqueue(
    session: Session,
    reminders: list[Reminder],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    options: SweepOptions,
) -> tuple[int, int]:
    """Inserts the notifications; those actually new become one message per recipient."""
    if not reminders:
        return 0, 0
    # The due points are claimed (SKIP LOCKED / SQLite's write lock), so no other process
    # writes these keys now; the unique index stays the last guard against duplicates.
    keys = [r.key for r in reminders]
    known: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):  # databases cap the parameters of a query
        chunk = keys[start : start + KEY_CHUNK]
        known.update(session.scalars(select(Notification.key).where(Notification.key.in_(chunk))))
    bundles: dict[Recipient, list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        if reminder.key not in known:
            bundles[reminder.recipient].append(reminder)
    ordered = sorted(bundles.items(), key=lambda kv: (kv[0].kind, kv[0].name))
    notes = parts = 0
    # Bundles are written in groups of a few thousand reminders, so that a day on which
    # everything falls due never holds every row of the sweep in memory at once.
    for group in _groups(ordered, ENQUEUE_GROUP):
        written = _write_bundles(session, group, rules, cal, now, options)
        notes, parts = notes + written[0], parts + written[1]
    return notes, parts


Bundle = tuple[Recipient, list[Reminder]]


def _groups(ordered: list[Bundle], size: int) -> Iterator[list[Bundle]]:
    group: list[Bundle] = []
    count = 0
    for bundle in ordered:
        group.append(bundle)
        count += len(bundle[1])
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


def _write_bundles(
    session: Session,
    group: list[Bundle],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    options: SweepOptions,
) -> tuple[int, int]:
    bundled = [
        _messages(recipient, bundle, rules, cal, now, options) for recipient, bundle in group
    ]
    session.add_all([part for parts in bundled for part in parts])
    session.flush()
    firsts = [parts[0] for parts in bundled]  # notifications point at the first part
    pairs = list(zip(group, firsts, strict=True))
    rows = [_notification_row(r, now, m.id) for (_, bundle), m in pairs for r in bundle]
    insert_ignoring_duplicates(session, Notification, rows)
    record_many(
        session,
        now,
        "sweep",
        "reminders.queued",
        "message",
        [
            (
                m.id,
                {
                    "recipient": m.recipient_name,
                    "kind": m.kind,
                    "items": [_audit_item(r) for r in bundle],
                },
            )
            for (_, bundle), m in pairs
        ],
        channel="scheduler",
    )
    session.expunge_all()
    return len(rows), sum(len(parts) for parts in bundled)


def _audit_item(reminder: Reminder) -> dict[str, Any]:
    step = reminder.step
    return {
        "due_point": reminder.point.id,
        "assignment": reminder.point.assignment_id,
        "key": reminder.point.key,
        "level": step.level.key,
        "repeat": step.repeat,
        "light": step.level.light,
    }


def _notification_row(reminder: Reminder, now: datetime, message_id: int) -> dict[str, Any]:
    return {
        "key": reminder.key,
        "message_id": message_id,
        "due_point_id": reminder.point.id,
        "assignment_id": reminder.point.assignment_id,
        "level": reminder.step.level.key,
        "repeat": reminder.step.repeat,
        "recipient_kind": reminder.recipient.kind,
        "recipient_id": reminder.recipient.id,
        "created_at": now,
    }


def _messages(
    recipient: Recipient,
    bundle: list[Reminder],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    options: SweepOptions,
) -> list[Message]:
    """One bundle as message rows: one, or numbered parts when it exceeds the byte budget."""
    levels = [level.key for level in rules.ladder]
    top = max(bundle, key=lambda r: levels.index(r.step.level.key))
    items = sorted((r.item for r in bundle), key=_item_order)
    composer = options.composer
    mentions = _mention_ids(bundle, composer.format_of(recipient).platform)

    def text(shape: MessageFormat) -> str:
        shown = " ".join(f"@{m}" for m in mentions.get("mobiles", [])) if shape.local else ""
        level = top.step.level.key
        return render_reminder(level, recipient.name, recipient.kind, items, shown, shape.markup)

    return composer.compose(
        recipient,
        top.step.level.key,
        text,
        now,
        not_before=cal.next_send_time(now, rules.window, top.tz),
        items=items,
        mentions=mentions,
        simulated=options.simulated,
    )


def _item_order(item: dict[str, Any]) -> tuple[int, str, str]:
    number = str(item["task"])
    return (int(number) if number.isdigit() else 10**9, number, str(item["unit"]))
