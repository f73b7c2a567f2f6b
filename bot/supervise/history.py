"""The history of every assignment, replayed from the audit trail: what was true when.

`History.load(session, until, …)` reads the audit events dated before `until` and facts that
never change once written — unit names, plans, which task and unit an assignment belongs to
and when it was created, each report or milestone due point's dates and creation time — and
replays each assignment's changeable state (status, progress, role, deadline, whether its
task is active) with the one transition function of domain/lifecycle, plus
assignment.role_changed, task.removed and task.changed (deadline, state). So whatever
happens later, a question about a moment before `until` gets the same answer. The ranking,
the dashboard's unit pages and the progress table all ask it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import adjust_due
from bot.domain.lifecycle import DONE, PAUSED, REPORTS, Event, Status, after, effective_deadline
from bot.domain.periods import Period
from bot.engine.schedule import plan_start
from bot.store.models import Assignment, AuditEvent, DuePoint, Plan, Task, Unit
from bot.supervise.ranking import UnitMetrics, expected_progress

# The events that change an assignment: the lifecycle's, and a change of role.
ASSIGNMENT_EVENTS = frozenset({*Event, "assignment.role_changed"})
TASK_EVENTS = frozenset({"task.removed", "task.changed"})
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PlanFacts:
    tz: ZoneInfo
    start: date
    default_deadline: date | None


@dataclass(frozen=True)
class Recorded:
    at: datetime
    action: str
    subject_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Point:
    kind: str  # report | milestone
    due_date: date
    window_start: date
    created_at: datetime
    superseded_at: datetime | None  # when a report cycle is over (the next one's reminders)


@dataclass(frozen=True)
class Snapshot:
    """An assignment's changeable state from one moment to the next change."""

    status: str
    progress: int
    role: str
    deadline: date  # the effective one: an approved extension, the task's, the plan's
    task_active: bool


@dataclass
class Replay:
    status: str
    progress: int
    role: str
    extended: date | None
    task_deadline: date | None
    task_active: bool

    def apply(self, event: Recorded) -> None:
        action, detail = event.action, event.detail
        if action == Event.PROGRESS and detail.get("percent") is not None:
            self.progress = int(detail["percent"])
        if action == Event.APPROVE_EXTENSION and detail.get("date"):
            self.extended = date.fromisoformat(detail["date"])
        to = detail.get("to")
        self.status = after(self.status, action, progress=self.progress, to=to and str(to))
        if action == "assignment.role_changed":
            self.role = str(detail.get("to", self.role))
        elif action == "task.removed":
            self.task_active = False
        elif action == "task.changed":
            changes = detail.get("changes", {})
            if "state" in changes:
                self.task_active = changes["state"][1] == "active"
            if "deadline" in changes:
                self.task_deadline = _day(changes["deadline"][1])

    def snapshot(self, plan: PlanFacts) -> Snapshot:
        deadline = effective_deadline(
            self.extended, self.task_deadline, plan.default_deadline, plan.start.year
        )
        return Snapshot(self.status, self.progress, self.role, deadline, self.task_active)


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass
class Timeline:
    """One assignment: its static facts, its states over time, its reports and due points."""

    id: int
    unit: str
    created_at: datetime
    plan: PlanFacts
    times: list[datetime] = field(default_factory=list)
    states: list[Snapshot] = field(default_factory=list)
    reports: list[datetime] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)

    def state_before(self, moment: datetime) -> Snapshot:
        """The state after every event dated before `moment`."""
        return self.states[bisect_left(self.times, moment) - 1]

    def created_day(self) -> date:
        return self.created_at.astimezone(self.plan.tz).date()

    def midnight_after(self, day: date) -> datetime:
        """The end of local `day`, in UTC."""
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.plan.tz).astimezone(
            UTC
        )


