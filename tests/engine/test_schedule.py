"""The pure half of scheduling: plan start, deadlines, the initial due points and their rows.

Models are built in memory (no session): the functions under test only read their columns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import DueSpec
from bot.domain.rules import Milestone, Rules, RulesModel, build_rules, default_rules
from bot.engine.schedule import (
    Context,
    context_of,
    deadline_of,
    initial_specs,
    plan_start,
    point_row,
    superseded_at,
)
from bot.store.models import Assignment, Plan, Task

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = default_rules()
TITLE = "2020 年市政府重点工作任务责任分解"


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


def local(text: str) -> datetime:
    """An ISO local time in Asia/Shanghai as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def make_plan(**overrides: Any) -> Plan:
    values: dict[str, Any] = {
        "id": 7,
        "key": "zhoushan-2020",
        "title": TITLE,
        "year": 2020,
        "timezone": "Asia/Shanghai",
        "default_deadline": None,
        "created_at": local("2020-09-01T10:00"),
    }
    return Plan(**{**values, **overrides})


def make_task(**overrides: Any) -> Task:
    return Task(**{"number": "12", "deadline": None, **overrides})


def make_assignment(**overrides: Any) -> Assignment:
    return Assignment(**{"id": 3, "deadline": None, **overrides})


def make_context(**overrides: Any) -> Context:
    """Assignment 3 on task 12, from 1 September to the end of 2020."""
    values: dict[str, Any] = {
        "assignment_id": 3,
        "plan_keys": ("7", TITLE),
        "task_number": "12",
        "start": date(2020, 9, 1),
        "deadline": date(2020, 12, 31),
        "tz": SHANGHAI,
    }
    return Context(**{**values, **overrides})


def rules_with(**sections: Any) -> Rules:
    """The default rules plus the sections a TOML file would add."""
    return build_rules(RulesModel.model_validate(sections))


def spec(
    kind: str, nominal: str, due: str, window_start: str = "2020-08-31", name: str | None = None
) -> DueSpec:
    """A due spec keyed by its nominal date; the window starts the day before 1 September."""
    return DueSpec(
        kind,
        f"{kind}:{nominal}",
        date.fromisoformat(due),
        date.fromisoformat(window_start),
        name,
    )


def report(nominal: str, due: str, window_start: str = "2020-08-31") -> DueSpec:
    return spec("report", nominal, due, window_start)


def deadline(nominal: str, due: str, window_start: str = "2020-08-31") -> DueSpec:
    return spec("deadline", nominal, due, window_start)


def milestone(nominal: str, due: str, name: str) -> DueSpec:
    return spec("milestone", nominal, due, name=name)


FIRST_CYCLE = report("2020-09-25", "2020-09-25")  # for an assignment starting 1 September


# --- plan start and deadlines ---------------------------------------------------------------


def test_a_plan_imported_in_its_year_starts_on_its_import_day() -> None:
    assert plan_start(make_plan(created_at=local("2020-09-01T10:00"))) == date(2020, 9, 1)


def test_the_import_day_is_the_local_day_in_the_plans_timezone() -> None:
    imported = datetime(2019, 12, 31, 17, 0, tzinfo=UTC)  # 2020-01-01 01:00 in Shanghai
    assert plan_start(make_plan(created_at=imported)) == date(2020, 1, 1)


@pytest.mark.parametrize("imported", ["2021-01-05T10:00", "2019-12-20T10:00"])
def test_a_plan_imported_in_another_year_starts_on_the_first_of_january(imported: str) -> None:
    assert plan_start(make_plan(created_at=local(imported))) == date(2020, 1, 1)


def test_a_plan_without_a_year_starts_on_its_import_day() -> None:
    plan = make_plan(year=None, created_at=local("2021-03-02T10:00"))
    assert plan_start(plan) == date(2021, 3, 2)


@pytest.mark.parametrize(
    ("extension", "task_deadline", "plan_default", "expected"),
    [
        pytest.param(
            date(2021, 3, 31),
            date(2020, 10, 31),
            date(2020, 12, 31),
            date(2021, 3, 31),
            id="extension-first",
        ),
        pytest.param(
            None, date(2020, 10, 31), date(2020, 12, 31), date(2020, 10, 31), id="then-the-task"
        ),
        pytest.param(None, None, date(2020, 11, 30), date(2020, 11, 30), id="then-the-plan"),
        pytest.param(None, None, None, date(2020, 12, 31), id="then-the-end-of-the-plan-year"),
    ],
)
def test_the_deadline_is_the_extension_then_the_task_then_the_plan_default(
    extension: date | None, task_deadline: date | None, plan_default: date | None, expected: date
) -> None:
    found = deadline_of(
        make_assignment(deadline=extension),
        make_task(deadline=task_deadline),
        make_plan(default_deadline=plan_default),
    )
    assert found == expected


