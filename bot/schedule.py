"""Scheduling flow: gives each assignment its due points (report cycle, deadline, milestones).

Report cycles roll: an assignment holds its current report cycle only; the sweep creates the
next one when it starts. So scheduling 100,000 assignments writes about 200,000 small rows,
and a sweep reads only the due points whose next action has come.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, defer

from bot.calendar import WorkCalendar
from bot.database import insert_ignoring_duplicates
from bot.ladder import (
    DueSpec,
    adjust_due,
    deadline_spec,
    first_step_at,
    next_report,
    nominal_report_dates,
)
from bot.models import Assignment, DuePoint, Plan, Task
from bot.rules import ReportCycle, Rules


@dataclass(frozen=True)
class Context:
    """Everything the due computation needs to know about one assignment."""

    assignment_id: int
    plan_keys: tuple[str, ...]
    task_number: str
    start: date
    deadline: date
    tz: ZoneInfo


def plan_start(plan: Plan) -> date:
    """The plan's first day: its import day within its year, else 1 January of its year."""
    created = plan.created_at.astimezone(ZoneInfo(plan.timezone)).date()
    if plan.year is None or created.year == plan.year:
        return created
    return date(plan.year, 1, 1)


def deadline_of(assignment: Assignment, task: Task, plan: Plan) -> date:
    if assignment.deadline is not None:
        return assignment.deadline
    if task.deadline is not None:
        return task.deadline
    if plan.default_deadline is not None:
        return plan.default_deadline
    return date(plan_start(plan).year, 12, 31)


def context_of(assignment: Assignment, task: Task, plan: Plan) -> Context:
    keys = tuple(k for k in (str(plan.id), plan.title, plan.key) if k)
    return Context(
        assignment.id,
        keys,
        task.number,
        plan_start(plan),
        deadline_of(assignment, task, plan),
        ZoneInfo(plan.timezone),
    )


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
        for m in rules.milestones_for(ctx.plan_keys, ctx.task_number)
        if m.due >= ctx.start  # a milestone before the plan started is history, not a reminder
    ]
    return specs


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


def _pending(session: Session, limit: int) -> Sequence[Row[Assignment, Task, Plan]]:
    return session.execute(
        select(Assignment, Task, Plan)
        .join(Task, Assignment.task_id == Task.id)
        .join(Plan, Task.plan_id == Plan.id)
        .where(Assignment.needs_schedule.is_(True))
        .order_by(Assignment.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Assignment)
        .options(
            defer(Task.responsibility), defer(Task.indicators), defer(Task.notes), defer(Task.text)
        )
    ).all()


def schedule_pending(
    session: Session, rules: Rules, cal: WorkCalendar, now: datetime, batch: int = 5000
) -> int:
    """Creates the due points of every assignment marked for scheduling; returns how many."""
    done = 0
    while rows := _pending(session, batch):
        existing = _existing_keys(session, [a.id for a, _, _ in rows])
        new_rows: list[dict[str, object]] = []
        for assignment, task, plan in rows:
            ctx = context_of(assignment, task, plan)
            have = existing.get(assignment.id, {})
            specs = initial_specs(ctx, rules, cal)
            if any(k.startswith("report:") for k in have):
                specs = [s for s in specs if s.kind != "report"]
                _refresh_last_report(session, ctx, have, rules, cal, now)
            new_rows += [point_row(ctx, s, rules, cal, now) for s in specs if s.key not in have]
            _retire_old_deadlines(session, assignment.id, have, ctx, now)
        insert_ignoring_duplicates(session, DuePoint, new_rows)
        session.execute(
            update(Assignment)
            .where(Assignment.id.in_([a.id for a, _, _ in rows]))
            .values(needs_schedule=False)
            .execution_options(synchronize_session=False)
        )
        done += len(rows)
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


def _refresh_last_report(
    session: Session,
    ctx: Context,
    have: dict[str, str],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
) -> None:
    """After a deadline moves, the latest report cycle may no longer be the last one."""
    latest = max(k for k in have if k.startswith("report:"))
    nominal = date.fromisoformat(latest.split(":", 1)[1])
    ends = superseded_at(ctx, DueSpec("report", latest, nominal, nominal), rules, cal)
    session.execute(
        update(DuePoint)
        .where(
            DuePoint.assignment_id == ctx.assignment_id,
            DuePoint.key == latest,
            DuePoint.superseded_at.is_distinct_from(ends),
        )
        .values(superseded_at=ends, next_action_at=now)
    )
