"""The import flow on both backends: idempotent, diffing, history-keeping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import IntakeError
from bot.intake.directory import Directory, load_directory
from bot.intake.importing import import_file
from bot.intake.store import ImportReport
from bot.store.models import Assignment, AuditEvent, Plan, Task, Unit
from bot.store.queries import list_units, show_task
from tests.support.factories import make_directory, write_plan, write_table
from tests.support.paths import SAMPLE, SAMPLE_UNITS

NOW = datetime(2020, 3, 1, 1, 0, tzinfo=UTC)
LATER = datetime(2020, 4, 1, 1, 0, tzinfo=UTC)

PLAN = """
    2020年重点工作任务责任分解
    1.新增公共停车位 1000 个。
    责任单位:市住建局、市财政局
    2.10月底前建成小干岛中央商务区。
    责任单位:市发改委,各县(区)政府
    3.推进政务公开。
    责任单位:市府办
"""
DIRECTORY = {
    "units": {"市住建局": {"supervisor": "赵华"}, "定海区政府": {}, "普陀区政府": {}},
    "collectives": {"各县(区)政府": {"members": ["定海区政府", "普陀区政府"]}},
    "supervisors": {"赵华": {"title": "副市长"}},
}


def run_import(
    sessions: sessionmaker[Session], path: Path, directory: Directory, now: datetime = NOW
) -> ImportReport:
    return import_file(sessions, path, directory, timezone="Asia/Shanghai", now=now)[1]


def counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Plan, Task, Unit, Assignment, AuditEvent)
    }


def test_it_creates_plan_tasks_units_and_assignments(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = run_import(sessions, write_plan(tmp_path, PLAN), make_directory(**DIRECTORY))
    assert report.plan_created
    assert report.added == ["1", "2", "3"]
    with sessions() as session:
        plan = session.scalars(select(Plan)).one()
        assert (plan.year, plan.default_deadline) == (2020, date(2020, 12, 31))
        task = show_task(session, plan, "1")
    assert task["assignments"] == [
        {"unit": "市住建局", "role": "lead", "status": "not_started", "progress": 0},
        {"unit": "市财政局", "role": "co", "status": "not_started", "progress": 0},
    ]


def test_collectives_are_expanded_to_their_members(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import(sessions, write_plan(tmp_path, PLAN), make_directory(**DIRECTORY))
    with sessions() as session:
        task = show_task(session, session.scalars(select(Plan)).one(), "2")
        units = {u["name"]: u for u in list_units(session)}
    assert [a["unit"] for a in task["assignments"]] == ["市发改委", "定海区政府", "普陀区政府"]
    assert task["deadline"] == "2020-10-31"
    assert units["各县(区)政府"]["collective"]
    assert units["各县(区)政府"]["members"] == ["定海区政府", "普陀区政府"]


def test_a_collective_without_members_is_assigned_as_one_unit(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = run_import(sessions, write_plan(tmp_path, PLAN), make_directory())
    assert any("各县(区)政府" in w for w in report.warnings)
    with sessions() as session:
        task = show_task(session, session.scalars(select(Plan)).one(), "2")
    assert [a["unit"] for a in task["assignments"]] == ["市发改委", "各县(区)政府"]


def test_names_not_in_the_directory_are_reported_as_new_units(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = run_import(sessions, write_plan(tmp_path, PLAN), make_directory(**DIRECTORY))
    assert report.new_units == ["市财政局", "市发改委", "市府办"]


def test_the_same_document_twice_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path, directory = write_plan(tmp_path, PLAN), make_directory(**DIRECTORY)
    run_import(sessions, path, directory)
    with sessions() as session:
        before = counts(session)
    report = run_import(sessions, path, directory, LATER)
    assert report.unchanged
    with sessions() as session:
        assert counts(session) == before


def test_an_edited_version_updates_adds_and_removes_with_a_diff(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = make_directory(**DIRECTORY)
    run_import(sessions, write_plan(tmp_path, PLAN), directory)
    edited = PLAN.replace("1000 个", "1200 个").replace(
        "    3.推进政务公开。\n    责任单位:市府办\n", ""
    )
    edited += "    4.办好中国海洋文化节。\n    责任单位:市文化和广电旅游体育局\n"
    report = run_import(sessions, write_plan(tmp_path, edited, "v2.txt"), directory, LATER)
    assert not report.plan_created
    assert report.added == ["4"]
    assert report.changed == {"1": ["indicators", "text"]}
    assert report.removed == ["3"]
    with sessions() as session:
        tasks = {t.number: t for t in session.scalars(select(Task))}
        assert len(tasks) == 4
        assert tasks["3"].state == "removed"
        actions = [
            e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.at == LATER))
        ]
    assert sorted(actions) == ["task.added", "task.changed", "task.removed", "unit.created"]


def test_a_unit_dropped_from_a_task_keeps_its_assignment_as_withdrawn(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = make_directory(**DIRECTORY)
    run_import(sessions, write_plan(tmp_path, PLAN), directory)
    with sessions.begin() as session:
        assignment = session.scalars(
            select(Assignment).join(Assignment.unit).where(Unit.name == "市财政局")
        ).one()
        assignment.status, assignment.progress = "in_progress", 40
    edited = PLAN.replace("市住建局、市财政局", "市住建局")
    report = run_import(sessions, write_plan(tmp_path, edited, "v2.txt"), directory, LATER)
    assert report.changed == {"1": ["responsibility"]}
    with sessions() as session:
        kept = session.scalars(
            select(Assignment).join(Assignment.unit).where(Unit.name == "市财政局")
        ).one()
        assert (kept.status, kept.progress) == ("withdrawn", 40)
    run_import(sessions, write_plan(tmp_path, PLAN, "v3.txt"), directory, LATER)
    with sessions() as session:
        back = session.scalars(
            select(Assignment).join(Assignment.unit).where(Unit.name == "市财政局")
        ).one()
        assert (back.status, back.progress) == ("in_progress", 40)


def test_a_failed_parse_leaves_the_database_unchanged(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import(sessions, write_plan(tmp_path, PLAN), make_directory(**DIRECTORY))
    with sessions() as session:
        before = counts(session)
    with pytest.raises(IntakeError):
        run_import(sessions, write_plan(tmp_path, "只有一段说明文字。"), make_directory())
    with sessions() as session:
        assert counts(session) == before


def test_the_sample_imports_with_its_directory(sessions: sessionmaker[Session]) -> None:
    report = run_import(sessions, SAMPLE, load_directory(SAMPLE_UNITS))
    assert report.tasks == 128
    with sessions() as session:
        plan = session.scalars(select(Plan)).one()
        t125 = show_task(session, plan, "125")
        names = [u.name for u in session.scalars(select(Unit))]
    assert t125["assignments"][0] == {
        "unit": "市府办",
        "role": "lead",
        "status": "not_started",
        "progress": 0,
    }
    assert "定海区政府" in [a["unit"] for a in t125["assignments"]]
    assert len([n for n in names if "朱家尖" in n]) == 1


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".docx"])
def test_tables_import_with_sections_supervisors_and_collectives(
    sessions: sessionmaker[Session], tmp_path: Path, suffix: str
) -> None:
    report = run_import(sessions, write_table(tmp_path, suffix), make_directory(**DIRECTORY))
    assert report.added == ["1", "2"]
    with sessions() as session:
        plan = session.scalars(select(Plan)).one()
        first = show_task(session, plan, "1")
        again = run_import(sessions, write_table(tmp_path, suffix), make_directory(**DIRECTORY))
    assert again.unchanged
    assert first["supervisor"] == "王五"
    assert first["deadline"] == "2020-10-31"
    assert [a["unit"] for a in first["assignments"]] == [
        "市住建局",
        "市财政局",
        "定海区政府",
        "普陀区政府",
    ]


def test_a_changed_deadline_or_milestone_reschedules_the_tasks_assignments(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = make_directory(**DIRECTORY)
    run_import(sessions, write_plan(tmp_path, PLAN), directory)
    with sessions.begin() as session:
        for assignment in session.scalars(select(Assignment)):
            assignment.needs_schedule = False
    edited = PLAN.replace("10月底前建成", "6月底前开工，11月底前建成")
    report = run_import(sessions, write_plan(tmp_path, edited), directory, LATER)
    assert report.changed["2"] == ["deadline", "milestones", "text"]
    with sessions() as session:
        task = session.scalars(select(Task).where(Task.number == "2")).one()
        assert task.deadline == date(2020, 11, 30)
        assert task.milestones == [{"due": "2020-06-30", "name": "开工"}]
        rescheduled = {
            a.task.number for a in session.scalars(select(Assignment)) if a.needs_schedule
        }
    assert rescheduled == {"2"}