def test_without_any_deadline_a_late_import_still_ends_with_the_plan_year() -> None:
    plan = make_plan(created_at=local("2021-01-05T10:00"))
    assert deadline_of(make_assignment(), make_task(), plan) == date(2020, 12, 31)


def test_the_context_names_the_plan_by_id_title_and_key() -> None:
    ctx = context_of(make_assignment(), make_task(), make_plan())
    assert ctx == make_context(plan_keys=("7", TITLE, "zhoushan-2020"))


def test_a_plan_without_a_title_is_named_by_id_and_key() -> None:
    ctx = context_of(make_assignment(), make_task(), make_plan(title=None))
    assert ctx.plan_keys == ("7", "zhoushan-2020")


# --- the initial due points -----------------------------------------------------------------


def test_an_assignment_starts_with_its_first_report_cycle_and_its_deadline(
    calendar: WorkCalendar,
) -> None:
    assert initial_specs(make_context(), RULES, calendar) == [
        FIRST_CYCLE,
        deadline("2020-12-31", "2020-12-31", "2020-12-25"),
    ]


def test_a_report_due_on_the_start_day_is_the_first_cycle(calendar: WorkCalendar) -> None:
    specs = initial_specs(make_context(start=date(2020, 9, 25)), RULES, calendar)
    assert specs[0] == report("2020-09-25", "2020-09-25", "2020-09-24")


def test_a_start_after_the_25th_begins_with_next_months_cycle(calendar: WorkCalendar) -> None:
    specs = initial_specs(make_context(start=date(2020, 9, 26)), RULES, calendar)
    assert specs[0] == report("2020-10-25", "2020-10-26", "2020-09-25")


def test_a_deadline_on_a_day_off_is_due_on_the_next_working_day(calendar: WorkCalendar) -> None:
    specs = initial_specs(make_context(deadline=date(2020, 10, 31)), RULES, calendar)
    assert specs[-1] == deadline("2020-10-31", "2020-11-02", "2020-10-25")


def test_a_deadline_on_a_report_day_counts_reports_after_the_previous_one(
    calendar: WorkCalendar,
) -> None:
    specs = initial_specs(make_context(deadline=date(2020, 10, 25)), RULES, calendar)
    assert specs[-1] == deadline("2020-10-25", "2020-10-26", "2020-09-25")


def test_a_deadline_before_the_first_report_has_no_report_cycle(calendar: WorkCalendar) -> None:
    specs = initial_specs(make_context(deadline=date(2020, 9, 18)), RULES, calendar)
    assert specs == [deadline("2020-09-18", "2020-09-18", "2020-08-31")]


def test_a_task_without_reports_is_due_only_at_its_deadline(calendar: WorkCalendar) -> None:
    rules = rules_with(tasks={"12": {"reports": {"cycle": "none"}}})
    assert initial_specs(make_context(), rules, calendar) == [
        deadline("2020-12-31", "2020-12-31", "2020-08-31")
    ]


def test_a_plan_override_sets_the_first_report_cycle(calendar: WorkCalendar) -> None:
    rules = rules_with(plans={TITLE: {"reports": {"cycle": "quarterly", "day": 28}}})
    assert initial_specs(make_context(), rules, calendar) == [
        report("2020-09-28", "2020-09-28", "2020-08-31"),
        deadline("2020-12-31", "2020-12-31", "2020-12-28"),
    ]


def test_milestones_from_the_task_override_are_due_points_on_working_days(
    calendar: WorkCalendar,
) -> None:
    milestones = [
        {"date": date(2020, 10, 30), "name": "完成项目立项"},
        {"date": date(2020, 11, 14), "name": "开工建设"},  # a Saturday
    ]
    rules = rules_with(tasks={"12": {"milestones": milestones}})
    specs = initial_specs(make_context(), rules, calendar)
    assert specs[2:] == [
        milestone("2020-10-30", "2020-10-30", "完成项目立项"),
        milestone("2020-11-14", "2020-11-16", "开工建设"),
    ]
    assert initial_specs(make_context(task_number="13"), rules, calendar)[2:] == []


