"""The import flow: writes a parsed plan into the database, idempotently.

The same document twice changes nothing; an edited version adds, changes and removes tasks
(removed tasks are kept, marked removed) and keeps every assignment's history. Every change
is an audit event. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from bot.domain.lifecycle import Event, Status, resumed
from bot.intake.directory import Directory
from bot.intake.model import ParsedPlan, ParsedTask
from bot.intake.units_store import UnitBook
from bot.store.audit import record, record_many
from bot.store.database import analyze_after_bulk
from bot.store.models import Assignment, Plan, Task


@dataclass
class ImportReport:
    plan_id: int
    plan_created: bool
    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    new_units: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tasks: int = 0
    assignments: int = 0

    @property
    def unchanged(self) -> bool:
        return not (self.plan_created or self.added or self.changed or self.removed)

    def as_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "plan_created": self.plan_created,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "new_units": self.new_units,
            "warnings": self.warnings,
            "tasks": self.tasks,
            "assignments": self.assignments,
        }


@dataclass(frozen=True)
class Source:
    name: str
    sha256: str
    timezone: str
    sample: bool = False


def import_plan(
    session: Session, parsed: ParsedPlan, source: Source, directory: Directory, now: datetime
) -> ImportReport:
    """Creates or updates the plan, its tasks, units, supervisors and assignments."""
    book = UnitBook.load(session, directory, now)
    book.add_parsed(parsed)
    plan, created = _upsert_plan(session, parsed, source, now)
    report = ImportReport(plan_id=plan.id, plan_created=created, warnings=[*parsed.warnings])
    report.warnings.extend(book.warnings)
    report.new_units = [u.name for u in parsed.units if not directory.canonical(u.name)]
    _sync_tasks(session, plan, parsed, book, report, now)
    report.tasks = len(parsed.tasks)
    analyze_after_bulk(session, report.assignments + report.tasks, Task, Assignment)
    return report


def plan_key(parsed: ParsedPlan, source_name: str) -> str:
    return f"{parsed.year or ''}:{parsed.title or source_name}"


def _upsert_plan(
    session: Session, parsed: ParsedPlan, source: Source, now: datetime
) -> tuple[Plan, bool]:
    key = plan_key(parsed, source.name)
    plan = session.scalar(select(Plan).where(Plan.key == key))
    if plan is not None:
        if plan.source_sha256 != source.sha256:
            plan.source, plan.source_sha256, plan.updated_at = source.name, source.sha256, now
        return plan, False
    year_end = date(parsed.year, 12, 31) if parsed.year else None
    plan = Plan(
        key=key,
        # A sample plan says so wherever its title is shown.
        title=f"【示例】{parsed.title or source.name}" if source.sample else parsed.title,
        year=parsed.year,
        timezone=source.timezone,
        source=source.name,
        source_sha256=source.sha256,
        default_deadline=year_end,
        sample=source.sample,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    session.flush()
    record(session, now, "import", "plan.created", "plan", plan.id, {"key": key})
    return plan, True


def _snapshot(task: ParsedTask, book: UnitBook) -> dict[str, Any]:
    return {
        "text": task.text,
        "section": task.section,
        "supervisor": task.supervisor,
        "deadline": task.deadline.isoformat() if task.deadline else None,
        "responsibility": {
            "lead": task.lead,
            "co_units": list(task.co_units),
            "co_leads": list(task.co_leads),
        },
        "indicators": [i.as_json() for i in task.indicators],
        "milestones": [m.as_json() for m in task.milestones],
        "notes": dict(task.notes),
    }


def _stored(task: Task) -> dict[str, Any]:
    return {
        "text": task.text,
        "section": task.section,
        "supervisor": task.supervisor.name if task.supervisor else None,
        "deadline": task.deadline.isoformat() if task.deadline else None,
        "responsibility": task.responsibility,
        "indicators": task.indicators,
        "milestones": task.milestones,
        "notes": task.notes,
    }


def _sync_tasks(
    session: Session,
    plan: Plan,
    parsed: ParsedPlan,
    book: UnitBook,
    report: ImportReport,
    now: datetime,
) -> None:
    existing = {
        t.number: t
        for t in session.scalars(
            select(Task)
            .where(Task.plan_id == plan.id)
            .options(selectinload(Task.assignments), selectinload(Task.supervisor))
        )
    }
    created: list[tuple[Task, ParsedTask]] = []
    for seq, parsed_task in enumerate(parsed.tasks, start=1):
        wanted = _snapshot(parsed_task, book)
        task = existing.pop(parsed_task.number, None)
        if task is None:
            created.append(
                (_new_task(session, plan, parsed_task.number, seq, wanted, book, now), parsed_task)
            )
            continue
        _update_task(session, task, seq, wanted, book, report, now)
        report.assignments += _sync_assignments(session, task, parsed_task, book, now)
    # New tasks go in as batched INSERTs: one flush for the tasks, one for their assignments.
    session.flush()
    report.added = [task.number for task, _ in created]
    report.assignments += _assign_new(session, created, book, now)
    for task in existing.values():
        if task.state != "removed":
            task.state, task.updated_at = "removed", now
            record(session, now, "import", "task.removed", "task", task.id, {"number": task.number})
            report.removed.append(task.number)


def _apply(task: Task, wanted: dict[str, Any], book: UnitBook) -> None:
    task.text, task.section = wanted["text"], wanted["section"]
    task.supervisor = book.supervisor(wanted["supervisor"])
    task.deadline = date.fromisoformat(wanted["deadline"]) if wanted["deadline"] else None
    task.responsibility = wanted["responsibility"]
    task.indicators, task.notes = wanted["indicators"], wanted["notes"]
    task.milestones = wanted["milestones"]


def _new_task(
    session: Session,
    plan: Plan,
    number: str,
    seq: int,
    wanted: dict[str, Any],
    book: UnitBook,
    now: datetime,
) -> Task:
    task = Task(plan=plan, number=number, seq=seq, state="active", created_at=now, updated_at=now)
    _apply(task, wanted, book)
    session.add(task)
    return task


def _assign_new(
    session: Session, created: list[tuple[Task, ParsedTask]], book: UnitBook, now: datetime
) -> int:
    rows: list[dict[str, Any]] = []
    events: list[tuple[int | None, dict[str, Any]]] = []
    for task, parsed in created:
        wanted = book.expand(parsed)
        rows += [
            {
                "task_id": task.id,
                "unit_id": unit_id,
                "role": role,
                "co_lead": co_lead,
                "via_id": via_id,
                "status": Status.NOT_STARTED.value,
                "progress": 0,
                "created_at": now,
                "updated_at": now,
            }
            for unit_id, (role, co_lead, via_id) in wanted.items()
        ]
        units = [parsed.lead, *parsed.co_units]
        events.append((task.id, {"number": task.number, "units": units}))
    if rows:
        session.execute(insert(Assignment), rows)
    record_many(session, now, "import", "task.added", "task", events)
    return len(rows)


def _update_task(
    session: Session,
    task: Task,
    seq: int,
    wanted: dict[str, Any],
    book: UnitBook,
    report: ImportReport,
    now: datetime,
) -> None:
    before = _stored(task)
    changes = {k: [before[k], v] for k, v in wanted.items() if before[k] != v}
    if task.state == "removed":
        changes["state"] = ["removed", "active"]
        task.state = "active"
    task.seq = seq
    if not changes:
        return
    _apply(task, wanted, book)
    task.updated_at = now
    if {"deadline", "milestones"} & changes.keys():
        for assignment in task.assignments:
            assignment.needs_schedule = True  # the sweep adds the new dates' reminders
    record(
        session,
        now,
        "import",
        "task.changed",
        "task",
        task.id,
        {"number": task.number, "changes": changes},
    )
    report.changed[task.number] = sorted(changes)


def _sync_assignments(
    session: Session,
    task: Task,
    parsed: ParsedTask,
    book: UnitBook,
    now: datetime,
) -> int:
    """Makes the task's assignments match the document; returns how many are active."""
    wanted = book.expand(parsed)
    current = {a.unit_id: a for a in task.assignments}
    for unit_id, (role, co_lead, via_id) in wanted.items():
        assignment = current.pop(unit_id, None)
        if assignment is None:
            assignment = Assignment(
                task_id=task.id,
                unit_id=unit_id,
                role=role,
                co_lead=co_lead,
                via_id=via_id,
                status=Status.NOT_STARTED.value,
                progress=0,
                created_at=now,
                updated_at=now,
            )
            session.add(assignment)
            record(
                session,
                now,
                "import",
                "assignment.created",
                "task",
                task.id,
                {"unit_id": unit_id, "role": role},
            )
            continue
        _revise_assignment(session, assignment, role, co_lead, via_id, now)
    for assignment in current.values():
        if assignment.status != Status.WITHDRAWN:
            _set_status(session, assignment, Status.WITHDRAWN, now)
    return len(wanted)


def _revise_assignment(
    session: Session,
    assignment: Assignment,
    role: str,
    co_lead: bool,
    via_id: int | None,
    now: datetime,
) -> None:
    if assignment.status == Status.WITHDRAWN:
        _set_status(session, assignment, resumed(assignment.progress), now)
    if (assignment.role, assignment.co_lead, assignment.via_id) != (role, co_lead, via_id):
        record(
            session,
            now,
            "import",
            "assignment.role_changed",
            "assignment",
            assignment.id,
            {"from": assignment.role, "to": role, "co_lead": co_lead},
        )
        assignment.role, assignment.co_lead, assignment.via_id = role, co_lead, via_id
        assignment.updated_at = now


def _set_status(session: Session, assignment: Assignment, status: str, now: datetime) -> None:
    record(
        session,
        now,
        "import",
        Event.SET,
        "assignment",
        assignment.id,
        {"from": assignment.status, "to": status},
    )
    assignment.status, assignment.updated_at = status, now
