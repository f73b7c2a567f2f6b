"""Exports for the office: the progress table (进展情况表) and the ranking history (晾晒).

Both are built as a `Sheet` (bot/present/sheets.py) and written as xlsx, csv or Markdown.

**The progress table** shows the plan as it stood at the end of the `as_of` day (local to
the plan's time zone), from the audit trail, like the ranking (bot/supervise/ranking_flow.py,
whose replay of the events it reuses):

- one row per task of the plan that existed and was active then, in document order;
- 内容与要求 and 责任单位 as the document said then (re-import changes after that day are
  undone); 责任单位 is 「牵头：A；配合：B、C」 (the document's co-leads count as 牵头);
- 进展情况: each unit's latest report (`reply.progress`, `reply.complete`) up to that day,
  one line per unit that reported, lead first — 「市发改委（60%，10月26日）：已完成项目立项」,
  「市住建局（申请办结，11月4日）：已建成」 — or 「尚未报送」;
- 状态: 已办结 if closure was confirmed, else 申请办结 if it is requested, else 申请延期 if an
  extension is awaiting approval, else 推进中 if any unit reported (or was in progress),
  else 未启动 — over the task's assignments not withdrawn;
- 灯: the worst light of the task's open deadlines and milestones, by the reminder ladder
  (schedules/default.toml): each ladder level with a `light` applies once its day is
  reached by the `as_of` day — by default 督办 (+1 working day after the due day) yellow,
  通报 (+3 working days) red, else green. Deadlines count with approved extensions; an
  assignment whose closure is requested or confirmed has nothing open. Working days come
  from the Chinese calendar (bot/calendar.py).

**The ranking export** lists, for each ended period in a range, the ranking
`compute_ranking` gives for it (the same as `duban rank --period`): period, rank, unit,
score, light, trend and the counts behind the score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.errors import DubanError
from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import adjust_due
from bot.domain.lifecycle import PAUSED, REPORTS, Status, task_status
from bot.domain.rules import Level, Rules
from bot.engine.schedule import plan_start
from bot.present.labels import LIGHT_FILLS, LIGHT_NAMES, LIGHTS, STATUS_NAMES, TREND_NAMES
from bot.present.sheets import Column, Sheet, Value
from bot.store.models import Assignment, AuditEvent, Plan, Task
from bot.supervise.history import History
from bot.supervise.ranking import (
    PERIOD_KINDS,
    Period,
    PeriodKind,
    RankedUnit,
    last_ended,
    parse_period,
    period_of,
)
from bot.supervise.ranking_flow import RankingSetup, compute_ranking, ensure_ended

KIND_NAMES = {"month": "按月", "week": "按周"}
NOT_REPORTED = "尚未报送"


def parse_day(text: str, option: str = "--as-of") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DubanError(f"{option}「{text}」不是有效日期，请用 2020-10-31 的格式") from None


# --- the progress table -------------------------------------------------------------------


@dataclass(frozen=True)
class UnitReport:
    """A unit's latest report on a task: progress (with an optional percent) or closure."""

    unit: str
    lead: bool
    at: datetime  # local to the plan
    text: str
    percent: int | None = None
    closure: bool = False


@dataclass(frozen=True)
class ProgressRow:
    number: str
    text: str
    reports: tuple[UnitReport, ...]
    responsibility: str
    status: str  # a key of STATUS_NAMES
    light: str  # green | yellow | red


@dataclass(frozen=True)
class ProgressTable:
    plan_title: str
    as_of: date
    rows: tuple[ProgressRow, ...]


def responsibility_text(responsibility: dict[str, Any]) -> str:
    """「牵头：A；配合：B、C」 from the document's lead, co-leads and co-units."""
    lead = str(responsibility.get("lead") or "")
    co_leads = [str(u) for u in responsibility.get("co_leads", [])]
    leads = [u for u in dict.fromkeys([lead, *co_leads]) if u]
    co = [str(u) for u in responsibility.get("co_units", []) if u not in leads]
    parts = [f"牵头：{'、'.join(leads)}"] if leads else []
    if co:
        parts.append(f"配合：{'、'.join(co)}")
    return "；".join(parts)