def test_the_documents_own_milestones_are_due_points_beside_the_rule_files(
    calendar: WorkCalendar,
) -> None:
    task = make_task(milestones=[{"due": "2020-10-30", "name": "开工"}])
    ctx = context_of(make_assignment(), task, make_plan())
    assert ctx.milestones == (Milestone(date(2020, 10, 30), "开工"),)
    rules = rules_with(tasks={"12": {"milestones": [{"date": date(2020, 11, 16), "name": "验收"}]}})
    assert initial_specs(ctx, rules, calendar)[2:] == [
        milestone("2020-10-30", "2020-10-30", "开工"),
        milestone("2020-11-16", "2020-11-16", "验收"),
    ]


# --- when a report cycle ends ---------------------------------------------------------------


def test_a_report_cycle_ends_at_the_first_reminder_of_the_next_cycle(
    calendar: WorkCalendar,
) -> None:
    # The next cycle is the 25th of October, a Sunday: due Monday 10-26, notice Wednesday 10-21.
    ends = superseded_at(make_context(), FIRST_CYCLE, RULES, calendar)
    assert ends == local("2020-10-21T09:00")


def test_the_next_cycle_follows_the_nominal_date_not_the_moved_due_date(
    calendar: WorkCalendar,
) -> None:
    point = report("2020-10-25", "2020-10-26", "2020-09-25")
    ends = superseded_at(make_context(), point, RULES, calendar)
    assert ends == local("2020-11-20T09:00")  # 11-25 is a Wednesday


def test_the_last_report_cycle_before_the_deadline_never_ends(calendar: WorkCalendar) -> None:
    point = report("2020-12-25", "2020-12-25", "2020-11-25")
    assert superseded_at(make_context(), point, RULES, calendar) is None


def test_a_report_cycle_on_the_deadline_day_still_follows(calendar: WorkCalendar) -> None:
    point = report("2020-11-25", "2020-11-25", "2020-10-25")
    ends = superseded_at(make_context(deadline=date(2020, 12, 25)), point, RULES, calendar)
    assert ends == local("2020-12-22T09:00")


# --- rows -----------------------------------------------------------------------------------


def test_a_current_report_cycle_row_is_open_and_wakes_at_its_notice(
    calendar: WorkCalendar,
) -> None:
    now = local("2020-09-01T10:00")
    assert point_row(make_context(), FIRST_CYCLE, RULES, calendar, now) == {
        "assignment_id": 3,
        "kind": "report",
        "key": "report:2020-09-25",
        "name": None,
        "due_date": date(2020, 9, 25),
        "window_start": date(2020, 8, 31),
        "state": "open",
        "resolution": None,
        "resolved_at": None,
        "step": -1,
        "superseded_at": local("2020-10-21T09:00"),
        "created_at": now,
        "next_action_at": local("2020-09-22T09:00"),
    }


@pytest.mark.parametrize("now", ["2020-10-21T09:00", "2020-11-02T10:00"])
def test_a_report_cycle_already_over_is_created_missed(calendar: WorkCalendar, now: str) -> None:
    row = point_row(make_context(), FIRST_CYCLE, RULES, calendar, local(now))
    assert row["state"] == "missed"
    assert row["next_action_at"] == row["superseded_at"] == local("2020-10-21T09:00")


def test_a_report_cycle_is_open_until_the_moment_it_ends(calendar: WorkCalendar) -> None:
    row = point_row(make_context(), FIRST_CYCLE, RULES, calendar, local("2020-10-21T08:59"))
    assert row["state"] == "open"


def test_a_deadline_row_is_never_created_missed(calendar: WorkCalendar) -> None:
    point = deadline("2020-10-30", "2020-10-30", "2020-10-25")
    row = point_row(make_context(), point, RULES, calendar, local("2021-01-05T10:00"))
    assert (row["state"], row["superseded_at"]) == ("open", None)
    assert row["next_action_at"] == local("2020-10-27T09:00")


def test_a_milestone_row_keeps_its_name(calendar: WorkCalendar) -> None:
    due = milestone("2020-10-30", "2020-10-30", "完成项目立项")
    row = point_row(make_context(), due, RULES, calendar, local("2020-09-01T10:00"))
    assert (row["kind"], row["name"], row["state"]) == ("milestone", "完成项目立项", "open")
