"""The ranking flow (晾晒): computes a period's ranking from the audit trail, and posts it.

A period's ranking reads the audit events dated before the period's end, and facts that
never change once written: unit names, plans, which task and unit an assignment belongs to
and when it was created, and each report or milestone due point's dates (due, window start,
when its reminders end) and creation time — the due points are not in the audit trail, so
only those created before a period's end take part in it. What changes
over time — an assignment's status, progress, role and deadline, a task's deadline and
state — is replayed from the events up to the moment that matters, never read from the
current rows. So whatever happens later, `duban rank --period 2020-11` gives the same
answer (the one exception, the role and task deadline an assignment started with, is
read from the *first* change event of either, which later events cannot alter).

Events replayed (see bot/replies/apply.py and bot/intake/store.py):
  reply.progress (percent; a report)   reply.complete (closure requested; a report)
  reply.extend   approve.close (closes every assignment of the task)   approve.return
  approve.extension (date: the new deadline)   reject.extension
  assignment.status (from/to)   assignment.role_changed (from/to)
  task.removed   task.changed (changes.deadline, changes.state)

Publishing writes one outbox message (split in numbered parts only when too long for the
channel) and the audit event `ranking.published`; with `require_approval` the daemon first
sends the office a preview (`ranking.previewed`) and `duban rank publish` posts it.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app.config import Settings
from bot.app.errors import ConfigError, DubanError
from bot.delivery.compose import Composer, Recipient
from bot.delivery.render import render
from bot.domain.calendar import WorkCalendar, load_overrides
from bot.domain.ladder import adjust_due
from bot.domain.lifecycle import DONE, PAUSED, REPORTS, Event, Status, after, effective_deadline
from bot.domain.rules import load_rules
from bot.engine.schedule import plan_start
from bot.platforms.formats import MessageFormat
from bot.store.audit import record
from bot.store.models import Assignment, AuditEvent, DuePoint, Message, Plan, Task, Unit
from bot.supervise.ranking import (
    Period,
    RankedUnit,
    RankingConfig,
    UnitMetrics,
    expected_progress,
    last_ended,
    load_ranking_config,
    message_rows,
    rank_units,
    ranks_by_unit,
    score_text,
)

ASSIGNMENT_EVENTS = frozenset(
    {
        "reply.progress",
        "reply.complete",
        "reply.extend",
        "approve.close",
        "approve.return",
        "approve.extension",
        "reject.extension",
        "assignment.status",
        "assignment.role_changed",
    }
)
TASK_EVENTS = frozenset({"task.removed", "task.changed"})
PUBLISHED, PREVIEWED, SKIPPED = "ranking.published", "ranking.previewed", "ranking.skipped"
PUBLIC = "晾晒"
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


# --- setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingSetup:
    """What computing and posting a ranking needs besides the database."""

    config: RankingConfig
    tz: ZoneInfo  # the periods' time zone (the plan setting)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    non_working_day: str = "next"  # where a deadline on a day off moves ([due] in the rules)
    composer: Composer = field(default_factory=Composer)

    @property
    def channel(self) -> str:
        """The public group channel the ranking is posted to."""
        return self.composer.formats.channel_name(self.config.channel or None)


def ranking_file(settings: Settings) -> Path:
    return settings.schedules.ranking


def ranking_setup(settings: Settings, composer: Composer, path: Path | None = None) -> RankingSetup:
    """Loads schedules/ranking.toml (and the rules' due policy, the calendar) from settings;
    `composer` queues the posts and previews."""
    source = path or ranking_file(settings)
    config = load_ranking_config(source)
    if config.channel and config.channel not in settings.channels:
        problem = f"no [channels.{config.channel}] is configured"
        raise ConfigError(f"{source}: channel", problem)
    return RankingSetup(
        config=config,
        tz=ZoneInfo(settings.plan.timezone),
        calendar=WorkCalendar(load_overrides(settings.schedules.calendar)),
        non_working_day=load_rules(settings.schedules.rules).non_working_day,
        composer=composer,
    )


# --- the history: what was true when -----------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    tz: ZoneInfo
    start: date
    default_deadline: date | None


@dataclass(frozen=True)
class _Event:
    at: datetime
    action: str
    subject_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class _Point:
    kind: str  # report | milestone
    due_date: date
    window_start: date
    created_at: datetime
    superseded_at: datetime | None  # when a report cycle is over (the next one's reminders)


@dataclass(frozen=True)
class _Snapshot:
    """An assignment's changeable state from one moment to the next change."""

    status: str
    progress: int
    role: str
    deadline: date  # the effective one: an approved extension, the task's, the plan's
    task_active: bool


@dataclass
class _Replay:
    status: str
    progress: int
    role: str
    extended: date | None
    task_deadline: date | None
    task_active: bool

    def apply(self, event: _Event) -> None:
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

    def snapshot(self, plan: _Plan) -> _Snapshot:
        deadline = effective_deadline(
            self.extended, self.task_deadline, plan.default_deadline, plan.start.year
        )
        return _Snapshot(self.status, self.progress, self.role, deadline, self.task_active)


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass
class _Timeline:
    """One assignment: its static facts, its states over time, its reports and due points."""

    id: int
    unit: str
    created_at: datetime
    plan: _Plan
    times: list[datetime] = field(default_factory=list)
    states: list[_Snapshot] = field(default_factory=list)
    reports: list[datetime] = field(default_factory=list)
    points: list[_Point] = field(default_factory=list)

    def state_before(self, moment: datetime) -> _Snapshot:
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
    timelines: list[_Timeline]
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
            plan.id: _Plan(ZoneInfo(plan.timezone), plan_start(plan), plan.default_deadline)
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
        timelines: dict[int, _Timeline] = {}
        replays: dict[int, _Replay] = {}
        by_task: dict[int, list[int]] = defaultdict(list)
        task_of: dict[int, int] = {}
        for aid, task_id, role, created_at, unit, plan_id, task_deadline in rows:
            plan = plans[plan_id]
            timelines[aid] = _Timeline(aid, unit, created_at, plan)
            replays[aid] = _Replay(
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

    def _reports(self, timeline: _Timeline, period: Period, end: datetime) -> tuple[int, int]:
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

    def _overdue(self, timeline: _Timeline, start: datetime, end: datetime) -> bool:
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

    def _on_track(self, timeline: _Timeline, state: _Snapshot, period: Period) -> bool:
        """Done (closure requested or confirmed), or at or ahead of the progress expected at
        the period's end for work spread evenly from the start to the deadline."""
        if state.status in DONE:
            return True
        begun = max(timeline.plan.start, timeline.created_day())
        return state.progress >= expected_progress(begun, state.deadline, period.end)


def _local_day(moment: datetime, timeline: _Timeline) -> date:
    return moment.astimezone(timeline.plan.tz).date()


def _settlements(timeline: _Timeline, end: datetime) -> dict[int, datetime]:
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


def _events(session: Session, until: datetime) -> Iterable[_Event]:
    query = (
        select(AuditEvent.at, AuditEvent.action, AuditEvent.subject_id, AuditEvent.detail)
        .where(
            AuditEvent.action.in_(sorted(ASSIGNMENT_EVENTS | TASK_EVENTS)),
            AuditEvent.at < until,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for at, action, subject_id, detail in session.execute(query):
        yield _Event(at, action, subject_id, detail or {})


def _concerned(
    event: _Event,
    by_task: dict[int, list[int]],
    task_of: dict[int, int],
    timelines: dict[int, _Timeline],
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


def _points(session: Session, until: datetime) -> Iterable[tuple[int, _Point]]:
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
        yield aid, _Point(kind, due_date, window_start, created_at, superseded_at)


# --- computing ----------------------------------------------------------------------------


def ensure_ended(period: Period, tz: ZoneInfo, now: datetime) -> None:
    """A ranking is final only once its period is over; before that it is refused."""
    end = period.bounds(tz)[1]
    if now < end:
        shown = end.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise DubanError(f"期间 {period.label} 尚未结束（{shown} 结束），结束后才能排名")


def compute_ranking(session: Session, period: Period, setup: RankingSetup) -> list[RankedUnit]:
    """The ranking of `period`, best first, with trends against the period before it."""
    end = period.bounds(setup.tz)[1]
    history = History.load(session, end, setup.calendar, setup.non_working_day)
    weights, lights = setup.config.weights, setup.config.lights
    before = rank_units(history.metrics(period.previous(), setup.tz), weights, lights)
    return rank_units(history.metrics(period, setup.tz), weights, lights, ranks_by_unit(before))


# --- publishing ---------------------------------------------------------------------------

Outcome = Literal["published", "already", "previewed", "skipped"]


@dataclass(frozen=True)
class Publication:
    period: Period
    outcome: Outcome
    channel: str | None = None
    message_ids: tuple[int, ...] = ()
    rows: tuple[RankedUnit, ...] = ()
    at: datetime | None = None  # when it was published (for "already")


def publish_ranking(
    session: Session,
    period: Period,
    setup: RankingSetup,
    now: datetime,
    *,
    actor: str = "cli",
    channel: str = "cli",
) -> Publication:
    """Posts `period`'s ranking to the public channel, once: a second call queues nothing
    and says when it was published. Refuses a period not over yet, and one without units."""
    ensure_ended(period, setup.tz, now)
    _lock(session, period)
    done = _recorded(session, period, setup.tz, (PUBLISHED,))
    if PUBLISHED in done:
        at, detail = done[PUBLISHED]
        ids = tuple(int(i) for i in detail.get("message_ids", []))
        return Publication(period, "already", detail.get("channel"), ids, at=at)
    ranked = compute_ranking(session, period, setup)
    if not ranked:
        raise DubanError(f"期间 {period.label} 没有可排名的单位，未发布")
    return _post(session, period, setup, ranked, now, actor=actor, channel=channel)


def publish_due_rankings(session: Session, setup: RankingSetup, now: datetime) -> list[Publication]:
    """The daemon's job: for each configured kind of period, the one that ended last is
    posted (or, with `require_approval`, previewed to the office), once.

    Safe to run every minute and on several daemons: what was posted, previewed or found
    empty is recorded, and the record is checked under a lock before anything is queued.
    """
    today = now.astimezone(setup.tz).date()
    done: list[Publication] = []
    first_plan = session.scalar(select(func.min(Plan.created_at)))
    for kind in setup.config.periods:
        period = last_ended(kind, today)
        if first_plan is None or period.bounds(setup.tz)[1] <= first_plan:
            continue  # nothing existed yet in that period
        if _recorded(session, period, setup.tz, (PUBLISHED, PREVIEWED, SKIPPED)):
            continue
        _lock(session, period)
        if _recorded(session, period, setup.tz, (PUBLISHED, PREVIEWED, SKIPPED)):
            continue
        ranked = compute_ranking(session, period, setup)
        if not ranked:
            record(session, now, "scheduler", SKIPPED, "ranking", None, _detail(period))
            done.append(Publication(period, "skipped"))
        elif setup.config.require_approval:
            done.append(_preview(session, period, setup, ranked, now))
        else:
            done.append(
                _post(session, period, setup, ranked, now, actor="scheduler", channel="scheduler")
            )
    return done


def published_at(session: Session, period: Period, tz: ZoneInfo) -> datetime | None:
    """When `period`'s ranking was published (periods in `tz`), or None."""
    found = _recorded(session, period, tz, (PUBLISHED,))
    return found[PUBLISHED][0] if found else None


def _detail(period: Period) -> dict[str, Any]:
    return {"period": period.label, "kind": period.kind}


def _recorded(
    session: Session, period: Period, tz: ZoneInfo, actions: Sequence[str]
) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The first event of each of `actions` recorded for `period`: (when, detail). They are
    all recorded after the period ended, so only events since then are read."""
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    query = (
        select(AuditEvent.action, AuditEvent.at, AuditEvent.detail)
        .where(
            AuditEvent.at >= period.bounds(tz)[1],
            AuditEvent.subject_type == "ranking",
            AuditEvent.action.in_(list(actions)),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for action, at, detail in session.execute(query):
        if (detail or {}).get("period") == period.label:
            found.setdefault(action, (at, detail))
    return found


def _lock(session: Session, period: Period) -> None:
    """Serializes publishers of one period. PostgreSQL: a transaction-scoped advisory lock.
    SQLite: the write lock the transaction takes (writer sessions take it at BEGIN; a
    deferred one that lost the race fails on its write instead of posting twice)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"duban:ranking:{period.label}".encode()).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], signed=True))))


