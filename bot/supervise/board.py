"""What the dashboard shows, read from the database: the 晾晒 board, the task list with its
filters, a task's page with its timeline, a unit's page. Read-only: nothing here writes.

An item's light (an assignment's) is the ladder's: the most severe `light` of the reminder
levels already reached on its due points that are still open (督办 yellow, 通报 red by
default), else green. A task's light is the worst of its assignments'. The board's light
is the unit's light in the ranking (bot/supervise/ranking.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.app.errors import NotFoundError
from bot.domain.lifecycle import ENDED, Status, preferred, supervisor_of
from bot.domain.periods import Period, period_of
from bot.domain.rules import Rules
from bot.engine.schedule import deadline_of
from bot.present.labels import (
    APPROVAL_ACTIONS,
    LIGHT_NAMES,
    LIGHTS,
    MESSAGE_STATES,
    POINT_KINDS,
    POINT_STATES,
    REPLY_ACTIONS,
    RESOLUTIONS,
    STATUS_NAMES,
    TIMELINE_ACTIONS,
    worst_light,
)
from bot.store.models import (
    Assignment,
    AuditEvent,
    DuePoint,
    Message,
    Notification,
    Plan,
    Supervisor,
    Task,
    Unit,
    UnitAlias,
)
from bot.store.queries import current_plan
from bot.supervise.ranking import RankedUnit
from bot.supervise.ranking_flow import RankingSetup, compute_ranking, published_at, ranking_series

HISTORY_PERIODS = 12  # months of ranking history a unit's page shows
RECENT_REPLIES = 20


# --- the board ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Board:
    period: Period
    rows: tuple[RankedUnit, ...]
    published: datetime | None
    has_plan: bool
    ended: bool  # False: the period is not over yet, nothing is computed

    def count(self, light: str) -> int:
        return sum(1 for row in self.rows if row.light == light)


def has_plan(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Plan)) != 0


def default_period(setup: RankingSetup, now: datetime) -> Period:
    """The board's period unless one is asked for: the month that ended last."""
    today = now.astimezone(setup.tz).date()
    return period_of(today, "month").previous()


def is_over(period: Period, setup: RankingSetup, now: datetime) -> bool:
    return period.bounds(setup.tz)[1] <= now


def board(session: Session, setup: RankingSetup, period: Period, now: datetime) -> Board:
    """The ranking of `period` (empty when there is no plan or the period is not over)."""
    planned = has_plan(session)
    ended = is_over(period, setup, now)
    if not planned or not ended:
        return Board(period, (), None, planned, ended)
    rows = tuple(compute_ranking(session, period, setup))
    return Board(period, rows, published_at(session, period, setup.tz), planned, ended)


# --- lights -------------------------------------------------------------------------------


def level_lights(rules: Rules) -> dict[str, str]:
    return {level.key: level.light for level in rules.ladder if level.light}


def level_names(rules: Rules) -> dict[str, str]:
    return {level.key: level.name for level in rules.ladder}


def worst(lights: Iterable[str]) -> str:
    return worst_light(lights)


