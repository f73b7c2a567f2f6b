"""The reminder ladder around National Day 2020, due-date policies, report cycles, `decide`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import (
    Decision,
    DueSpec,
    PointState,
    Step,
    StepCache,
    adjust_due,
    decide,
    first_step_at,
    ladder_steps,
    next_report,
    nominal_report_dates,
)
from bot.domain.rules import ReportCycle, default_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = default_rules()
DUE = date(2020, 9, 25)  # a Friday, the last report day before the National Day break
# The 2020-10-25 cycle is due Monday 10-26, so its notice (and this cycle's end) is 10-21.
NEXT_CYCLE_STARTS = "2020-10-21T09:00"

# (level, repeat, local day at 09:00) of the ladder for DUE.
LADDER_FOR_DUE = [
    ("notice", 0, "2020-09-22"),  # Tuesday, 3 working days before
    ("urge", 0, "2020-09-25"),
    ("supervise", 0, "2020-09-27"),  # a working Sunday (调休)
    ("escalate", 0, "2020-09-29"),
    ("escalate", 1, "2020-10-09"),  # 09-30, then the first day after the break
    ("escalate", 2, "2020-10-12"),  # 10-10 is a working Saturday, 10-11 a Sunday off
    ("escalate", 3, "2020-10-14"),
]


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


def local(text: str) -> datetime:
    """An ISO local time in Asia/Shanghai as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def morning(day: str) -> datetime:
    return local(f"{day}T09:00")


def step_at(index: int) -> datetime:
    """When the ladder for DUE reaches step `index`."""
    return morning(LADDER_FOR_DUE[index][2])


def point(**overrides: Any) -> PointState:
    """An open report point due on DUE, nothing sent yet, the unit not yet reported."""
    values: dict[str, Any] = {
        "kind": "report",
        "due_date": DUE,
        "window_start": date(2020, 8, 25),
        "state": "open",
        "step": -1,
        "superseded_at": local(NEXT_CYCLE_STARTS),
        "status": "in_progress",
        "last_report_at": None,
    }
    return PointState(**{**values, **overrides})


def decide_at(now: str, calendar: WorkCalendar, **overrides: Any) -> Decision:
    return decide(point(**overrides), RULES, calendar, SHANGHAI, local(now))


def sent(decision: Decision) -> tuple[str, int] | None:
    """(level, repeat) of what the decision sends, or None."""
    return (decision.send.level.key, decision.send.repeat) if decision.send else None


def described(steps: list[Step]) -> list[tuple[str, int, datetime]]:
    return [(s.level.key, s.repeat, s.at) for s in steps]


# --- ladder steps -------------------------------------------------------------------------


def test_the_ladder_before_national_day_2020_follows_the_working_days(
    calendar: WorkCalendar,
) -> None:
    steps = ladder_steps(DUE, RULES, calendar, SHANGHAI)
    expected = [(level, repeat, morning(day)) for level, repeat, day in LADDER_FOR_DUE]
    assert described(steps) == expected
    assert [s.index for s in steps] == list(range(len(LADDER_FOR_DUE)))


def test_ladder_steps_are_nine_o_clock_local_stored_as_utc(calendar: WorkCalendar) -> None:
    notice = ladder_steps(DUE, RULES, calendar, SHANGHAI)[0]
    assert notice.at == datetime(2020, 9, 22, 1, 0, tzinfo=UTC)
    assert notice.at.tzinfo is UTC


def test_no_step_falls_in_the_national_day_break(calendar: WorkCalendar) -> None:
    days = {s.at.astimezone(SHANGHAI).date() for s in ladder_steps(DUE, RULES, calendar, SHANGHAI)}
    holiday = {date(2020, 10, 1) + timedelta(days=i) for i in range(8)}
    assert not days & holiday
    assert all(calendar.is_working_day(day) for day in days)