def _day_text(day: date, year: int) -> str:
    if day.year == year:
        return f"{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def report_line(report: UnitReport, year: int) -> str:
    """「市发改委（60%，10月26日）：已完成项目立项」."""
    facts = []
    if report.closure:
        facts.append(STATUS_NAMES[Status.CLOSURE_REQUESTED])
    elif report.percent is not None:
        facts.append(f"{report.percent}%")
    facts.append(_day_text(report.at.date(), year))
    text = report.text.strip()
    return f"{report.unit}（{'，'.join(facts)}）" + (f"：{text}" if text else "")


def progress_text(reports: Sequence[UnitReport], year: int) -> str:
    if not reports:
        return NOT_REPORTED
    return "\n".join(report_line(r, year) for r in reports)


def task_light(
    due_days: Iterable[date], as_of: date, ladder: Sequence[Level], calendar: WorkCalendar
) -> str:
    """The worst light among due days by the `as_of` day: a ladder level with a light
    applies once its day (its offset in working days from the due day, moved onto a working
    day, as the reminders count) is reached."""
    worst = 0
    for due in due_days:
        anchor = calendar.next_working_day(due)
        for level in ladder:
            if level.light in LIGHTS and (calendar.add_working_days(anchor, level.offset) <= as_of):
                worst = max(worst, LIGHTS.index(level.light))
    return LIGHTS[worst]


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The instant local `day` ends (the next midnight), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def check_as_of(plan: Plan, as_of: date, today: date) -> None:
    first = plan.created_at.astimezone(ZoneInfo(plan.timezone)).date()
    if as_of > today:
        raise DubanError(f"--as-of {as_of} 晚于今天（{today}），只能导出已发生的进展")
    if as_of < first:
        raise DubanError(f"--as-of {as_of} 早于计划导入的日期（{first}），那时还没有任务")


def progress_table(
    session: Session, plan: Plan, as_of: date, rules: Rules, calendar: WorkCalendar
) -> ProgressTable:
    """The plan's progress table as it stood at the end of local day `as_of`."""
    tz = ZoneInfo(plan.timezone)
    until = end_of_day(as_of, tz)
    tasks = list(
        session.scalars(
            select(Task).where(Task.plan_id == plan.id, Task.created_at < until).order_by(Task.seq)
        )
    )
    then = _tasks_then(session, tasks, until)
    owners = {
        assignment: task
        for assignment, task in session.execute(
            select(Assignment.id, Assignment.task_id)
            .join(Task, Assignment.task_id == Task.id)
            .where(Task.plan_id == plan.id)
        )
    }
    history = History.load(session, until, calendar, rules.non_working_day)
    by_task: dict[int, list[int]] = defaultdict(list)  # indexes into history.timelines
    for index, timeline in enumerate(history.timelines):
        if timeline.id in owners:
            by_task[owners[timeline.id]].append(index)
    latest = _latest_reports(session, plan, until)
    rows: list[ProgressRow] = []
    for task in tasks:
        text, responsibility, active = then[task.id]
        if not active:
            continue
        reports: list[tuple[bool, int, UnitReport]] = []
        statuses: list[str] = []
        due_days: list[date] = []
        for index in by_task[task.id]:
            timeline = history.timelines[index]
            state = timeline.state_before(until)
            if state.status == Status.WITHDRAWN:
                continue
            statuses.append(state.status)
            lead = state.role == "lead"
            if timeline.id in latest:
                action, at, detail = latest[timeline.id]
                report = _unit_report(timeline.unit, lead, action, at.astimezone(tz), detail)
                reports.append((not lead, timeline.id, report))
            if state.status in PAUSED:
                continue
            due_days.append(adjust_due(state.deadline, rules.non_working_day, calendar))
            due_days += [
                p.due_date
                for p in timeline.points
                if p.kind == "milestone" and p.due_date >= timeline.created_day()
            ]
        shown = tuple(report for _, _, report in sorted(reports, key=lambda r: (r[0], r[1])))
        rows.append(
            ProgressRow(
                number=task.number,
                text=text,
                reports=shown,
                responsibility=responsibility_text(responsibility),
                status=task_status(statuses, bool(shown)),
                light=task_light(due_days, as_of, rules.ladder, calendar),
            )
        )
    return ProgressTable(plan.title or plan.key, as_of, tuple(rows))


