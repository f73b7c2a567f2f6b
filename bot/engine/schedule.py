"""Scheduling flow: gives each assignment its due points (report cycle, deadline, milestones).

Report cycles roll: an assignment holds its current report cycle only; the sweep creates the
next one when it starts. So scheduling 100,000 assignments writes about 200,000 small rows,
and a sweep reads only the due points whose next action has come.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import (
    DueSpec,
    adjust_due,
    deadline_spec,
    first_step_at,
    next_report,
    nominal_report_dates,
)
from bot.domain.lifecycle import effective_deadline
from bot.domain.rules import Milestone, ReportCycle, Rules
from bot.store.database import analyze_after_bulk, insert_ignoring_duplicates
from bot.store.models import Assignment, DuePoint, Plan, Task


@dataclass(frozen=True)
class Context:
    """Everything the due computation needs to know about one assignment."""

    assignment_id: int
    plan_keys: tuple[str, ...]
    task_number: str
    start: date
    deadline: date
    tz: ZoneInfo
    # The dates the document itself states before the deadline (「6月底前开工」).
    milestones: tuple[Milestone, ...] = ()


def plan_start(plan: Plan) -> date:
    """The plan's first day: its import day within its year, else 1 January of its year."""
    created = plan.created_at.astimezone(ZoneInfo(plan.timezone)).date()
    if plan.year is None or created.year == plan.year:
        return created
    return date(plan.year, 1, 1)


def deadline_of(assignment: Assignment | None, task: Task, plan: Plan) -> date:
    """The assignment's effective deadline (the task's, for no assignment)."""
    return _deadline(assignment.deadline if assignment else None, task.deadline, plan)


def _deadline(extended: date | None, task_deadline: date | None, plan: Plan) -> date:
    year = plan_start(plan).year
    return effective_deadline(extended, task_deadline, plan.default_deadline, year)


def context_of(assignment: Assignment, task: Task, plan: Plan) -> Context:
    row = (assignment.id, assignment.deadline, task.number, task.deadline, task.milestones)
    return _context(row, plan)


def report_after(ctx: Context, after: date, rules: Rules, cal: WorkCalendar) -> DueSpec | None:
    return next_report(
        rules.reports_for(ctx.plan_keys, ctx.task_number), after, ctx.deadline, rules, cal
    )


def superseded_at(ctx: Context, spec: DueSpec, rules: Rules, cal: WorkCalendar) -> datetime | None:
    """When the cycle after `spec` starts (its first reminder), or None if it is the last."""
    nominal = date.fromisoformat(spec.key.split(":", 1)[1])
    following = report_after(ctx, nominal, rules, cal)
    return first_step_at(following.due_date, rules, cal, ctx.tz) if following else None


def initial_specs(ctx: Context, rules: Rules, cal: WorkCalendar) -> list[DueSpec]:
    before_start = ctx.start - timedelta(days=1)
    specs = [s for s in [report_after(ctx, before_start, rules, cal)] if s]
    cycle: ReportCycle = rules.reports_for(ctx.plan_keys, ctx.task_number)
    earlier = [
        d for d in nominal_report_dates(cycle, before_start, ctx.deadline) if d < ctx.deadline
    ]
    specs.append(deadline_spec(ctx.deadline, earlier[-1] if earlier else before_start, rules, cal))
    specs += [
        DueSpec(
            "milestone",
            f"milestone:{m.due.isoformat()}",
            adjust_due(m.due, rules.non_working_day, cal),
            before_start,
            m.name,
        )
        for m in _milestones(ctx, rules)
        if m.due >= ctx.start  # a milestone before the plan started is history, not a reminder
    ]
    return specs


def _milestones(ctx: Context, rules: Rules) -> list[Milestone]:
    """The rule file's milestones for the task, then the document's own, each date once."""
    found = {m.due: m for m in ctx.milestones}
    found.update({m.due: m for m in rules.milestones_for(ctx.plan_keys, ctx.task_number)})
    return [found[due] for due in sorted(found)]


def point_row(
    ctx: Context, spec: DueSpec, rules: Rules, cal: WorkCalendar, now: datetime
) -> dict[str, object]:
    ends = superseded_at(ctx, spec, rules, cal) if spec.kind == "report" else None
    missed = ends is not None and ends <= now
    return {
        "assignment_id": ctx.assignment_id,
        "kind": spec.kind,
        "key": spec.key,
        "name": spec.name,
        "due_date": spec.due_date,
        "window_start": spec.window_start,
        "state": "missed" if missed else "open",
        "resolution": None,
        "resolved_at": None,
        "step": -1,
        "superseded_at": ends,
        "created_at": now,
        # A cycle already over is recorded as missed; the sweep then rolls to the next one.
        "next_action_at": ends if missed else first_step_at(spec.due_date, rules, cal, ctx.tz),
    }


PendingRow = Row[int, date | None, str, date | None, list[Any], int]


def _pending(session: Session, limit: int) -> Sequence[PendingRow]:
    """The next assignments to schedule, as plain columns (locked against other daemons)."""
    return session.execute(
        select(
            Assignment.id,
            Assignment.deadline,
            Task.number,
            Task.deadline,
            Task.milestones,
            Task.plan_id,
        )
        .join(Task, Assignment.task_id == Task.id)
        .where(Assignment.needs_schedule.is_(True))
        .order_by(Assignment.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Assignment)
    ).all()