def test_a_due_date_on_a_day_off_keeps_urge_and_supervise_on_separate_days(
    calendar: WorkCalendar,
) -> None:
    # A milestone on Sunday 10-25 (or any due date kept on a day off) counts from Monday.
    steps = ladder_steps(date(2020, 10, 25), RULES, calendar, SHANGHAI)
    assert [s.at for s in steps[:4]] == [
        morning("2020-10-21"),
        morning("2020-10-26"),
        morning("2020-10-27"),
        morning("2020-10-29"),
    ]


def test_a_due_date_in_the_break_is_urged_on_the_first_day_back(calendar: WorkCalendar) -> None:
    steps = ladder_steps(date(2020, 10, 3), RULES, calendar, SHANGHAI)
    assert [s.at for s in steps[:3]] == [
        morning("2020-09-28"),  # 3 working days before 10-09: 09-30, 09-29, 09-28
        morning("2020-10-09"),
        morning("2020-10-10"),
    ]


@pytest.mark.parametrize(("every", "times"), [(0, 3), (2, 0)])
def test_without_repeats_the_ladder_ends_with_its_last_level(
    calendar: WorkCalendar, every: int, times: int
) -> None:
    rules = replace(RULES, repeat_every=every, repeat_max=times)
    steps = ladder_steps(DUE, rules, calendar, SHANGHAI)
    assert [(s.level.key, s.repeat) for s in steps] == [
        ("notice", 0),
        ("urge", 0),
        ("supervise", 0),
        ("escalate", 0),
    ]


def test_the_first_step_is_the_ladders_first_step(calendar: WorkCalendar) -> None:
    for due in (DUE, date(2020, 10, 25)):
        first = first_step_at(due, RULES, calendar, SHANGHAI)
        assert first == ladder_steps(due, RULES, calendar, SHANGHAI)[0].at


# --- due dates on days off ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("next", date(2020, 10, 26)), ("previous", date(2020, 10, 23)), ("keep", date(2020, 10, 25))],
)
def test_the_25th_on_a_sunday_moves_as_the_policy_says(
    calendar: WorkCalendar, policy: str, expected: date
) -> None:
    assert adjust_due(date(2020, 10, 25), policy, calendar) == expected


@pytest.mark.parametrize("policy", ["next", "previous", "keep"])
def test_a_due_date_on_a_working_day_stays(calendar: WorkCalendar, policy: str) -> None:
    assert adjust_due(DUE, policy, calendar) == DUE


def test_a_due_date_in_the_break_moves_past_the_whole_break(calendar: WorkCalendar) -> None:
    assert adjust_due(date(2020, 10, 1), "next", calendar) == date(2020, 10, 9)
    assert adjust_due(date(2020, 10, 1), "previous", calendar) == date(2020, 9, 30)


# --- report cycles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cycle", "after", "until", "expected"),
    [
        pytest.param(
            ReportCycle("monthly", 25),
            date(2020, 8, 31),
            date(2020, 12, 31),
            ["2020-09-25", "2020-10-25", "2020-11-25", "2020-12-25"],
            id="monthly",
        ),
        pytest.param(
            ReportCycle("monthly", 31),
            date(2020, 1, 31),
            date(2020, 4, 30),
            ["2020-02-29", "2020-03-31", "2020-04-30"],
            id="day-31-is-month-end",
        ),
        pytest.param(
            ReportCycle("monthly", 31),
            date(2021, 1, 31),
            date(2021, 3, 1),
            ["2021-02-28"],
            id="february-not-leap",
        ),
        pytest.param(
            ReportCycle("monthly", 25),
            date(2020, 11, 25),
            date(2021, 2, 1),
            ["2020-12-25", "2021-01-25"],
            id="across-the-year-after-excluded",
        ),
        pytest.param(
            ReportCycle("quarterly", 28),
            date(2020, 1, 1),
            date(2020, 12, 31),
            ["2020-03-28", "2020-06-28", "2020-09-28", "2020-12-28"],
            id="quarterly",
        ),
        pytest.param(
            ReportCycle("dates", dates=(date(2020, 12, 20), date(2020, 3, 1), date(2020, 6, 30))),
            date(2020, 3, 1),
            date(2020, 12, 20),
            ["2020-06-30", "2020-12-20"],
            id="dates-sorted-until-included",
        ),
        pytest.param(ReportCycle("none"), date(2020, 1, 1), date(2020, 12, 31), [], id="none"),
    ],
)
def test_nominal_report_dates_fall_after_the_start_up_to_the_end(
    cycle: ReportCycle, after: date, until: date, expected: list[str]
) -> None:
    found = list(nominal_report_dates(cycle, after, until))
    assert found == [date.fromisoformat(day) for day in expected]


