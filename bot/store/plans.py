"""Plans as the office manages them: list, archive (no more reminders, history kept) and
remove (everything the plan brought, for a mistaken import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from bot.app.errors import DubanError, NotFoundError
from bot.store.audit import record
from bot.store.models import Assignment, DuePoint, Plan, Task

ACTIVE, ARCHIVED, SAMPLE = "active", "archived", "sample"
PLAN_STATES = {ACTIVE: "进行中", ARCHIVED: "已归档", SAMPLE: "示例"}


@dataclass(frozen=True)
class PlanRow:
    id: int
    year: int | None
    title: str
    tasks: int
    assignments: int
    state: str
    source: str
    imported_at: datetime
    archived_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "year": self.year,
            "title": self.title,
            "tasks": self.tasks,
            "assignments": self.assignments,
            "state": self.state,
            "source": self.source,
            "imported_at": self.imported_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
        }


def plan_name(plan: Plan) -> str:
    """How a listing or an answer names a plan: 「计划2《2027年重点工作任务》」."""
    return f"计划{plan.id}《{plan.title or plan.source}》"


def state_of(plan: Plan) -> str:
    if plan.archived_at is not None:
        return ARCHIVED
    return SAMPLE if plan.sample else ACTIVE


def active_plans(session: Session) -> list[Plan]:
    """Plans that remind and take replies, newest (latest year, then latest import) first."""
    query = (
        select(Plan)
        .where(Plan.archived_at.is_(None))
        .order_by(Plan.year.desc().nulls_last(), Plan.id.desc())
    )
    return list(session.scalars(query))


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        known = session.scalars(select(Plan.id).order_by(Plan.id)).all()
        have = f"现有计划：{'、'.join(map(str, known))}" if known else "数据库中还没有计划"
        raise NotFoundError(f"没有编号为 {plan_id} 的计划（{have}；`duban plans` 列出全部）")
    return plan


def list_plans(session: Session) -> list[PlanRow]:
    counted = select(Task.plan_id, func.count()).group_by(Task.plan_id)
    tasks: dict[int, int] = {plan: n for plan, n in session.execute(counted)}
    joined = counted.join(Assignment, Assignment.task_id == Task.id)
    assignments: dict[int, int] = {plan: n for plan, n in session.execute(joined)}
    return [
        PlanRow(
            plan.id,
            plan.year,
            plan.title or plan.source,
            tasks.get(plan.id, 0),
            assignments.get(plan.id, 0),
            state_of(plan),
            plan.source,
            plan.created_at,
            plan.archived_at,
        )
        for plan in session.scalars(select(Plan).order_by(Plan.id))
    ]


def archive_plan(session: Session, plan_id: int, now: datetime, actor: str) -> Plan:
    """Stops the plan's reminders (its due points get no next action, its assignments are
    not scheduled) and keeps all
    its history; replies and rankings no longer reach it."""
    plan = get_plan(session, plan_id)
    if plan.archived_at is not None:
        raise DubanError(f"{plan_name(plan)} 已于 {plan.archived_at:%Y-%m-%d} 归档")
    plan.archived_at = now
    session.execute(
        update(Assignment)
        .where(Assignment.id.in_(_assignment_ids(plan.id)))
        .values(needs_schedule=False)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(DuePoint)
        .where(DuePoint.assignment_id.in_(_assignment_ids(plan.id)))
        .values(next_action_at=None)
        .execution_options(synchronize_session=False)
    )
    record(session, now, actor, "plan.archived", "plan", plan.id, {"title": plan.title})
    return plan


def remove_plan(session: Session, plan_id: int, now: datetime, actor: str) -> PlanRow:
    """Deletes the plan with its tasks, assignments, due points and notifications (the
    database cascades); the audit log keeps a line that it was removed."""
    row = next(r for r in list_plans(session) if r.id == get_plan(session, plan_id).id)
    session.execute(delete(Plan).where(Plan.id == plan_id))
    detail = {"title": row.title, "tasks": row.tasks, "source": row.source}
    record(session, now, actor, "plan.removed", "plan", plan_id, detail)
    return row


def _assignment_ids(plan_id: int) -> Select[int]:
    return (
        select(Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .where(Task.plan_id == plan_id)
    )