@dataclass
class History:
    """Everything recorded before `until`, ready to be asked about any period ending by then."""

    until: datetime
    timelines: list[Timeline]
    calendar: WorkCalendar
    non_working_day: str

    @classmethod
    def load(
        cls,
        session: Session,
        until: datetime,
        calendar: WorkCalendar,
        non_working_day: str = "next",
    ) -> History:
        plans = {
            plan.id: PlanFacts(ZoneInfo(plan.timezone), plan_start(plan), plan.default_deadline)
            for plan in session.scalars(select(Plan))
        }
        first_roles, first_deadlines = _first_values(session)
        rows = session.execute(
            select(
                Assignment.id,
                Assignment.task_id,
                Assignment.role,
                Assignment.created_at,
                Unit.name,
                Task.plan_id,
                Task.deadline,
            )
            .join(Unit, Assignment.unit_id == Unit.id)
            .join(Task, Assignment.task_id == Task.id)
            .where(Assignment.created_at < until)
            .order_by(Assignment.id)
        ).all()
        timelines: dict[int, Timeline] = {}
        replays: dict[int, Replay] = {}
        by_task: dict[int, list[int]] = defaultdict(list)
        task_of: dict[int, int] = {}
        for aid, task_id, role, created_at, unit, plan_id, task_deadline in rows:
            plan = plans[plan_id]
            timelines[aid] = Timeline(aid, unit, created_at, plan)
            replays[aid] = Replay(
                Status.NOT_STARTED,
                0,
                first_roles.get(aid, role),
                None,
                first_deadlines.get(task_id, task_deadline),
                True,
            )
            timelines[aid].times.append(EARLIEST)
            timelines[aid].states.append(replays[aid].snapshot(plan))
            by_task[task_id].append(aid)
            task_of[aid] = task_id
        for event in _events(session, until):
            for aid in _concerned(event, by_task, task_of, timelines):
                timeline = timelines[aid]
                replays[aid].apply(event)
                timeline.times.append(event.at)
                timeline.states.append(replays[aid].snapshot(timeline.plan))
                if event.action in REPORTS and event.subject_id == aid:
                    timeline.reports.append(event.at)
        for aid, point in _points(session, until):
            if aid in timelines:
                timelines[aid].points.append(point)
        return cls(until, list(timelines.values()), calendar, non_working_day)

    def metrics(self, period: Period, tz: ZoneInfo) -> list[UnitMetrics]:
        """Each unit's counts for `period` (which must end by `until`)."""
        start, end = period.bounds(tz)
        if end > self.until:
            raise ValueError(f"history loaded until {self.until}, asked up to {end}")
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for timeline in self.timelines:
            if timeline.created_at >= end:
                continue
            due, on_time = self._reports(timeline, period, end)
            if due:
                unit = counts[timeline.unit]
                unit["reports_due"] += due
                unit["reports_on_time"] += on_time
            state = timeline.state_before(end)
            if not state.task_active or state.status == Status.WITHDRAWN:
                continue
            unit = counts[timeline.unit]
            unit["assignments"] += 1
            unit["overdue"] += self._overdue(timeline, start, end)
            if state.role == "lead":
                unit["lead_tasks"] += 1
                unit["on_track"] += self._on_track(timeline, state, period)
        return [UnitMetrics(unit, **values) for unit, values in sorted(counts.items())]

    def _reports(self, timeline: Timeline, period: Period, end: datetime) -> tuple[int, int]:
        """Report cycles due in the period, and how many were reported by their due day.

        A cycle counts when its due point existed before the period ended and is not dated
        before the assignment existed. Without an on-time report, a cycle of an assignment
        closed, awaiting closure, withdrawn or removed by the end of its due day was not due.
        """
        settled = _settlements(timeline, end)
        due = on_time = 0
        for index, point in enumerate(timeline.points):
            if point.kind != "report" or not period.first <= point.due_date <= period.last:
                continue
            if point.created_at >= end or point.due_date < timeline.created_day():
                continue
            report = settled.get(index)
            reported = report is not None and _local_day(report, timeline) <= point.due_date
            cutoff = min(timeline.midnight_after(point.due_date), end)
            state = timeline.state_before(cutoff)
            if not reported and (state.status in PAUSED or not state.task_active):
                continue
            due += 1
            on_time += reported
        return due, on_time

    def _overdue(self, timeline: Timeline, start: datetime, end: datetime) -> bool:
        """Whether a deadline or milestone of the assignment was past its due day and
        unfinished (closure neither requested nor confirmed) at some moment of the period."""
        milestones = [
            p
            for p in timeline.points
            if p.kind == "milestone" and p.due_date >= timeline.created_day()
        ]
        for index, (moment, state) in enumerate(zip(timeline.times, timeline.states, strict=True)):
            following = timeline.times[index + 1] if index + 1 < len(timeline.times) else end
            low, high = max(moment, start, timeline.created_at), min(following, end)
            if low >= high or not state.task_active or state.status in PAUSED:
                continue
            due = adjust_due(state.deadline, self.non_working_day, self.calendar)
            late = [timeline.midnight_after(due)]
            late += [timeline.midnight_after(p.due_date) for p in milestones if p.created_at < high]
            if min(late) < high:
                return True
        return False

    def _on_track(self, timeline: Timeline, state: Snapshot, period: Period) -> bool:
        """Done (closure requested or confirmed), or at or ahead of the progress expected at
        the period's end for work spread evenly from the start to the deadline."""
        if state.status in DONE:
            return True
        begun = max(timeline.plan.start, timeline.created_day())
        return state.progress >= expected_progress(begun, state.deadline, period.end)


