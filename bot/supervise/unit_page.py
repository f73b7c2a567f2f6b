"""A unit's page on the dashboard: its assignments, its monthly ranks and its recent
replies. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.domain.lifecycle import Status
from bot.domain.periods import Period, period_of
from bot.domain.rules import Rules
from bot.present.labels import REPLY_ACTIONS
from bot.store.models import Assignment, AuditEvent, Plan, Task, Unit
from bot.supervise.board import AssignmentRow, assignment_lights, assignment_row, default_period
from bot.supervise.ranking import RankedUnit
from bot.supervise.ranking_flow import RankingSetup, ranking_series
from bot.supervise.task_list import find_unit, plan_or_none

HISTORY_PERIODS = 12  # months of ranking history a unit's page shows
RECENT_REPLIES = 20


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
    assignments: tuple[AssignmentRow, ...]
    history: tuple[HistoryRow, ...]
    replies: tuple[UnitReply, ...]


def unit_page(
    session: Session, rules: Rules, setup: RankingSetup | None, name: str, now: datetime
) -> UnitPage | None:
    unit = find_unit(session, name)
    if unit is None:
        return None
    plan = plan_or_none(session)
    rows: list[AssignmentRow] = []
    if plan is not None:
        lights = assignment_lights(session, plan, rules, unit.id)
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
        rows = [assignment_row(a, a.task, unit.name, plan, lights) for a in assignments]
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
    last = default_period(session, setup, now)
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
