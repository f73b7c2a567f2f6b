"""The supervisors' and the office's digest (督办日报): one message a working day each.

On a working day (plan time zone), from the configured time (`[digest] time`, 08:30), each
supervisor (分管领导) gets one message listing, grouped by unit, the items of the tasks they
oversee that stand at 督办 or 通报, with the working days each is overdue, and the open
blockers (困难) of those tasks; the office gets the same for every task. A
supervisor oversees the tasks they lead (Task.supervisor) and the tasks whose lead unit
they oversee (Unit.supervisor of a lead assignment). An empty digest is not sent.

- An item is an open due point (a report cycle, the deadline or a milestone) whose highest
  reminder level (its notification rows) is 督办 or 通报, of an assignment neither closed,
  withdrawn nor awaiting closure, in an active task. Working days overdue are counted with
  the calendar from the due date to today.
- A blocker (audit event `reply.blocker`) is open until the same assignment reports
  progress (`reply.progress`), requests closure (`reply.complete`) or gets an extension
  (`approve.extension`) after it, or the assignment is closed or withdrawn, or its task
  removed.
- Monthly: each recipient's first digest of a month also lists the accountability entries
  (问责) confirmed in the previous month — every one for the office, those of the units a
  supervisor oversees (Unit.supervisor) for a supervisor. That digest is sent even when it
  holds nothing else.

Each recipient's digest of a day is decided once: its once key `digest:{day}:{kind}[:{id}]`
is inserted (INSERT … ON CONFLICT DO NOTHING) before anything is queued, in the same
transaction, so a second run or a second daemon finds it taken and queues nothing. The
month's key `digest:{YYYY-MM}:{kind}[:{id}]` is taken with the month's first digest. A
digest too long for its channel is sent in numbered parts; each one queued is recorded
(`digest.queued`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.lifecycle import ENDED, PAUSED
from bot.domain.periods import period_of
from bot.store import once
from bot.store.models import (
    AccountabilityEntry,
    Assignment,
    AuditEvent,
    DuePoint,
    Notification,
    Supervisor,
    Task,
    Unit,
)
from bot.supervise.digest_message import Blocker, Digest, DigestSetup, Item, Recipient, _queue
from bot.supervise.ledger import confirmed_between

BLOCKER = "reply.blocker"
# Events after a blocker that end it: the unit moves again, or the deadline moved.
UNBLOCKING = frozenset({"reply.progress", "reply.complete", "approve.extension"})


@dataclass
class _Content:
    """Everything any digest of the day may show, and who oversees what."""

    items: list[Item]
    blockers: list[Blocker]
    overseers: dict[int, set[int]]  # task id → supervisor ids
    entries: list[AccountabilityEntry]
    unit_supervisors: dict[int, int | None]  # unit id → its supervisor id

    def for_recipient(
        self, recipient: Recipient, monthly: bool
    ) -> tuple[list[Item], list[Blocker], list[AccountabilityEntry]]:
        entries = self.entries if monthly else []
        if recipient.kind == "office":
            return self.items, self.blockers, entries
        sid = recipient.id
        return (
            [i for i in self.items if sid in self.overseers.get(i.task_id, set())],
            [b for b in self.blockers if sid in self.overseers.get(b.task_id, set())],
            [e for e in entries if self.unit_supervisors.get(e.unit_id) == sid],
        )


# --- the flow -----------------------------------------------------------------------------


def send_digests(session: Session, setup: DigestSetup, now: datetime) -> list[Digest]:
    """The daemon's job (every few minutes): on a working day from the configured time,
    queues each recipient's digest of the day, once; returns the digests queued now."""
    local = now.astimezone(setup.tz)
    today = local.date()
    if not setup.calendar.is_working_day(today) or local.time() < setup.at:
        return []
    day, month = today.isoformat(), f"{today.year}-{today.month:02d}"
    recipients = _recipients(session, setup.composer.office)
    won = once.take(session, [r.key(day) for r in recipients], now)
    mine = [r for r in recipients if r.key(day) in won]
    if not mine:
        return []  # all sent today, or another daemon took them between our look and insert
    monthly = once.take(session, [r.key(month) for r in mine], now)
    content = _load(session, setup, today, with_entries=bool(monthly))
    digests = []
    for recipient in mine:
        items, blockers, entries = content.for_recipient(recipient, recipient.key(month) in monthly)
        if items or blockers or entries:
            digests.append(_queue(session, setup, recipient, today, now, items, blockers, entries))
    return digests