def _unit_report(
    unit: str, lead: bool, action: str, at: datetime, detail: dict[str, Any]
) -> UnitReport:
    percent = detail.get("percent")
    return UnitReport(
        unit=unit,
        lead=lead,
        at=at,
        text=str(detail.get("text") or ""),
        percent=int(percent) if percent is not None and action == "reply.progress" else None,
        closure=action == "reply.complete",
    )


def _tasks_then(
    session: Session, tasks: Sequence[Task], until: datetime
) -> dict[int, tuple[str, dict[str, Any], bool]]:
    """Each task's text, responsibility and whether it was active at `until`: the current
    values with the re-import changes recorded since undone, latest first."""
    then = {t.id: (t.text, dict(t.responsibility), t.state == "active") for t in tasks}
    if not then:
        return then
    query = (
        select(AuditEvent.subject_id, AuditEvent.action, AuditEvent.detail)
        .where(
            AuditEvent.subject_type == "task",
            AuditEvent.action.in_(("task.changed", "task.removed")),
            AuditEvent.at >= until,
            AuditEvent.subject_id.in_(list(then)),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    for task_id, action, detail in session.execute(query):
        if task_id not in then:
            continue
        text, responsibility, active = then[task_id]
        if action == "task.removed":
            active = True
        else:
            changes = (detail or {}).get("changes", {})
            if "text" in changes:
                text = str(changes["text"][0])
            if "responsibility" in changes and isinstance(changes["responsibility"][0], dict):
                responsibility = dict(changes["responsibility"][0])
            if "state" in changes:
                active = changes["state"][0] == "active"
        then[task_id] = (text, responsibility, active)
    return then


def _latest_reports(
    session: Session, plan: Plan, until: datetime
) -> dict[int, tuple[str, datetime, dict[str, Any]]]:
    """Each assignment's latest report before `until`: (action, when, detail)."""
    query = (
        select(AuditEvent.subject_id, AuditEvent.action, AuditEvent.at, AuditEvent.detail)
        .where(
            AuditEvent.subject_type == "assignment",
            AuditEvent.action.in_(sorted(REPORTS)),
            AuditEvent.at < until,
            AuditEvent.subject_id.in_(
                select(Assignment.id)
                .join(Task, Assignment.task_id == Task.id)
                .where(Task.plan_id == plan.id)
            ),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    latest: dict[int, tuple[str, datetime, dict[str, Any]]] = {}
    for subject_id, action, at, detail in session.execute(query):
        if subject_id is not None:
            latest[subject_id] = (action, at, detail or {})
    return latest


PROGRESS_COLUMNS = (
    Column("序号", 8),
    Column("内容与要求", 50),
    Column("进展情况", 60),
    Column("责任单位", 30),
    Column("状态", 10),
    Column("灯", 6, fills=LIGHT_FILLS),
)


def progress_sheet(table: ProgressTable) -> Sheet:
    day = table.as_of
    year = day.year
    rows = tuple(
        (
            row.number,
            row.text,
            progress_text(row.reports, year),
            row.responsibility,
            STATUS_NAMES[row.status],
            LIGHT_NAMES[row.light],
        )
        for row in table.rows
    )
    return Sheet(
        title=f"{table.plan_title} 进展情况（截至{day.year}年{day.month}月{day.day}日）",
        name=f"进展情况 {day.isoformat()}",
        columns=PROGRESS_COLUMNS,
        rows=rows,
    )


# --- the ranking history ------------------------------------------------------------------


def parse_kind(text: str | None) -> PeriodKind | None:
    if text is None:
        return None
    value = text.strip().lower()
    for kind in PERIOD_KINDS:
        if value == kind:
            return kind
    raise DubanError(f"不支持的期间类型「{text}」：--kind 可选 month（按月）或 week（按周）")


def ranking_periods(
    plan: Plan,
    setup: RankingSetup,
    now: datetime,
    *,
    first: str | None = None,
    last: str | None = None,
    kind: str | None = None,
) -> list[Period]:
    """The periods from `first` to `last` (2020-09, 2020-W38; both included), all ended.

    Without `first`, the plan year's first period; without `last`, the last period ended
    within the plan year (up to the last ended one when `first` is given). The kind is that
    of the periods given, else `kind`, else month.
    """
    given = [parse_period(text) for text in (first, last) if text is not None]
    wanted = parse_kind(kind)
    kinds = {p.kind for p in given} | ({wanted} if wanted else set())
    if len(kinds) > 1:
        raise DubanError("--from、--to 与 --kind 的期间类型不一致（月如 2020-11，周如 2020-W45）")
    chosen: PeriodKind = kinds.pop() if kinds else "month"
    today = now.astimezone(setup.tz).date()
    year = plan.year or plan_start(plan).year
    start = parse_period(first) if first else period_of(date(year, 1, 1), chosen)
    if last:
        end = parse_period(last)
    else:
        end = last_ended(chosen, today)
        if first is None:
            end = min(end, period_of(date(year, 12, 31), chosen))
    for period in (start, end):
        if period in given:
            ensure_ended(period, setup.tz, now)
    if end < start:
        if not given:
            raise DubanError(f"{year}年还没有已结束的期间，无可导出的排名")
        raise DubanError(f"期间范围不对：--from {start.label} 晚于 --to {end.label}")
    periods = [start]
    while periods[-1] < end:
        periods.append(periods[-1].next())
    return periods


def ranking_history(
    session: Session, periods: Sequence[Period], setup: RankingSetup
) -> list[tuple[Period, list[RankedUnit]]]:
    """Each period's ranking, as `duban rank --period` computes it."""
    return [(period, compute_ranking(session, period, setup)) for period in periods]


RANKING_COLUMNS = (
    Column("期间", 12),
    Column("排名", 6),
    Column("单位", 24),
    Column("得分", 8),
    Column("灯", 6, fills=LIGHT_FILLS),
    Column("趋势", 8),
    Column("应报送次数", 11),
    Column("按时报送次数", 13),
    Column("按时报送率(%)", 14),
    Column("牵头任务数", 11),
    Column("进度达标数", 11),
    Column("进度达标率(%)", 14),
    Column("承办事项数", 11),
    Column("逾期事项数", 11),
    Column("无逾期率(%)", 13),
)


def ranking_sheet(
    plan: Plan, history: Sequence[tuple[Period, Sequence[RankedUnit]]], kind: PeriodKind
) -> Sheet:
    rows: list[tuple[Value, ...]] = []
    for period, ranked in history:
        for row in ranked:
            m = row.metrics.as_json()
            rows.append(
                (
                    period.label,
                    row.rank,
                    row.unit,
                    row.score,
                    LIGHT_NAMES[row.light],
                    TREND_NAMES[row.trend],
                    m["reports_due"],
                    m["reports_on_time"],
                    m["on_time_rate"],
                    m["lead_tasks"],
                    m["on_track"],
                    m["on_track_rate"],
                    m["assignments"],
                    m["overdue"],
                    m["no_overdue_rate"],
                )
            )
    span = ""
    if history:
        first, last = history[0][0].label, history[-1][0].label
        span = first if first == last else f"{first} 至 {last}"
    return Sheet(
        title=f"{plan.title or plan.key} 工作晾晒排名（{span}，{KIND_NAMES[kind]}）",
        name="晾晒排名",
        columns=RANKING_COLUMNS,
        rows=tuple(rows),
    )