def _local_day(moment: datetime, timeline: Timeline) -> date:
    return moment.astimezone(timeline.plan.tz).date()


def _settlements(timeline: Timeline, end: datetime) -> dict[int, datetime]:
    """Which report settled which report cycle (by index into `timeline.points`).

    Each report (progress or closure request) settles one cycle: the earliest one not yet
    settled whose window it falls in (after the window-start day) and that is not over yet
    (before the next cycle's first reminder, when its reminders end). So a report three
    days after the 25th is this month's late report, not next month's early one; and a
    report before a cycle's first reminder still counts for it once the one before is
    settled. Only cycles whose due point existed before `end` take part.
    """
    cycles = sorted(
        (
            (point.due_date, index)
            for index, point in enumerate(timeline.points)
            if point.kind == "report"
            and point.created_at < end
            and point.due_date >= timeline.created_day()
        ),
    )
    settled: dict[int, datetime] = {}
    for report in timeline.reports:
        if report >= end:
            break
        day = _local_day(report, timeline)
        for _, index in cycles:
            point = timeline.points[index]
            over = point.superseded_at is not None and report >= point.superseded_at
            if index not in settled and point.window_start < day and not over:
                settled[index] = report
                break
    return settled


def _first_values(session: Session) -> tuple[dict[int, str], dict[int, date | None]]:
    """The role each assignment and the deadline each task started with: the `from` of its
    first change (a later change cannot alter which one was first)."""
    roles: dict[int, str] = {}
    deadlines: dict[int, date | None] = {}
    query = (
        select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.detail)
        .where(AuditEvent.action.in_(("assignment.role_changed", "task.changed")))
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for action, subject_id, detail in session.execute(query):
        if subject_id is None:
            continue
        if action == "assignment.role_changed":
            roles.setdefault(subject_id, str(detail.get("from")))
            continue
        changes = detail.get("changes", {})
        if "deadline" in changes and subject_id not in deadlines:
            deadlines[subject_id] = _day(changes["deadline"][0])
    return roles, deadlines


def _events(session: Session, until: datetime) -> Iterable[Recorded]:
    query = (
        select(AuditEvent.at, AuditEvent.action, AuditEvent.subject_id, AuditEvent.detail)
        .where(
            AuditEvent.action.in_(sorted(ASSIGNMENT_EVENTS | TASK_EVENTS)),
            AuditEvent.at < until,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for at, action, subject_id, detail in session.execute(query):
        yield Recorded(at, action, subject_id, detail or {})


def _concerned(
    event: Recorded,
    by_task: dict[int, list[int]],
    task_of: dict[int, int],
    timelines: dict[int, Timeline],
) -> list[int]:
    """The assignments an event changes: its subject, or every assignment of its task."""
    if event.subject_id is None:
        return []
    if event.action in TASK_EVENTS:
        return by_task.get(event.subject_id, [])
    if event.action == "approve.close":
        task = task_of.get(event.subject_id)
        if task is None:
            return []
        # Closing closes the task's assignments that existed then, not ones added later.
        return [a for a in by_task[task] if timelines[a].created_at <= event.at]
    return [event.subject_id] if event.subject_id in timelines else []


def _points(session: Session, until: datetime) -> Iterable[tuple[int, Point]]:
    # Due dates up to a day past `until` (plans may keep another time zone than the periods).
    last = until.date() + timedelta(days=1)
    query = select(
        DuePoint.assignment_id,
        DuePoint.kind,
        DuePoint.due_date,
        DuePoint.window_start,
        DuePoint.created_at,
        DuePoint.superseded_at,
    ).where(
        DuePoint.kind.in_(("report", "milestone")),
        DuePoint.created_at < until,
        DuePoint.due_date <= last,
    )
    for aid, kind, due_date, window_start, created_at, superseded_at in session.execute(query):
        yield aid, Point(kind, due_date, window_start, created_at, superseded_at)
