"""Working days around the 2020 National Day week, the fallback year, overrides, send window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app.errors import ConfigError
from bot.domain.calendar import CalendarOverrides, SendWindow, WorkCalendar, load_overrides
from tests.support.paths import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
WINDOW = SendWindow()


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


def shanghai(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the statutory calendar ---------------------------------------------------------------


def test_national_day_week_2020_is_not_working(calendar: WorkCalendar) -> None:
    for offset in range(8):
        assert not calendar.is_working_day(date(2020, 10, 1) + timedelta(days=offset))


def test_adjusted_weekend_days_around_national_day_2020_are_working(
    calendar: WorkCalendar,
) -> None:
    assert calendar.is_working_day(date(2020, 9, 27))  # Sunday
    assert calendar.is_working_day(date(2020, 10, 10))  # Saturday


def test_an_ordinary_weekend_is_not_working(calendar: WorkCalendar) -> None:
    assert not calendar.is_working_day(date(2020, 10, 17))
    assert not calendar.is_working_day(date(2020, 10, 18))


def test_a_due_date_on_sunday_the_25th_moves_to_monday(calendar: WorkCalendar) -> None:
    assert calendar.next_working_day(date(2020, 10, 25)) == date(2020, 10, 26)


def test_next_working_day_includes_a_working_day_itself_unless_told_not_to(
    calendar: WorkCalendar,
) -> None:
    assert calendar.next_working_day(date(2020, 10, 9)) == date(2020, 10, 9)
    assert calendar.next_working_day(date(2020, 10, 9), include_self=False) == date(2020, 10, 10)


def test_previous_working_day_skips_the_holiday_back_to_september(
    calendar: WorkCalendar,
) -> None:
    assert calendar.previous_working_day(date(2020, 10, 8)) == date(2020, 9, 30)
    before = calendar.previous_working_day(date(2020, 9, 30), include_self=False)
    assert before == date(2020, 9, 29)


# --- working-day arithmetic ---------------------------------------------------------------


def test_three_working_days_before_monday_12_october_2020_is_30_september(
    calendar: WorkCalendar,
) -> None:
    # Counting back: Sat 10-10 (调休), Fri 10-09, Wed 09-30; 10-01..10-08 are days off.
    assert calendar.add_working_days(date(2020, 10, 12), -3) == date(2020, 9, 30)


def test_one_working_day_after_30_september_2020_is_9_october(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(date(2020, 9, 30), 1) == date(2020, 10, 9)
    assert calendar.add_working_days(date(2020, 9, 30), 3) == date(2020, 10, 12)


def test_adding_zero_working_days_keeps_a_working_day_and_moves_a_day_off(
    calendar: WorkCalendar,
) -> None:
    assert calendar.add_working_days(date(2020, 10, 9), 0) == date(2020, 10, 9)
    assert calendar.add_working_days(date(2020, 10, 3), 0) == date(2020, 10, 9)


def test_offsets_from_a_day_off_do_not_count_the_day_itself(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(date(2020, 10, 3), 1) == date(2020, 10, 9)
    assert calendar.add_working_days(date(2020, 10, 3), -1) == date(2020, 9, 30)


def test_working_days_between_counts_the_end_but_not_the_start(calendar: WorkCalendar) -> None:
    # Due Fri 10-09, today Mon 10-12: overdue by Sat 10-10 (调休) and Mon 10-12.
    assert calendar.working_days_between(date(2020, 10, 9), date(2020, 10, 12)) == 2
    assert calendar.working_days_between(date(2020, 9, 30), date(2020, 10, 8)) == 0
    assert calendar.working_days_between(date(2020, 10, 9), date(2020, 10, 9)) == 0


def test_working_days_between_is_negative_when_the_end_comes_first(
    calendar: WorkCalendar,
) -> None:
    assert calendar.working_days_between(date(2020, 10, 12), date(2020, 10, 9)) == -2


def test_adding_then_counting_working_days_round_trips(calendar: WorkCalendar) -> None:
    start = date(2020, 9, 25)
    for n in range(-15, 16):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


# --- a year without statutory data --------------------------------------------------------


def test_a_year_beyond_the_data_falls_back_to_weekdays_and_warns_once() -> None:
    warnings: list[str] = []
    calendar = WorkCalendar(warn=warnings.append)
    assert calendar.is_working_day(date(2030, 1, 4))  # Friday
    assert not calendar.is_working_day(date(2030, 1, 5))  # Saturday
    for offset in range(400):
        calendar.is_working_day(date(2030, 1, 1) + timedelta(days=offset))
    calendar.add_working_days(date(2030, 6, 1), 30)
    calendar.working_days_between(date(2030, 1, 1), date(2030, 12, 31))
    assert len([w for w in warnings if "2030" in w]) == 1
    assert "schedules/calendar.toml" in warnings[0]


def test_each_uncovered_year_warns_on_its_own() -> None:
    warnings: list[str] = []
    calendar = WorkCalendar(warn=warnings.append)
    calendar.is_working_day(date(2030, 3, 1))
    calendar.is_working_day(date(2031, 3, 1))
    calendar.is_working_day(date(2030, 3, 2))
    assert len(warnings) == 2
    assert "2030" in warnings[0]
    assert "2031" in warnings[1]


def test_a_covered_year_never_warns() -> None:
    warnings: list[str] = []
    WorkCalendar(warn=warnings.append).working_days_between(date(2020, 1, 1), date(2020, 12, 31))
    assert warnings == []


def test_a_year_before_the_data_also_falls_back_without_raising() -> None:
    calendar = WorkCalendar(warn=lambda message: None)
    assert calendar.is_working_day(date(2003, 1, 1))  # Wednesday
    assert calendar.coverage(2003) == "weekdays"


# --- overrides ----------------------------------------------------------------------------


def test_overrides_win_over_the_statutory_calendar() -> None:
    overrides = CalendarOverrides(
        holidays=frozenset({date(2020, 10, 9)}), workdays=frozenset({date(2020, 10, 3)})
    )
    calendar = WorkCalendar(overrides)
    assert not calendar.is_working_day(date(2020, 10, 9))
    assert calendar.is_working_day(date(2020, 10, 3))


def test_overrides_win_over_the_weekday_fallback_and_silence_its_warning() -> None:
    warnings: list[str] = []
    overrides = CalendarOverrides(
        holidays=frozenset({date(2030, 10, 1)}),  # Tuesday
        workdays=frozenset({date(2030, 9, 28)}),  # Saturday
    )
    calendar = WorkCalendar(overrides, warn=warnings.append)
    assert not calendar.is_working_day(date(2030, 10, 1))
    assert calendar.is_working_day(date(2030, 9, 28))
    assert calendar.is_working_day(date(2030, 10, 2))  # an unlisted weekday
    assert warnings == []


def test_overrides_cannot_make_a_day_both_a_holiday_and_a_working_day() -> None:
    day = frozenset({date(2030, 10, 1)})
    with pytest.raises(ValueError, match="both"):
        CalendarOverrides(holidays=day, workdays=day)


def test_coverage_names_where_a_years_days_come_from() -> None:
    calendar = WorkCalendar(CalendarOverrides(holidays=frozenset({date(2030, 10, 1)})))
    assert calendar.coverage(2020) == "statutory"
    assert calendar.coverage(2026) == "statutory"
    assert calendar.coverage(2030) == "overrides"
    assert calendar.coverage(2031) == "weekdays"


# --- the overrides file -------------------------------------------------------------------


def test_load_overrides_reads_lists_strings_and_ranges(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'holidays = [2030-01-01, "2030-02-04"]\n'
        "workdays = [2030-02-09]\n"
        '[[ranges]]\nkind = "holiday"\nfrom = 2030-10-01\nto = 2030-10-07\nname = "国庆节"\n'
        '[[ranges]]\nkind = "workday"\nfrom = 2030-09-29\nto = 2030-09-29\n',
    )
    overrides = load_overrides(path)
    national_day = {date(2030, 10, d) for d in range(1, 8)}
    assert overrides.holidays == {date(2030, 1, 1), date(2030, 2, 4)} | national_day
    assert overrides.workdays == {date(2030, 2, 9), date(2030, 9, 29)}
    assert overrides.source == str(path)


def test_a_missing_overrides_file_means_no_overrides(tmp_path: Path) -> None:
    overrides = load_overrides(tmp_path / "absent.toml")
    assert overrides == CalendarOverrides()


def test_the_shipped_overrides_file_loads_with_no_active_entries() -> None:
    overrides = load_overrides(ROOT / "schedules" / "calendar.toml")
    assert overrides.holidays == frozenset()
    assert overrides.workdays == frozenset()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[ranges]]\nkind = "holiday"\nfrom = "Oct 1"\nto = 2030-10-07\n', "ranges.0.from"),
        ('[[ranges]]\nkind = "day off"\nfrom = 2030-10-01\nto = 2030-10-07\n', "ranges.0.kind"),
        ('[[ranges]]\nkind = "holiday"\nfrom = 2030-10-07\nto = 2030-10-01\n', "ranges.0.to"),
        ('[[ranges]]\nkind = "holiday"\nfrom = 2030-10-01\nto = 2031-10-07\n', "ranges.0.to"),
        ("holidays = [2030-01-01, 2030-13-01]\n", "config"),
        ('holidays = [2030-01-01, "2030-1-2"]\n', "holidays.1"),
        ("holidays = [2030-01-01T09:00:00]\n", "holidays.0"),
        ("holiday = [2030-01-01]\n", "holiday"),
        ("holidays = [2030-10-01]\nworkdays = [2030-10-01]\n", "workdays.0"),
        (
            'workdays = [2030-10-03]\n[[ranges]]\nkind = "holiday"\n'
            "from = 2030-10-01\nto = 2030-10-07\n",
            "ranges.0",
        ),
    ],
)
def test_a_bad_overrides_file_raises_config_error_naming_file_and_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_overrides(path)
    expected = str(path) if key == "config" else f"{path}: {key}"
    assert caught.value.key == expected


# --- the send window ----------------------------------------------------------------------


def test_a_moment_inside_the_window_is_sent_at_once_in_utc(calendar: WorkCalendar) -> None:
    moment = shanghai(2020, 10, 9, 10, 15)
    sent = calendar.next_send_time(moment, WINDOW, SHANGHAI)
    assert sent == moment
    assert sent.tzinfo is UTC
    assert calendar.in_send_window(moment, WINDOW, SHANGHAI)


def test_a_moment_before_the_start_waits_for_that_days_start(calendar: WorkCalendar) -> None:
    sent = calendar.next_send_time(shanghai(2020, 10, 9, 7, 30), WINDOW, SHANGHAI)
    assert sent == shanghai(2020, 10, 9, 9)


def test_a_moment_after_the_end_waits_for_the_next_working_day(calendar: WorkCalendar) -> None:
    # Friday 10-09 evening → Saturday 10-10, a 调休 working day.
    sent = calendar.next_send_time(shanghai(2020, 10, 9, 20), WINDOW, SHANGHAI)
    assert sent == shanghai(2020, 10, 10, 9)


def test_a_holiday_waits_for_the_first_working_day_after_it(calendar: WorkCalendar) -> None:
    sent = calendar.next_send_time(shanghai(2020, 10, 1, 10), WINDOW, SHANGHAI)
    assert sent == shanghai(2020, 10, 9, 9)
    assert not calendar.in_send_window(shanghai(2020, 10, 1, 10), WINDOW, SHANGHAI)


def test_the_window_end_is_exclusive(calendar: WorkCalendar) -> None:
    end = shanghai(2020, 10, 12, 17, 30)
    assert not calendar.in_send_window(end, WINDOW, SHANGHAI)
    assert calendar.next_send_time(end, WINDOW, SHANGHAI) == shanghai(2020, 10, 13, 9)
    assert calendar.in_send_window(end - timedelta(microseconds=1), WINDOW, SHANGHAI)


def test_the_window_start_is_inclusive(calendar: WorkCalendar) -> None:
    start = shanghai(2020, 10, 12, 9)
    assert calendar.next_send_time(start, WINDOW, SHANGHAI) == start


def test_a_utc_moment_is_judged_by_the_local_day_and_hour(calendar: WorkCalendar) -> None:
    # 2020-09-30 23:30 UTC is 10-01 07:30 in Shanghai: a holiday, so wait until 10-09.
    moment = datetime(2020, 9, 30, 23, 30, tzinfo=UTC)
    assert calendar.next_send_time(moment, WINDOW, SHANGHAI) == datetime(
        2020, 10, 9, 1, 0, tzinfo=UTC
    )
    # 2020-10-09 01:30 UTC is 09:30 in Shanghai: inside the window.
    inside = datetime(2020, 10, 9, 1, 30, tzinfo=UTC)
    assert calendar.next_send_time(inside, WINDOW, SHANGHAI) == inside


def test_a_custom_window_is_respected(calendar: WorkCalendar) -> None:
    window = SendWindow(start=time(8, 0), end=time(12, 0))
    sent = calendar.next_send_time(shanghai(2020, 10, 12, 12, 0), window, SHANGHAI)
    assert sent == shanghai(2020, 10, 13, 8)


def test_a_window_must_start_before_it_ends() -> None:
    with pytest.raises(ValueError, match="before"):
        SendWindow(start=time(18, 0), end=time(9, 0))


def test_a_naive_moment_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        calendar.next_send_time(datetime(2020, 10, 9, 10), WINDOW, SHANGHAI)
