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
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, defer, selectinload

from bot.delivery.compose import Recipient
from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import Decision, DueSpec, PointState, StepCache, decide
from bot.domain.lifecycle import supervisor_of
from bot.domain.rules import Rules
from bot.engine.reminders import Contact, Reminder, SweepOptions, enqueue, recipients, reminders_for
from bot.engine.schedule import context_of, point_row, report_after, schedule_pending
from bot.store.audit import record_many
from bot.store.database import insert_ignoring_duplicates
from bot.store.models import Assignment, DuePoint, Plan, Supervisor, Task, Unit


@dataclass(frozen=True)
class SweepResult:
    points: int = 0
    notifications: int = 0
    messages: int = 0


# A claimed due point with what its reminders need: the task's lead unit's supervisor last.
Claimed = tuple[DuePoint, Assignment, Task, Plan, Unit, Supervisor | None]
Events = dict[str, list[tuple[int | None, dict[str, Any]]]]
# Recipients by (unit, level, supervisor), for one sweep.
Addressed = dict[tuple[int, str, int | None], list[tuple[Recipient, tuple[Contact, ...]]]]


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
    addressed: Addressed = {}
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
            reminders += _handle(row, steps, now, events, rolled, updates, office, addressed)
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
    notes, messages = enqueue(session, reminders, rules, cal, now, options)
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
        # Tasks are a batch's own: a deadline day's 25,000 task objects held to the end of
        # the sweep were a quarter of its peak memory. A task's due points are claimed
        # together (consecutive ids), so few are loaded twice. Units and plans are few.
        wanted = {a.task_id for a in assignments}
        self.tasks = {k: v for k, v in self.tasks.items() if k in wanted}
        self.leads = {k: v for k, v in self.leads.items() if k in wanted}
        tasks = wanted - self.tasks.keys()
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
    addressed: Addressed,
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
    # The same unit, level and supervisor: the same recipients, shared (100,000 reminders
    # on a deadline day, over a few hundred units).
    known = (unit.id, decision.send.level.key, supervisor.id if supervisor else None)
    to = addressed.get(known)
    if to is None:
        to = addressed[known] = recipients(decision.send, unit, supervisor, office)
    return reminders_for(point, assignment, task, unit, to, decision.send, cal, tz, now)


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