def _assignment_lights(
    session: Session, plan: Plan, rules: Rules, unit_id: int | None = None
) -> dict[int, str]:
    """The light of every assignment of `plan` (of one unit) that has one other than green."""
    colours = level_lights(rules)
    query = (
        select(Notification.assignment_id, Notification.level)
        .join(DuePoint, Notification.due_point_id == DuePoint.id)
        .join(Assignment, Notification.assignment_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .where(DuePoint.state == "open", Task.plan_id == plan.id)
        .distinct()
    )
    if unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    found: dict[int, list[str]] = defaultdict(list)
    for assignment_id, level in session.execute(query):
        if level in colours:
            found[assignment_id].append(colours[level])
    return {aid: worst(lights) for aid, lights in found.items()}


def _light(assignment: Assignment, lights: dict[int, str]) -> str:
    if assignment.status in ENDED:
        return "green"
    return lights.get(assignment.id, "green")


# --- the task list ------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    unit: str = ""
    status: str = ""
    light: str = ""
    supervisor: str = ""

    @property
    def active(self) -> bool:
        return bool(self.unit or self.status or self.light or self.supervisor)


@dataclass(frozen=True)
class TaskRow:
    number: str
    text: str
    section: str | None
    leads: tuple[str, ...]
    co_units: tuple[str, ...]
    supervisor: str | None
    deadline: date | None
    status: str  # the lead's (or, filtered by unit, that unit's) assignment status
    progress: int
    light: str
    unit_role: str | None = None  # filtered by unit: that unit's role


@dataclass(frozen=True)
class Choices:
    units: tuple[str, ...]
    supervisors: tuple[str, ...]
    statuses: tuple[tuple[str, str], ...] = tuple(STATUS_NAMES.items())
    lights: tuple[tuple[str, str], ...] = tuple((k, LIGHT_NAMES[k]) for k in reversed(LIGHTS))


@dataclass(frozen=True)
class TaskList:
    plan: Plan | None
    rows: tuple[TaskRow, ...]
    choices: Choices
    unknown_unit: bool = False
    total: int = 0  # active tasks in the plan, before the filters


def _plan_or_none(session: Session) -> Plan | None:
    try:
        return current_plan(session)
    except NotFoundError:
        return None


def _tasks(session: Session, plan: Plan) -> list[Task]:
    query = (
        select(Task)
        .where(Task.plan_id == plan.id, Task.state == "active")
        .options(
            selectinload(Task.assignments)
            .selectinload(Assignment.unit)
            .selectinload(Unit.supervisor),
            selectinload(Task.supervisor),
        )
        .order_by(Task.seq)
    )
    return list(session.scalars(query))


def _active(task: Task) -> list[Assignment]:
    return [a for a in task.assignments if a.status != Status.WITHDRAWN]


def _leads(task: Task) -> list[Assignment]:
    return [a for a in _active(task) if a.role == "lead"]


def task_supervisor(task: Task) -> Supervisor | None:
    """The task's supervisor as its lead unit's item is escalated (domain.lifecycle)."""
    lead = next((a.unit.supervisor for a in _leads(task) if a.unit.supervisor), None)
    return supervisor_of(task.supervisor, lead, lead)


def choices(session: Session, plan: Plan) -> Choices:
    units = session.scalars(
        select(Unit.name)
        .join(Assignment, Assignment.unit_id == Unit.id)
        .join(Task, Assignment.task_id == Task.id)
        .where(Task.plan_id == plan.id, Task.state == "active")
        .group_by(Unit.id, Unit.name)
        .order_by(Unit.id)
    )
    supervisors = session.scalars(select(Supervisor.name).order_by(Supervisor.id))
    return Choices(tuple(units), tuple(supervisors))


def find_unit(session: Session, name: str) -> Unit | None:
    unit = session.scalar(select(Unit).where(Unit.name == name))
    if unit is None:
        unit = session.scalar(select(Unit).join(UnitAlias).where(UnitAlias.alias == name))
    return unit


def task_list(session: Session, rules: Rules, filters: Filters) -> TaskList:
    """The plan's active tasks that pass the filters, in the document's order."""
    plan = _plan_or_none(session)
    if plan is None:
        return TaskList(None, (), Choices((), ()))
    options = choices(session, plan)
    unit = find_unit(session, filters.unit) if filters.unit else None
    if filters.unit and unit is None:
        return TaskList(plan, (), options, unknown_unit=True)
    lights = _assignment_lights(session, plan, rules)
    tasks = _tasks(session, plan)
    rows = []
    for task in tasks:
        row = _task_row(task, plan, lights, unit)
        if row is None:
            continue
        if filters.status and row.status != filters.status:
            continue
        if filters.light and row.light != filters.light:
            continue
        if filters.supervisor and row.supervisor != filters.supervisor:
            continue
        rows.append(row)
    return TaskList(plan, tuple(rows), options, total=len(tasks))


def _task_row(task: Task, plan: Plan, lights: dict[int, str], unit: Unit | None) -> TaskRow | None:
    active = _active(task)
    leads = _leads(task)
    if unit is not None:
        mine = [a for a in active if a.unit_id == unit.id]
        if not mine:
            return None
        shown = preferred(mine)
        light = _light(shown, lights) if shown else "green"
    else:
        shown = leads[0] if leads else (active[0] if active else None)
        light = worst(_light(a, lights) for a in active)
    supervisor = task_supervisor(task)
    return TaskRow(
        number=task.number,
        text=task.text,
        section=task.section,
        leads=tuple(a.unit.name for a in leads),
        co_units=tuple(a.unit.name for a in active if a.role != "lead"),
        supervisor=supervisor.name if supervisor else None,
        deadline=deadline_of(shown, task, plan),
        status=shown.status if shown else Status.NOT_STARTED,
        progress=shown.progress if shown else 0,
        light=light,
        unit_role=shown.role if unit is not None and shown else None,
    )


# --- a task's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentRow:
    unit: str
    role: str
    co_lead: bool
    status: str
    progress: int
    light: str
    deadline: date | None
    last_report_at: datetime | None


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


def task_page(session: Session, rules: Rules, tz: ZoneInfo, number: str) -> TaskPage | None:
    """A task of the current plan with its units and its timeline (oldest first)."""
    plan = _plan_or_none(session)
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
    lights = _assignment_lights(session, plan, rules)
    rows = tuple(
        AssignmentRow(
            unit=a.unit.name,
            role=a.role,
            co_lead=a.co_lead,
            status=a.status,
            progress=a.progress,
            light=_light(a, lights),
            deadline=deadline_of(a, task, plan),
            last_report_at=a.last_report_at,
        )
        for a in sorted(task.assignments, key=lambda a: (a.role != "lead", a.id))
    )
    supervisor = task_supervisor(task)
    units = {a.id: a.unit.name for a in task.assignments}
    return TaskPage(
        plan=plan,
        task=task,
        supervisor=supervisor.name if supervisor else None,
        deadline=deadline_of(None, task, plan),
        light=worst(_light(a, lights) for a in _active(task)),
        assignments=rows,
        timeline=tuple(timeline(session, rules, tz, units)),
        indicators=tuple(i for i in task.indicators if isinstance(i, dict)),
    )


def timeline(session: Session, rules: Rules, tz: ZoneInfo, units: dict[int, str]) -> list[Entry]:
    """Reminders and escalations, replies, approvals and due dates of the assignments
    `units` names (id → unit), oldest first."""
    if not units:
        return []
    ids = sorted(units)
    entries = _reminders(session, rules, ids, units)
    entries += _audit_entries(session, ids, units)
    entries += _due_entries(session, tz, ids, units)
    entries.sort(key=lambda e: (e.at, _KIND_ORDER.get(e.kind, 9)))
    return entries


_KIND_ORDER = {"due": 0, "reminder": 1, "reply": 2, "approval": 3, "other": 4}


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


# --- a unit's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitAssignment:
    number: str
    text: str
    role: str
    co_lead: bool
    status: str
    progress: int
    light: str
    deadline: date | None


@dataclass(frozen=True)
class HistoryRow:
    period: Period
    row: RankedUnit
    ranked: int  # how many units were ranked


@dataclass(frozen=True)
class UnitReply:
    at: datetime
    number: str | None
    title: str
    actor: str
    text: str | None
    note: str | None


@dataclass(frozen=True)
class UnitPage:
    unit: Unit
    aliases: tuple[str, ...]
    supervisor: str | None
    assignments: tuple[UnitAssignment, ...]
    history: tuple[HistoryRow, ...]
    replies: tuple[UnitReply, ...]


def unit_page(
    session: Session, rules: Rules, setup: RankingSetup | None, name: str, now: datetime
) -> UnitPage | None:
    unit = find_unit(session, name)
    if unit is None:
        return None
    plan = _plan_or_none(session)
    rows: list[UnitAssignment] = []
    if plan is not None:
        lights = _assignment_lights(session, plan, rules, unit.id)
        assignments = session.scalars(
            select(Assignment)
            .join(Task, Assignment.task_id == Task.id)
            .where(
                Assignment.unit_id == unit.id,
                Task.plan_id == plan.id,
                Task.state == "active",
                Assignment.status != Status.WITHDRAWN,
            )
            .options(selectinload(Assignment.task))
            .order_by(Task.seq)
        )
        rows = [
            UnitAssignment(
                number=a.task.number,
                text=a.task.text,
                role=a.role,
                co_lead=a.co_lead,
                status=a.status,
                progress=a.progress,
                light=_light(a, lights),
                deadline=deadline_of(a, a.task, plan),
            )
            for a in assignments
        ]
    history = ranking_history(session, setup, unit.name, now) if setup is not None else []
    return UnitPage(
        unit=unit,
        aliases=tuple(alias.alias for alias in unit.aliases),
        supervisor=unit.supervisor.name if unit.supervisor else None,
        assignments=tuple(rows),
        history=tuple(history),
        replies=tuple(_unit_replies(session, unit)),
    )


def ranking_history(
    session: Session, setup: RankingSetup, unit: str, now: datetime
) -> list[HistoryRow]:
    """The unit's monthly ranks, newest first: the months since the first plan was
    imported that are over (at most HISTORY_PERIODS of them)."""
    first = session.scalar(select(func.min(Plan.created_at)))
    if first is None:
        return []
    last = default_period(setup, now)
    start = period_of(first.astimezone(setup.tz).date(), "month")
    periods: list[Period] = []
    period = last
    while period >= start and len(periods) < HISTORY_PERIODS:
        periods.append(period)
        period = period.previous()
    if not periods:
        return []
    periods.reverse()
    found = []
    for period, ranked in zip(periods, ranking_series(session, periods, setup), strict=True):
        mine = next((row for row in ranked if row.unit == unit), None)
        if mine is not None:
            found.append(HistoryRow(period, mine, len(ranked)))
    found.reverse()
    return found


def _unit_replies(session: Session, unit: Unit) -> list[UnitReply]:
    query = (
        select(AuditEvent, Task.number)
        .join(Assignment, AuditEvent.subject_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .where(
            AuditEvent.subject_type == "assignment",
            Assignment.unit_id == unit.id,
            or_(*(AuditEvent.action == action for action in sorted(REPLY_ACTIONS))),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(RECENT_REPLIES)
    )
    replies = []
    for event, number in session.execute(query):
        detail = event.detail or {}
        note = f"进度 {detail['percent']}%" if detail.get("percent") is not None else None
        if detail.get("date"):
            note = f"至 {detail['date']}"
        replies.append(
            UnitReply(
                at=event.at,
                number=number,
                title=REPLY_ACTIONS[event.action],
                actor=event.actor,
                text=str(detail["text"]) if detail.get("text") else None,
                note=note,
            )
        )
    return replies