def test_the_next_report_is_keyed_by_its_nominal_date_and_due_on_a_working_day(
    calendar: WorkCalendar,
) -> None:
    spec = next_report(ReportCycle("monthly", 25), DUE, date(2020, 12, 31), RULES, calendar)
    assert spec == DueSpec("report", "report:2020-10-25", date(2020, 10, 26), DUE)


def test_there_is_no_next_report_after_the_last_one_before_the_deadline(
    calendar: WorkCalendar,
) -> None:
    cycle = ReportCycle("monthly", 25)
    assert next_report(cycle, date(2020, 12, 25), date(2020, 12, 31), RULES, calendar) is None
    assert next_report(ReportCycle("none"), DUE, date(2020, 12, 31), RULES, calendar) is None


# --- decide -------------------------------------------------------------------------------


def test_nothing_is_sent_before_the_first_step(calendar: WorkCalendar) -> None:
    decision = decide_at("2020-09-22T08:59", calendar)
    assert decision == Decision(None, -1, step_at(0), "open")


@pytest.mark.parametrize(
    ("now", "index"),
    [
        ("2020-09-22T09:00", 0),
        ("2020-09-24T16:00", 0),
        ("2020-09-25T09:00", 1),
        ("2020-09-27T09:30", 2),
        ("2020-09-29T09:00", 3),
        ("2020-10-12T09:00", 5),
    ],
)
def test_the_step_reached_is_sent_and_the_next_one_is_the_wake_up(
    calendar: WorkCalendar, now: str, index: int
) -> None:
    decision = decide_at(now, calendar)
    level, repeat, _ = LADDER_FOR_DUE[index]
    assert sent(decision) == (level, repeat)
    assert decision.step == index
    assert decision.next_action_at == step_at(index + 1)
    assert decision.state == "open"


def test_after_downtime_only_the_highest_step_reached_is_sent(calendar: WorkCalendar) -> None:
    now = "2020-10-10T09:00"
    assert calendar.working_days_between(DUE, local(now).date()) == 6
    decision = decide_at(now, calendar)
    assert sent(decision) == ("escalate", 1)
    assert decision.step == 4
    assert decision.next_action_at == step_at(5)


def test_a_step_already_handled_is_not_sent_again(calendar: WorkCalendar) -> None:
    decision = decide_at("2020-09-25T15:00", calendar, step=1)
    assert decision == Decision(None, 1, step_at(2), "open")


def test_a_later_look_sends_the_step_after_the_one_handled(calendar: WorkCalendar) -> None:
    decision = decide_at("2020-09-27T09:00", calendar, step=1)
    assert sent(decision) == ("supervise", 0)
    assert decision.step == 2


def test_the_wake_up_is_the_end_of_the_cycle_when_that_comes_first(
    calendar: WorkCalendar,
) -> None:
    ends = local("2020-10-10T09:00")
    decision = decide_at("2020-10-09T10:00", calendar, step=4, superseded_at=ends)
    assert decision == Decision(None, 4, ends, "open")


def test_after_the_last_repeat_nothing_more_is_sent_and_there_is_no_wake_up(
    calendar: WorkCalendar,
) -> None:
    last = decide_at("2020-10-14T09:00", calendar, superseded_at=None)
    assert sent(last) == ("escalate", 3)
    assert (last.step, last.next_action_at) == (6, None)
    later = decide_at("2020-11-30T09:00", calendar, step=6, superseded_at=None)
    assert later == Decision(None, 6, None, "open")