def _rows_detail(ranked: Sequence[RankedUnit]) -> list[dict[str, Any]]:
    return [
        {"unit": r.unit, "score": r.score, "rank": r.rank, "light": r.light, "trend": r.trend}
        for r in ranked
    ]


def ranking_text(
    period: Period, ranked: Sequence[RankedUnit], setup: RankingSetup, markup: str, **extra: Any
) -> str:
    lights = setup.config.lights
    return render(
        "ranking",
        markup,
        period_label=period.title,
        rows=message_rows(ranked),
        lights={
            "green": score_text(float(lights.green)),
            "yellow": score_text(float(lights.yellow)),
        },
        **extra,
    )


def _queue(
    session: Session,
    setup: RankingSetup,
    recipient: Recipient,
    text: Callable[[MessageFormat], str],
    now: datetime,
) -> list[Message]:
    messages = setup.composer.compose(recipient, "ranking", text, now)
    session.add_all(messages)
    session.flush()
    return messages


def _text_for(
    period: Period,
    ranked: Sequence[RankedUnit],
    setup: RankingSetup,
    shape: MessageFormat,
    *,
    preview: str | None,
) -> str:
    return ranking_text(period, ranked, setup, shape.markup, preview=preview)


def _post(
    session: Session,
    period: Period,
    setup: RankingSetup,
    ranked: Sequence[RankedUnit],
    now: datetime,
    *,
    actor: str,
    channel: str,
) -> Publication:
    target = setup.channel
    public = Recipient("public", None, PUBLIC, target)
    text = partial(_text_for, period, ranked, setup, preview=None)
    messages = _queue(session, setup, public, text, now)
    ids = tuple(m.id for m in messages)
    detail = {
        **_detail(period),
        "channel": target,
        "message_ids": list(ids),
        "rows": _rows_detail(ranked),
    }
    record(session, now, actor, PUBLISHED, "ranking", None, detail, channel=channel)
    return Publication(period, "published", target, ids, tuple(ranked), now)


def _preview(
    session: Session,
    period: Period,
    setup: RankingSetup,
    ranked: Sequence[RankedUnit],
    now: datetime,
) -> Publication:
    office = setup.composer.office_recipient
    target = setup.composer.channel_of(office)
    text = partial(_text_for, period, ranked, setup, preview=period.label)
    messages = _queue(session, setup, office, text, now)
    ids = tuple(m.id for m in messages)
    detail = {
        **_detail(period),
        "channel": target,
        "message_ids": list(ids),
        "rows": _rows_detail(ranked),
    }
    record(session, now, "scheduler", PREVIEWED, "ranking", None, detail, channel="scheduler")
    return Publication(period, "previewed", target, ids, tuple(ranked), now)


def as_json(ranked: Iterable[RankedUnit]) -> list[dict[str, Any]]:
    return [row.as_json() for row in ranked]
