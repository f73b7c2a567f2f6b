"""Chinese working days (工作日) and the send window, as pure functions of their inputs.

The statutory calendar with adjusted working weekends (调休) comes from `chinese-calendar`;
`schedules/calendar.toml` adds or corrects days. A year neither covers falls back to
Monday–Friday with one warning per year, never an error. Nothing here reads the clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.app.errors import ConfigError
from bot.domain.tomlfiles import invalid, read_toml

ONE_DAY = timedelta(days=1)
MAX_RANGE_DAYS = 31  # the longest real break is ~10 days; more is a typo such as a wrong year
Coverage = Literal["statutory", "overrides", "weekdays"]
KIND_WORDS = {"holiday": "假日", "workday": "工作日"}


@dataclass(frozen=True)
class CalendarOverrides:
    """Days that override the statutory calendar; `source` names the file they came from."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    source: str | None = None

    def __post_init__(self) -> None:
        if both := self.holidays & self.workdays:
            raise ValueError(f"both a holiday and a working day: {sorted(both)}")


NO_OVERRIDES = CalendarOverrides()


def _day(value: Any) -> date:
    """A TOML date or a "YYYY-MM-DD" string; datetimes and numbers are refused."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    raise ValueError("应为日期，如 2027-10-01")


Day = Annotated[date, BeforeValidator(_day)]


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["holiday", "workday"]
    start: Day = Field(alias="from")
    end: Day = Field(alias="to")
    name: str | None = None

    def days(self) -> Iterator[date]:
        """Every day from `from` to `to`, both included."""
        for offset in range((self.end - self.start).days + 1):
            yield self.start + timedelta(days=offset)


class _OverridesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: list[Day] = []
    workdays: list[Day] = []
    ranges: list[_Range] = []


def load_overrides(path: Path) -> CalendarOverrides:
    """Reads a calendar.toml; a missing file means no overrides, a bad one raises ConfigError."""
    if not path.is_file():
        return NO_OVERRIDES
    try:
        data = _OverridesFile.model_validate(read_toml(path))
    except ValidationError as exc:
        raise invalid(str(path), exc) from None
    return _merge(data, str(path))


def _merge(data: _OverridesFile, source: str) -> CalendarOverrides:
    """Flattens lists and ranges into two sets, refusing a day given both kinds."""
    kinds: dict[date, tuple[str, str]] = {}  # day -> (kind, key that set it)
    for kind, key, day in _entries(data, source):
        seen = kinds.setdefault(day, (kind, key))
        if seen[0] != kind:
            problem = f"{day} 在此为{KIND_WORDS[kind]}，但在 {seen[1]} 为{KIND_WORDS[seen[0]]}"
            raise ConfigError(f"{source}: {key}", problem)
    holidays = frozenset(day for day, (kind, _) in kinds.items() if kind == "holiday")
    return CalendarOverrides(holidays, frozenset(kinds.keys() - holidays), source)


def _entries(data: _OverridesFile, source: str) -> Iterator[tuple[str, str, date]]:
    """(kind, key, day) for every day the file names, ranges validated on the way."""
    yield from (("holiday", f"holidays.{i}", day) for i, day in enumerate(data.holidays))
    yield from (("workday", f"workdays.{i}", day) for i, day in enumerate(data.workdays))
    for i, span in enumerate(data.ranges):
        if not 0 <= (span.end - span.start).days < MAX_RANGE_DAYS:
            problem = f"应不早于 from，且跨度不超过 {MAX_RANGE_DAYS} 天"
            raise ConfigError(f"{source}: ranges.{i}.to", problem)
        yield from ((span.kind, f"ranges.{i}", day) for day in span.days())


def gap_warning(year: int, source: str | None = None) -> str:
    """What the operator reads when `year` has no statutory holiday data."""
    where = source or "schedules/calendar.toml"
    return (
        f"{year} 年没有法定节假日数据（chinese-calendar 未收录，{where} 也未列出），"
        f"暂按周一至周五为工作日，节假日仍会发送提醒。国务院办公厅每年秋季公布次年节假日安排，"
        f"公布后请把 {year} 年的放假日和调休上班日加入 {where}"
    )


@cache
def package_covers(year: int) -> bool:
    """Whether chinese-calendar has the statutory schedule for `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class SendWindow:
    """Daily local hours in which messages may go out: start inclusive, end exclusive."""

    start: time = time(9, 0)
    end: time = time(17, 30)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"send window start {self.start} must be before end {self.end}")


class WorkCalendar:
    """Working-day arithmetic: overrides, then the statutory calendar, then Monday–Friday."""

    def __init__(
        self,
        overrides: CalendarOverrides = NO_OVERRIDES,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.overrides = overrides
        self._warn = warn or logging.getLogger("duban.calendar").warning
        self._cache: dict[date, bool] = {}
        self._warned_years: set[int] = set()
        self._override_years = {d.year for d in overrides.holidays | overrides.workdays}

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is a working day; never raises for a year without data."""
        if d not in self._cache:
            self._cache[d] = self._lookup(d)
        return self._cache[d]

    def _lookup(self, d: date) -> bool:
        if d in self.overrides.holidays:
            return False
        if d in self.overrides.workdays:
            return True
        if package_covers(d.year):
            return bool(chinese_calendar.is_workday(d))
        self._warn_once(d.year)
        return d.weekday() < 5

    def _warn_once(self, year: int) -> None:
        # A year the operator already gave overrides for is deliberate, not a gap to flag.
        if year in self._warned_years or year in self._override_years:
            return
        self._warned_years.add(year)
        self._warn(gap_warning(year, self.overrides.source))

    def coverage(self, year: int) -> Coverage:
        """Where `year`'s working days come from: the package, overrides only, or weekdays."""
        if package_covers(year):
            return "statutory"
        return "overrides" if year in self._override_years else "weekdays"

    def next_working_day(self, d: date, *, include_self: bool = True) -> date:
        """The first working day on or after `d` (strictly after it if not include_self)."""
        day = d if include_self else d + ONE_DAY
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def previous_working_day(self, d: date, *, include_self: bool = True) -> date:
        """The last working day on or before `d` (strictly before it if not include_self)."""
        day = d if include_self else d - ONE_DAY
        while not self.is_working_day(day):
            day -= ONE_DAY
        return day

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after `d` (before it if n < 0; `d` itself never counts).

        n == 0 gives `d` if it is a working day, else the next one: to offset from a due date
        that may fall on a day off, callers move it with n=0 first, then apply the offset.
        """
        if n == 0:
            return self.next_working_day(d)
        step = self.next_working_day if n > 0 else self.previous_working_day
        day = d
        for _ in range(abs(n)):
            day = step(day, include_self=False)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative (−count of (end, start]) if end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        days = (start + timedelta(days=i) for i in range(1, (end - start).days + 1))
        return sum(1 for day in days if self.is_working_day(day))

    def in_send_window(self, moment: datetime, window: SendWindow, tz: ZoneInfo) -> bool:
        """Whether the aware `moment` falls in the window on a working day, local to `tz`."""
        local = _aware(moment).astimezone(tz)
        return self.is_working_day(local.date()) and window.start <= local.time() < window.end

    def next_send_time(self, moment: datetime, window: SendWindow, tz: ZoneInfo) -> datetime:
        """The earliest instant >= `moment` inside the window on a working day, in UTC."""
        if self.in_send_window(moment, window, tz):
            return moment.astimezone(UTC)
        local = moment.astimezone(tz)
        day = local.date()
        if not (self.is_working_day(day) and local.time() < window.start):
            day = self.next_working_day(day, include_self=False)
        return datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    """`moment` itself; a naive datetime is refused, since its instant is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {moment.isoformat()}")
    return moment
