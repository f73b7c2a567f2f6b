"""The progress table (进展情况表): the plan as it stood at the end of the `as_of` day
(local to the plan's time zone), from the history (bot/supervise/history.py):

- one row per task of the plan that existed and was active then, in document order;
- 内容与要求 and 责任单位 as the document said then (re-import changes after that day are
  undone); 责任单位 is 「牵头：A；配合：B、C」 (the document's co-leads count as 牵头);
- 进展情况: each unit's latest report (`reply.progress`, `reply.complete`) up to that day,
  one line per unit that reported, lead first — 「市发改委（60%，10月26日）：已完成项目立项」,
  「市住建局（申请办结，11月4日）：已建成」 — or 「尚未报送」;
- 佐证材料: each unit's evidence files sent by that day and not returned by then, one line
  per unit — 「市住建局（2份）：现场照片.jpg、验收报告.pdf」 — or 「无」;
- 状态: the task's status over its assignments not withdrawn (domain/lifecycle.task_status);
- 灯: the worst light of the task's open deadlines and milestones, by the reminder ladder
  (schedules/default.toml): each ladder level with a `light` applies once its day is
  reached by the `as_of` day — by default 督办 (+1 working day after the due day) yellow,
  通报 (+3 working days) red, else green. Deadlines count with approved extensions; an
  assignment whose closure is requested or confirmed has nothing open.

Built as a `Sheet` (bot/present/sheets.py) and written as xlsx, csv or Markdown.
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
from bot.present.labels import LIGHT_FILLS, LIGHT_NAMES, LIGHTS, STATUS_NAMES
from bot.present.sheets import Column, Sheet
from bot.store.models import Assignment, AuditEvent, Evidence, Plan, Task
from bot.supervise.history import History

NOT_REPORTED = "尚未报送"
NO_EVIDENCE = "无"


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
    evidence: tuple[str, ...] = ()  # 「市住建局（2份）：a.jpg、b.pdf」, one per unit


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
    files = _evidence_names(session, plan, until)
    rows: list[ProgressRow] = []
    for task in tasks:
        text, responsibility, active = then[task.id]
        if not active:
            continue
        reports: list[tuple[bool, int, UnitReport]] = []
        evidence: list[tuple[bool, int, str]] = []
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
            if names := files.get(timeline.id):
                line = f"{timeline.unit}（{len(names)}份）：{'、'.join(names)}"
                evidence.append((not lead, timeline.id, line))
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
                evidence=tuple(line for *_, line in sorted(evidence)),
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


def _evidence_names(session: Session, plan: Plan, until: datetime) -> dict[int, list[str]]:
    """Each assignment's evidence file names sent before `until`, less those returned by
    then, oldest first."""
    query = (
        select(Evidence.assignment_id, Evidence.name, Evidence.state, Evidence.decided_at)
        .join(Assignment, Evidence.assignment_id == Assignment.id)
        .join(Task, Assignment.task_id == Task.id)
        .where(Task.plan_id == plan.id, Evidence.created_at < until)
        .order_by(Evidence.created_at, Evidence.id)
    )
    names: dict[int, list[str]] = defaultdict(list)
    for assignment, name, state, decided in session.execute(query):
        if state == "returned" and decided is not None and decided < until:
            continue
        names[assignment].append(name)
    return names


PROGRESS_COLUMNS = (
    Column("序号", 8),
    Column("内容与要求", 50),
    Column("进展情况", 60),
    Column("佐证材料", 30),
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
            "\n".join(row.evidence) or NO_EVIDENCE,
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