def _recipients(session: Session, office: str) -> list[Recipient]:
    """The office first, then every supervisor by id."""
    found = [Recipient("office", None, office, None)]
    query = select(Supervisor.id, Supervisor.name, Supervisor.channel, Supervisor.title)
    found += [
        Recipient("supervisor", i, n, c, t)
        for i, n, c, t in session.execute(query.order_by(Supervisor.id))
    ]
    return found


def _load(session: Session, setup: DigestSetup, today: date, *, with_entries: bool) -> _Content:
    items = _items(session, setup, today)
    blockers = _blockers(session)
    tasks = {i.task_id for i in items} | {b.task_id for b in blockers}
    entries: list[AccountabilityEntry] = []
    if with_entries:
        start, end = period_of(today, "month").previous().bounds(setup.tz)
        entries = confirmed_between(session, start, end)
    units: dict[int, int | None] = {}
    if entries:
        query = select(Unit.id, Unit.supervisor_id).where(Unit.id.in_({e.unit_id for e in entries}))
        units = dict(session.execute(query).all())
    return _Content(items, blockers, _overseers(session, tasks), entries, units)


def _items(session: Session, setup: DigestSetup, today: date) -> list[Item]:
    """Open due points whose highest level reached is one of the levels shown."""
    rank = {level: index for index, level in enumerate(setup.levels)}
    query = (
        select(
            DuePoint.id,
            DuePoint.assignment_id,
            Task.id,
            Task.number,
            Task.seq,
            Task.text,
            Unit.name,
            DuePoint.kind,
            DuePoint.name,
            DuePoint.due_date,
            Notification.level,
        )
        .distinct()
        .select_from(Notification)
        .join(DuePoint, Notification.due_point_id == DuePoint.id)
        .join(Assignment, DuePoint.assignment_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(
            DuePoint.state == "open",
            Notification.level.in_(setup.levels),
            Assignment.status.notin_(sorted(PAUSED)),
            Task.state == "active",
        )
    )
    highest: dict[int, Item] = {}
    for row in session.execute(query):
        point, aid, task_id, number, seq, text, unit, kind, name, due, level = row
        known = highest.get(point)
        if known is not None and rank[known.level] >= rank[level]:
            continue
        days = max(setup.calendar.working_days_between(due, today), 0)
        highest[point] = Item(
            point, aid, task_id, number, seq, text, unit, kind, name, due, level, days
        )
    return list(highest.values())


def _blockers(session: Session) -> list[Blocker]:
    query = (
        select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.detail,
            Assignment.id,
            Task.id,
            Task.number,
            Task.seq,
            Unit.name,
        )
        .join(Assignment, AuditEvent.subject_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(
            AuditEvent.action == BLOCKER,
            AuditEvent.subject_type == "assignment",
            Assignment.status.notin_(sorted(ENDED)),
            Task.state == "active",
        )
    )
    reported = session.execute(query).all()
    if not reported:
        return []
    assignments = sorted({row[3] for row in reported})
    last: dict[int, tuple[datetime, int]] = {}
    for start in range(0, len(assignments), 500):
        chunk = assignments[start : start + 500]
        moves = select(AuditEvent.subject_id, AuditEvent.at, AuditEvent.id).where(
            AuditEvent.action.in_(sorted(UNBLOCKING)),
            AuditEvent.subject_type == "assignment",
            AuditEvent.subject_id.in_(chunk),
        )
        for aid, at, event_id in session.execute(moves):
            if aid is not None and (aid not in last or (at, event_id) > last[aid]):
                last[aid] = (at, event_id)
    return [
        Blocker(event, aid, task_id, number, seq, unit, str((detail or {}).get("text") or ""), at)
        for event, at, detail, aid, task_id, number, seq, unit in reported
        if aid not in last or last[aid] < (at, event)
    ]


def _overseers(session: Session, tasks: Iterable[int]) -> dict[int, set[int]]:
    """Task id → the supervisors overseeing it: its own, and its lead units'."""
    wanted = sorted(set(tasks))
    found: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        own = select(Task.id, Task.supervisor_id).where(Task.id.in_(chunk))
        leads = (
            select(Assignment.task_id, Unit.supervisor_id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .where(Assignment.task_id.in_(chunk), Assignment.role == "lead")
        )
        for query in (own, leads):
            for task_id, supervisor_id in session.execute(query):
                if supervisor_id is not None:
                    found[task_id].add(supervisor_id)
    return found
