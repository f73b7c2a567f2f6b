"""The accountability ledger (问责): cases raised by rules, with their evidence, that the
office confirms or dismisses.

Two rules, set in `schedules/ranking.toml` `[accountability]`:

- red_periods: a unit red in the ranking of each of the last N ended periods (`period`,
  months by default) → one entry keyed `red:{unit id}:{last period}`. Its evidence is each
  period's score, rank, light and metrics, from `compute_ranking` (reproducible from the
  audit trail). Runs do not overlap: an entry for one of the N-1 periods before the last
  blocks a new one, so a unit red for six months running gets two entries, not four. Each
  ended period is looked at once (the once key `accountability:red:{period}`): a ranking
  of a past period never changes.
- overdue: an open deadline or milestone more than N working days past its due date, of an
  assignment neither closed, withdrawn nor awaiting closure, in an active task → one entry
  keyed `overdue:{assignment id}:{due point id}`. Its evidence is the due point, the
  reminders sent for it (notification rows) and the audit events of the assignment and
  the due point.

An entry is raised once: the ledger's unique key and INSERT … ON CONFLICT DO NOTHING make
a second run, or a second daemon on the same PostgreSQL, insert nothing. Each new entry is
recorded (`accountability.raised`); the office's decision too
(`accountability.confirmed` / `accountability.dismissed`, with the note). Only open entries
can be decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.delivery.render import shorten
from bot.domain.lifecycle import PAUSED
from bot.domain.periods import Period, last_ended
from bot.present.labels import due_what
from bot.store import once
from bot.store.audit import record_many
from bot.store.database import insert_ignoring_duplicates
from bot.store.models import (
    AccountabilityEntry,
    Assignment,
    AuditEvent,
    DuePoint,
    Notification,
    Plan,
    Task,
    Unit,
)
from bot.supervise.ranking import RankedUnit
from bot.supervise.ranking_flow import RankingSetup, compute_ranking

RED, OVERDUE = "red_periods", "overdue"
RULE_NAMES = {RED: "连续亮红灯", OVERDUE: "逾期未办"}
STATES = ("open", "confirmed", "dismissed")
RAISED = "accountability.raised"
KEY_CHUNK = 500
T = TypeVar("T")


# --- raising ------------------------------------------------------------------------------


def raise_entries(
    session: Session, setup: RankingSetup, now: datetime
) -> list[AccountabilityEntry]:
    """The daemon's job: applies both rules at `now`; returns the entries raised this time.

    Safe to run every few minutes and on several daemons (see the module docstring)."""
    today = now.astimezone(setup.tz).date()
    rows = _red_rows(session, setup, today, now) + _overdue_rows(session, setup, today, now)
    return _insert(session, rows, now)


def _red_rows(
    session: Session, setup: RankingSetup, today: date, now: datetime
) -> list[dict[str, Any]]:
    rule = setup.config.accountability
    last = last_ended(rule.period, today)
    first_plan = session.scalar(select(func.min(Plan.created_at)))
    if first_plan is None or last.bounds(setup.tz)[1] <= first_plan:
        return []  # nothing existed yet in that period
    if not once.take(session, [f"accountability:red:{last.label}"], now):
        return []  # this period was looked at before, here or by another daemon
    periods = [last]
    while len(periods) < rule.red_periods:
        periods.insert(0, periods[0].previous())
    rankings = [{row.unit: row for row in compute_ranking(session, p, setup)} for p in periods]
    red = set.intersection(
        *({unit for unit, row in ranked.items() if row.light == "red"} for ranked in rankings)
    )
    if not red:
        return []
    ids: dict[str, int] = dict(
        session.execute(select(Unit.name, Unit.id).where(Unit.name.in_(sorted(red)))).all()
    )
    blocking = {f"red:{ids[u]}:{p.label}": ids[u] for u in ids for p in periods[:-1]}
    blocked = {blocking[key] for key in _existing(session, list(blocking))}
    return [
        _red_row(ids[unit], periods, [ranked[unit] for ranked in rankings], rankings, now)
        for unit in sorted(ids)
        if ids[unit] not in blocked
    ]


def _red_row(
    unit_id: int,
    periods: Sequence[Period],
    rows: Sequence[RankedUnit],
    rankings: Sequence[dict[str, RankedUnit]],
    now: datetime,
) -> dict[str, Any]:
    first, last = periods[0], periods[-1]
    span = last.label if first == last else f"{first.label}至{last.label}"
    evidence = [
        {
            "type": "ranking",
            "period": period.label,
            "score": row.score,
            "rank": row.rank,
            "ranked": len(ranked),
            "light": row.light,
            "metrics": row.metrics.as_json(),
        }
        for period, row, ranked in zip(periods, rows, rankings, strict=True)
    ]
    return _row(
        key=f"red:{unit_id}:{last.label}",
        unit_id=unit_id,
        rule=RED,
        period=last.label,
        assignment_id=None,
        summary=f"连续{len(periods)}期排名亮红灯（{span}）",
        evidence=evidence,
        now=now,
    )


def _overdue_rows(
    session: Session, setup: RankingSetup, today: date, now: datetime
) -> list[dict[str, Any]]:
    limit = setup.config.accountability.overdue_working_days
    # More than `limit` working days needs more than `limit` days: an indexed range first.
    latest = today - timedelta(days=limit + 1)
    query = (
        select(
            DuePoint.id,
            DuePoint.key,
            DuePoint.kind,
            DuePoint.name,
            DuePoint.due_date,
            Assignment.id,
            Assignment.unit_id,
            Task.number,
            Task.text,
        )
        .join(Assignment, DuePoint.assignment_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .where(
            DuePoint.state == "open",
            DuePoint.kind.in_(("deadline", "milestone")),
            DuePoint.due_date <= latest,
            Assignment.status.notin_(sorted(PAUSED)),
            Task.state == "active",
        )
        .order_by(DuePoint.due_date, DuePoint.id)
    )
    found: dict[str, _Overdue] = {}
    for row in session.execute(query):
        item = _Overdue(*row, days=setup.calendar.working_days_between(row[4], today))
        if item.days > limit:
            found[item.entry_key] = item
    for key in _existing(session, list(found)):
        del found[key]
    if not found:
        return []
    evidence = _overdue_evidence(session, list(found.values()), now)
    return [
        _row(
            key=key,
            unit_id=item.unit_id,
            rule=OVERDUE,
            period=None,
            assignment_id=item.assignment_id,
            summary=item.summary(),
            evidence=[item.point_evidence(today), *evidence[item.point_id]],
            now=now,
        )
        for key, item in found.items()
    ]


@dataclass(frozen=True)
class _Overdue:
    """One open deadline or milestone past the limit."""

    point_id: int
    point_key: str
    kind: str
    name: str | None
    due: date
    assignment_id: int
    unit_id: int
    task: str
    text: str
    days: int

    @property
    def entry_key(self) -> str:
        return f"overdue:{self.assignment_id}:{self.point_id}"

    def summary(self) -> str:
        what = due_what(self.kind, self.name)
        due = f"{self.due.month}月{self.due.day}日"
        task = f"第{self.task}项「{shorten(self.text, 30)}」"
        return f"{task}{what}时限 {due}，逾期 {self.days} 个工作日"

    def point_evidence(self, today: date) -> dict[str, Any]:
        return {
            "type": "due_point",
            "id": self.point_id,
            "key": self.point_key,
            "kind": self.kind,
            "name": self.name,
            "due_date": self.due.isoformat(),
            "working_days_overdue": self.days,
            "as_of": today.isoformat(),
        }


def _overdue_evidence(
    session: Session, items: list[_Overdue], now: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Per due point: the reminders sent for it, then the audit events of its assignment and
    of the due point itself, oldest first."""
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    points = {item.point_id: item for item in items}
    for chunk in _chunks(sorted(points)):
        notes = select(Notification).where(Notification.due_point_id.in_(chunk))
        for note in session.scalars(notes.order_by(Notification.created_at, Notification.id)):
            evidence[note.due_point_id].append(
                {
                    "type": "notification",
                    "id": note.id,
                    "level": note.level,
                    "repeat": note.repeat,
                    "recipient": note.recipient_kind,
                    "message_id": note.message_id,
                    "at": note.created_at.isoformat(),
                }
            )
    by_assignment: dict[int, list[int]] = defaultdict(list)
    for item in items:
        by_assignment[item.assignment_id].append(item.point_id)
    for chunk in _chunks(sorted(points)):
        assignments = sorted({points[p].assignment_id for p in chunk})
        events = (
            select(AuditEvent)
            .where(
                AuditEvent.at <= now,
                or_(
                    and_(
                        AuditEvent.subject_type == "assignment",
                        AuditEvent.subject_id.in_(assignments),
                    ),
                    and_(AuditEvent.subject_type == "due_point", AuditEvent.subject_id.in_(chunk)),
                ),
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        for event in session.scalars(events):
            shown = {
                "type": "audit_event",
                "id": event.id,
                "action": event.action,
                "at": event.at.isoformat(),
                "actor": event.actor,
            }
            if event.subject_type == "due_point":
                if event.subject_id in points:
                    evidence[event.subject_id].append(shown)
            else:
                for point_id in by_assignment.get(event.subject_id or 0, []):
                    if point_id in chunk:
                        evidence[point_id].append(shown)
    return evidence


def _row(
    *,
    key: str,
    unit_id: int,
    rule: str,
    period: str | None,
    assignment_id: int | None,
    summary: str,
    evidence: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    return {
        "key": key,
        "unit_id": unit_id,
        "rule": rule,
        "period": period,
        "assignment_id": assignment_id,
        "summary": summary,
        "evidence": evidence,
        "state": "open",
        "note": None,
        "created_at": now,
        "decided_at": None,
        "decided_by": None,
    }


def _insert(
    session: Session, rows: list[dict[str, Any]], now: datetime
) -> list[AccountabilityEntry]:
    """Inserts the rows whose key is new; the others (another daemon's) are left alone."""
    ids = insert_ignoring_duplicates(session, AccountabilityEntry, rows, returning="id")
    if not ids:
        return []
    entries = list(
        session.scalars(
            select(AccountabilityEntry)
            .where(AccountabilityEntry.id.in_(ids))
            .options(selectinload(AccountabilityEntry.unit))
            .order_by(AccountabilityEntry.id)
        )
    )
    record_many(
        session,
        now,
        "scheduler",
        RAISED,
        "accountability",
        [
            (
                e.id,
                {"key": e.key, "rule": e.rule, "unit": e.unit.name, "summary": e.summary},
            )
            for e in entries
        ],
        channel="scheduler",
    )
    return entries


def _existing(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys):
        query = select(AccountabilityEntry.key).where(AccountabilityEntry.key.in_(chunk))
        found.update(session.scalars(query))
    return found


def _chunks(values: list[T]) -> Iterable[list[T]]:
    """Databases cap the parameters of one query."""
    for start in range(0, len(values), KEY_CHUNK):
        yield values[start : start + KEY_CHUNK]
