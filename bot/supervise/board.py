"""What the dashboard shows, read from the database: the 晾晒 board, the task list with its
filters, a task's page with its timeline, a unit's page. Read-only: nothing here writes.

An item's light (an assignment's) is the ladder's: the most severe `light` of the reminder
levels already reached on its due points that are still open (督办 yellow, 通报 red by
default), else green. A task's light is the worst of its assignments'. The board's light
is the unit's light in the ranking (bot/supervise/ranking.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.lifecycle import ENDED
from bot.domain.periods import Period, period_of
from bot.domain.rules import Rules
from bot.engine.schedule import deadline_of
from bot.present.labels import worst_light
from bot.store.models import Assignment, DuePoint, Message, Notification, Plan, Task
from bot.supervise.ranking import RankedUnit
from bot.supervise.ranking_flow import RankingSetup, compute_ranking, published_at

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


def default_period(session: Session, setup: RankingSetup, now: datetime) -> Period:
    """The board's period unless one is asked for: the month that ended last by the
    board's clock."""
    return _last_month(setup, board_clock(session, setup, now))


def board_clock(session: Session, setup: RankingSetup, now: datetime) -> datetime:
    """`now`, or — for a database whose last message went out before the month that ended
    last (the demo's simulated 2020, a past year's plan) — the end of that message's
    month: the board opens on the year the database holds, not on the empty months since."""
    last = session.scalar(select(func.max(Message.sent_at)))
    if last is None or last >= _last_month(setup, now).bounds(setup.tz)[0]:
        return now
    return period_of(last.astimezone(setup.tz).date(), "month").bounds(setup.tz)[1]


def _last_month(setup: RankingSetup, now: datetime) -> Period:
    return period_of(now.astimezone(setup.tz).date(), "month").previous()


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


def assignment_lights(
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


def item_light(assignment: Assignment, lights: dict[int, str]) -> str:
    if assignment.status in ENDED:
        return "green"
    return lights.get(assignment.id, "green")


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment as a task's page and a unit's page list it."""

    number: str
    text: str
    unit: str
    role: str
    co_lead: bool
    status: str
    progress: int
    light: str
    deadline: date | None
    last_report_at: datetime | None


def assignment_row(
    assignment: Assignment, task: Task, unit: str, plan: Plan, lights: dict[int, str]
) -> AssignmentRow:
    a = assignment
    return AssignmentRow(
        number=task.number,
        text=task.text,
        unit=unit,
        role=a.role,
        co_lead=a.co_lead,
        status=a.status,
        progress=a.progress,
        light=item_light(a, lights),
        deadline=deadline_of(a, task, plan),
        last_report_at=a.last_report_at,
    )
