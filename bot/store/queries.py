"""Read-only views of plans, tasks and units, shaped for the CLI's tables and JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.app.errors import NotFoundError
from bot.domain.lifecycle import Status
from bot.store.models import (
    Assignment,
    CollectiveMember,
    DuePoint,
    Plan,
    Task,
    Unit,
    UnitAlias,
)
from bot.store.plans import active_plans, get_plan


def current_plan(session: Session, plan_id: int | None = None) -> Plan:
    """The plan asked for, else the newest active one (latest year, then latest import)."""
    if plan_id is not None:
        return get_plan(session, plan_id)
    active = active_plans(session)
    if active:
        return active[0]
    if session.scalar(select(func.count()).select_from(Plan)):
        raise NotFoundError("所有计划均已归档：请导入新的计划，或用 --plan 编号 查看已归档的计划")
    raise NotFoundError("数据库中还没有计划：请先运行 `duban import 文件`")


def list_tasks(
    session: Session, plan: Plan, unit: str | None = None, hint: str = ""
) -> list[dict[str, Any]]:
    """Active tasks of the plan; with `unit`, only those the unit (or an alias) works on
    (`hint`: what to suggest when there is no such unit)."""
    query = (
        select(Task)
        .where(Task.plan_id == plan.id, Task.state == "active")
        .options(selectinload(Task.assignments).selectinload(Assignment.unit))
        .order_by(Task.seq)
    )
    if unit is not None:
        unit_id = find_unit(session, unit, hint).id
        query = query.where(
            Task.id.in_(select(Assignment.task_id).where(Assignment.unit_id == unit_id))
        )
    return [_task_row(task) for task in session.scalars(query)]


def _task_row(task: Task) -> dict[str, Any]:
    return {
        "number": task.number,
        "text": task.text,
        "section": task.section,
        "lead": task.responsibility.get("lead"),
        "co_units": task.responsibility.get("co_units", []),
        "deadline": task.deadline.isoformat() if task.deadline else None,
        "assignments": sum(1 for a in task.assignments if a.status != Status.WITHDRAWN),
    }


def show_task(session: Session, plan: Plan, number: str) -> dict[str, Any]:
    task = session.scalar(
        select(Task)
        .where(Task.plan_id == plan.id, Task.number == number.lstrip("#＃"))
        .options(selectinload(Task.assignments).selectinload(Assignment.unit))
    )
    if task is None:
        raise NotFoundError(f"计划「{plan.title or plan.key}」中没有任务 {number}")
    return {
        **_task_row(task),
        "state": task.state,
        "supervisor": task.supervisor.name if task.supervisor else None,
        # The deadline written in the task, else the plan's default (the year end).
        "effective_deadline": due.isoformat()
        if (due := task.deadline or plan.default_deadline)
        else None,
        "indicators": task.indicators,
        "notes": task.notes,
        "assignments": [
            {"unit": a.unit.name, "role": a.role, "status": a.status, "progress": a.progress}
            for a in task.assignments
        ],
    }


def find_unit(session: Session, name: str, hint: str = "") -> Unit:
    """The unit named `name` or by that alias; NotFoundError says so, with `hint` (the
    directory's 「您是否要找：…」) when given."""
    unit = session.scalar(select(Unit).where(Unit.name == name))
    if unit is None:
        unit = session.scalar(select(Unit).join(UnitAlias).where(UnitAlias.alias == name))
    if unit is None:
        hint = f"；{hint}" if hint else ""
        raise NotFoundError(f"没有名为「{name}」的单位{hint}（可用 `duban units` 查看）")
    return unit


def list_units(session: Session) -> list[dict[str, Any]]:
    units = session.scalars(select(Unit).options(selectinload(Unit.aliases)).order_by(Unit.id))
    names = {u.id: u.name for u in session.scalars(select(Unit))}
    members: dict[int, list[str]] = {}
    for row in session.scalars(select(CollectiveMember)):
        members.setdefault(row.collective_id, []).append(names[row.member_id])
    return [
        {
            "name": u.name,
            "aliases": [a.alias for a in u.aliases],
            "collective": u.collective,
            "members": members.get(u.id, []),
        }
        for u in units
    ]


def summary(session: Session) -> dict[str, int]:
    def count(model: type[Any]) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return {
        "plans": count(Plan),
        "tasks": count(Task),
        "units": count(Unit),
        "assignments": count(Assignment),
    }


@dataclass(frozen=True)
class NextReminder:
    at: datetime
    units: list[str]  # the units whose items are then due for a step, by name


def next_reminder(session: Session) -> NextReminder | None:
    """When the sweep next has a step to take, and whose items it concerns; None when no
    due point waits (no plan, or every item settled)."""
    first = session.scalar(select(func.min(DuePoint.next_action_at)))
    if first is None:
        return None
    names = (
        select(Unit.name)
        .join(Assignment, Assignment.unit_id == Unit.id)
        .join(DuePoint, DuePoint.assignment_id == Assignment.id)
        .where(DuePoint.next_action_at == first)
        .distinct()
        .order_by(Unit.name)
    )
    return NextReminder(first, list(session.scalars(names)))
