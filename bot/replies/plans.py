"""Which plan a reply is about: a task number resolves within the active plans where the
sender works on it; where two plans both have it, duban asks back instead of guessing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.errors import NotFoundError
from bot.replies.keywords import Command
from bot.store.models import Assignment, Plan, Task
from bot.store.plans import active_plans, plan_name

NO_SUCH_PLAN = "没有进行中的计划{plan}。进行中的计划：{known}。"
AMBIGUOUS = "第{task}项见于多个计划：{known}。请注明计划，例如「{example}」。"


def choose_plan(
    session: Session,
    command: Command,
    unit_ids: Sequence[int] | None,
    active: Sequence[Plan] | None = None,
) -> Plan | str:
    """The plan `command` is about, or the question to send back. `unit_ids`: the units a
    unit sender acts for (only plans where they work on the task count), None for the
    office and supervisors; `active`: the active plans, when already read. NotFoundError
    when no plan is active."""
    active = active_plans(session) if active is None else active
    if not active:
        raise NotFoundError("no active plan")
    known = "、".join(plan_name(p) for p in active)
    if command.plan is not None:
        chosen = next((p for p in active if p.id == command.plan), None)
        return chosen or NO_SUCH_PLAN.format(plan=command.plan, known=known)
    if command.task is None or len(active) == 1:
        return active[0]
    query = (
        select(Task.plan_id)
        .distinct()
        .where(
            Task.plan_id.in_([p.id for p in active]),
            Task.number == command.task,
            Task.state == "active",
        )
    )
    if unit_ids is not None:
        query = query.join(Assignment, Assignment.task_id == Task.id).where(
            Assignment.unit_id.in_(unit_ids)
        )
    having = set(session.scalars(query))
    matches = [p for p in active if p.id in having]
    if len(matches) <= 1:
        return matches[0] if matches else active[0]
    example = f"{command.kind.value} #{command.task} 计划{matches[0].id}"
    names = "、".join(plan_name(p) for p in matches)
    return AMBIGUOUS.format(task=command.task, known=names, example=example)
