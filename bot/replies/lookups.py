"""What every reply looks up, looked up once a transaction: the active plans, each task
asked about, with its assignments, and whose report cycles are settled. A batch of replies
(bot/web/context.py) shares one `Lookups` (a batch redone with a savepoint an event does
not: a rolled-back event would leave it wrong); a reply on its own gets a new one. Replies
never add, archive or re-plan these, nor open a due point, so within a transaction what
was read stays what a new query would return (the session's own objects, with the batch's
changes on them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.store.models import Plan, Task
from bot.store.plans import active_plans


@dataclass
class Lookups:
    _plans: list[Plan] | None = None
    _tasks: dict[tuple[int, str | None], Task | None] = field(default_factory=dict)
    _settled: set[tuple[int, date]] = field(default_factory=set)

    def plans(self, session: Session) -> list[Plan]:
        """The active plans, newest first (`active_plans`)."""
        if self._plans is None:
            self._plans = active_plans(session)
        return self._plans

    def task(self, session: Session, plan: Plan, number: str | None) -> Task | None:
        """The plan's active task numbered `number`, its assignments loaded."""
        key = (plan.id, number)
        if key not in self._tasks:
            self._tasks[key] = session.scalar(
                select(Task)
                .where(Task.plan_id == plan.id, Task.number == number, Task.state == "active")
                .options(selectinload(Task.assignments))
            )
        return self._tasks[key]

    def first_settling(self, assignment_id: int, today: date) -> bool:
        """Whether the assignment's report cycles before `today` are still to be settled
        here: once they are, none is open any more in this transaction."""
        key = (assignment_id, today)
        if key in self._settled:
            return False
        self._settled.add(key)
        return True
