"""The dashboard's task list: every task of the plan with its lead, light, supervisor and
status, filtered by unit, status, light or supervisor. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.app.errors import NotFoundError
from bot.domain.lifecycle import Status, preferred, supervisor_of
from bot.domain.rules import Rules
from bot.engine.schedule import deadline_of
from bot.present.labels import LIGHT_NAMES, LIGHTS, STATUS_NAMES
from bot.store.models import Assignment, Plan, Supervisor, Task, Unit, UnitAlias
from bot.store.queries import current_plan, show_task
from bot.supervise.board import assignment_lights, item_light, worst


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


def plan_or_none(session: Session) -> Plan | None:
    try:
        return current_plan(session)
    except NotFoundError:
        return None


def plan_tasks(session: Session, plan: Plan) -> list[Task]:
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


def active_assignments(task: Task) -> list[Assignment]:
    return [a for a in task.assignments if a.status != Status.WITHDRAWN]


def lead_assignments(task: Task) -> list[Assignment]:
    return [a for a in active_assignments(task) if a.role == "lead"]


def task_supervisor(task: Task) -> Supervisor | None:
    """The task's supervisor as its lead unit's item is escalated (domain.lifecycle)."""
    lead = next((a.unit.supervisor for a in lead_assignments(task) if a.unit.supervisor), None)
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
    plan = plan_or_none(session)
    if plan is None:
        return TaskList(None, (), Choices((), ()))
    options = choices(session, plan)
    unit = find_unit(session, filters.unit) if filters.unit else None
    if filters.unit and unit is None:
        return TaskList(plan, (), options, unknown_unit=True)
    lights = assignment_lights(session, plan, rules)
    tasks = plan_tasks(session, plan)
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
    active = active_assignments(task)
    leads = lead_assignments(task)
    if unit is not None:
        mine = [a for a in active if a.unit_id == unit.id]
        if not mine:
            return None
        shown = preferred(mine)
        light = item_light(shown, lights) if shown else "green"
    else:
        shown = leads[0] if leads else (active[0] if active else None)
        light = worst(item_light(a, lights) for a in active)
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


def task_details(session: Session, plan: Plan, number: str) -> dict[str, Any]:
    """`duban tasks show`: the task as stored, with what the dashboard shows of it — the
    supervisor its items are escalated to and each unit's deadline (an approved
    extension's, when there is one)."""
    shown = show_task(session, plan, number)
    task = session.scalars(
        select(Task)
        .where(Task.plan_id == plan.id, Task.number == shown["number"])
        .options(
            selectinload(Task.assignments)
            .selectinload(Assignment.unit)
            .selectinload(Unit.supervisor),
            selectinload(Task.supervisor),
        )
    ).one()
    supervisor = task_supervisor(task)
    deadlines = {a.unit.name: deadline_of(a, task, plan).isoformat() for a in task.assignments}
    return {
        **shown,
        "supervisor": supervisor.name if supervisor else None,
        "effective_deadline": deadline_of(None, task, plan).isoformat(),
        "assignments": [
            {**row, "deadline": deadlines[row["unit"]]} for row in shown["assignments"]
        ],
    }