def _context(row: tuple[int, date | None, str, date | None, list[Any]], plan: Plan) -> Context:
    assignment_id, extended, number, task_deadline, milestones = row
    keys = tuple(k for k in (str(plan.id), plan.title, plan.key) if k)
    return Context(
        assignment_id,
        keys,
        number,
        plan_start(plan),
        _deadline(extended, task_deadline, plan),
        ZoneInfo(plan.timezone),
        tuple(Milestone(date.fromisoformat(m["due"]), m["name"]) for m in milestones or ()),
    )


@dataclass
class _Templates:
    """Most assignments of a plan share their due points but for the assignment id: compute
    them once per (plan, deadline, task override) rather than once per assignment."""

    rules: Rules
    cal: WorkCalendar
    now: datetime
    rows: dict[tuple[object, ...], list[dict[str, object]]] = field(default_factory=dict)

    def fresh(self, ctx: Context) -> list[dict[str, object]]:
        own = self.rules.has_task_override(ctx.plan_keys, ctx.task_number)
        key = (
            ctx.plan_keys,
            ctx.task_number if own else "",
            ctx.start,
            ctx.deadline,
            ctx.tz,
            ctx.milestones,
        )
        if key not in self.rows:
            specs = initial_specs(ctx, self.rules, self.cal)
            self.rows[key] = [point_row(ctx, s, self.rules, self.cal, self.now) for s in specs]
        return [{**row, "assignment_id": ctx.assignment_id} for row in self.rows[key]]

    def reschedule(
        self, session: Session, ctx: Context, have: dict[str, str]
    ) -> list[dict[str, object]]:
        """An assignment scheduled before (its deadline moved): add what is new, retire the old."""
        specs = initial_specs(ctx, self.rules, self.cal)
        if any(k.startswith("report:") for k in have):
            specs = [s for s in specs if s.kind != "report"]
            self._refresh_last_report(session, ctx, have)
        _retire_old_deadlines(session, ctx.assignment_id, have, ctx, self.now)
        return [
            point_row(ctx, s, self.rules, self.cal, self.now) for s in specs if s.key not in have
        ]

    def _refresh_last_report(self, session: Session, ctx: Context, have: dict[str, str]) -> None:
        """After a deadline moves, the latest report cycle may no longer be the last one."""
        latest = max(k for k in have if k.startswith("report:"))
        nominal = date.fromisoformat(latest.split(":", 1)[1])
        ends = superseded_at(ctx, DueSpec("report", latest, nominal, nominal), self.rules, self.cal)
        session.execute(
            update(DuePoint)
            .where(
                DuePoint.assignment_id == ctx.assignment_id,
                DuePoint.key == latest,
                DuePoint.superseded_at.is_distinct_from(ends),
            )
            .values(superseded_at=ends, next_action_at=self.now)
        )


def schedule_pending(
    session: Session, rules: Rules, cal: WorkCalendar, now: datetime, batch: int = 5000
) -> int:
    """Creates the due points of every assignment marked for scheduling; returns how many."""
    done = 0
    templates = _Templates(rules, cal, now)
    plans: dict[int, Plan] = {}
    while rows := _pending(session, batch):
        ids = [row[0] for row in rows]
        existing = _existing_keys(session, ids)
        for plan_id in {row[5] for row in rows} - plans.keys():
            plans[plan_id] = session.get_one(Plan, plan_id)
        new_rows: list[dict[str, object]] = []
        for row in rows:
            ctx = _context((row[0], row[1], row[2], row[3], row[4]), plans[row[5]])
            have = existing.get(ctx.assignment_id, {})
            if not have:
                new_rows += templates.fresh(ctx)
                continue
            new_rows += templates.reschedule(session, ctx, have)
        insert_ignoring_duplicates(session, DuePoint, new_rows)
        session.execute(
            update(Assignment)
            .where(Assignment.id.in_(ids))
            .values(needs_schedule=False)
            .execution_options(synchronize_session=False)
        )
        done += len(rows)
    analyze_after_bulk(session, done, Assignment, DuePoint)
    return done


def _existing_keys(session: Session, ids: list[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    query = select(DuePoint.assignment_id, DuePoint.key, DuePoint.state).where(
        DuePoint.assignment_id.in_(ids)
    )
    for assignment_id, key, state in session.execute(query):
        found.setdefault(assignment_id, {})[key] = state
    return found


def _retire_old_deadlines(
    session: Session, assignment_id: int, have: dict[str, str], ctx: Context, now: datetime
) -> None:
    """A moved deadline (an approved extension) closes the old deadline's ladder."""
    current = f"deadline:{ctx.deadline.isoformat()}"
    stale = [
        k
        for k, state in have.items()
        if k.startswith("deadline:") and k != current and state == "open"
    ]
    if stale:
        session.execute(
            update(DuePoint)
            .where(DuePoint.assignment_id == assignment_id, DuePoint.key.in_(stale))
            .values(state="resolved", resolution="extended", resolved_at=now, next_action_at=None)
        )