def test_after_the_last_repeat_the_point_wakes_up_when_its_cycle_ends(
    calendar: WorkCalendar,
) -> None:
    decision = decide_at("2020-10-15T09:00", calendar, step=6)
    assert decision == Decision(None, 6, local(NEXT_CYCLE_STARTS), "open")


def test_an_open_point_whose_cycle_is_over_is_missed_and_rolls_over(
    calendar: WorkCalendar,
) -> None:
    decision = decide_at(NEXT_CYCLE_STARTS, calendar, step=6)
    assert decision == Decision(None, 6, None, "missed", roll_over=True)


def test_a_resolved_point_stays_resolved_when_its_cycle_is_over(calendar: WorkCalendar) -> None:
    decision = decide_at("2020-10-22T09:00", calendar, state="resolved", step=1)
    assert decision == Decision(None, 1, None, "resolved", roll_over=True)


def test_a_resolved_point_sends_nothing_and_waits_for_its_cycle_to_end(
    calendar: WorkCalendar,
) -> None:
    decision = decide_at("2020-09-29T09:00", calendar, state="resolved", step=1)
    assert decision == Decision(None, 1, local(NEXT_CYCLE_STARTS), "resolved")


@pytest.mark.parametrize("status", ["closure_requested", "closed", "withdrawn"])
def test_a_paused_assignment_is_sent_nothing(calendar: WorkCalendar, status: str) -> None:
    decision = decide_at("2020-09-29T09:00", calendar, status=status, step=1)
    assert decision == Decision(None, 1, local(NEXT_CYCLE_STARTS), "open")


@pytest.mark.parametrize("status", ["not_started", "in_progress", "extension_requested"])
def test_an_active_assignment_is_reminded(calendar: WorkCalendar, status: str) -> None:
    assert sent(decide_at("2020-09-29T09:00", calendar, status=status)) == ("escalate", 0)


def test_the_notice_is_skipped_when_the_unit_has_reported_in_the_window(
    calendar: WorkCalendar,
) -> None:
    decision = decide_at("2020-09-22T09:00", calendar, last_report_at=local("2020-09-21T10:00"))
    assert decision == Decision(None, 0, step_at(1), "open")


def test_a_report_on_the_window_start_day_belongs_to_the_previous_cycle(
    calendar: WorkCalendar,
) -> None:
    decision = decide_at("2020-09-22T09:00", calendar, last_report_at=local("2020-08-25T23:00"))
    assert sent(decision) == ("notice", 0)


def test_the_urge_is_sent_even_when_the_unit_has_reported(calendar: WorkCalendar) -> None:
    reported = local("2020-09-21T10:00")
    decision = decide_at("2020-09-25T09:00", calendar, step=0, last_report_at=reported)
    assert sent(decision) == ("urge", 0)


def test_a_shared_step_cache_gives_the_same_decisions(calendar: WorkCalendar) -> None:
    cache = StepCache(RULES, calendar, SHANGHAI)
    for now in ("2020-09-22T09:00", "2020-09-29T09:00", "2020-10-12T09:00"):
        shared = decide(point(), RULES, calendar, SHANGHAI, local(now), cache)
        assert shared == decide_at(now, calendar)


# --- a year the calendar package does not cover --------------------------------------------


def test_a_year_without_holiday_data_falls_back_to_weekdays_with_one_warning() -> None:
    warnings: list[str] = []
    calendar = WorkCalendar(warn=warnings.append)
    due = date(2030, 3, 15)  # a Friday
    steps = ladder_steps(due, RULES, calendar, SHANGHAI)
    assert [s.at.astimezone(SHANGHAI).date().isoformat() for s in steps] == [
        "2030-03-12",
        "2030-03-15",
        "2030-03-18",
        "2030-03-20",
        "2030-03-22",
        "2030-03-26",
        "2030-03-28",
    ]
    decision = decide(
        point(due_date=due, window_start=date(2030, 2, 25), superseded_at=None),
        RULES,
        calendar,
        SHANGHAI,
        local("2030-03-18T09:00"),
    )
    assert sent(decision) == ("supervise", 0)
    assert len(warnings) == 1
    assert "2030" in warnings[0]
