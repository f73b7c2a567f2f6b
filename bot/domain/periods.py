"""Periods of the ranking (晾晒): ISO weeks (2020-W45) and months (2020-11), their bounds in
the plan's time zone, the period a day falls in, the last one ended, and their labels as
operators type them. Pure: no database and no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.app.errors import DubanError

PeriodKind = Literal["week", "month"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "month")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_WEEK = re.compile(r"(\d{4})-[Ww](\d{1,2})")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month or an ISO week, as local days: `first` up to, not including, `end`."""

    first: date
    end: date
    kind: PeriodKind

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        """The operator's spelling: 2020-11 or 2020-W45."""
        if self.kind == "month":
            return f"{self.first.year}-{self.first.month:02d}"
        year, week, _ = self.first.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def title(self) -> str:
        """The period as a chat message names it: 2020年11月, 2020年第45周（11月2日—11月8日）."""
        if self.kind == "month":
            return f"{self.first.year}年{self.first.month}月"
        year, week, _ = self.first.isocalendar()
        first, last = self.first, self.last
        return f"{year}年第{week}周（{first.month}月{first.day}日—{last.month}月{last.day}日）"

    def previous(self) -> Period:
        return period_of(self.first - timedelta(days=1), self.kind)

    def next(self) -> Period:
        return period_of(self.end, self.kind)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period's start (inclusive) and end (exclusive) in UTC, for local days in `tz`."""
        return _midnight(self.first, tz), _midnight(self.end, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period_of(day: date, kind: PeriodKind) -> Period:
    """The week or month holding `day`."""
    if kind == "month":
        first = day.replace(day=1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return Period(first, following, "month")
    first = day - timedelta(days=day.weekday())
    return Period(first, first + timedelta(days=7), "week")


def last_ended(kind: PeriodKind, today: date) -> Period:
    """The most recent period of `kind` that is over on `today`."""
    return period_of(today, kind).previous()


def parse_kind(text: str | None) -> PeriodKind | None:
    if text is None:
        return None
    value = text.strip().lower()
    for kind in PERIOD_KINDS:
        if value == kind:
            return kind
    raise DubanError(f"不支持的期间类型「{text}」：--kind 可选 month（按月）或 week（按周）")


def parse_period(text: str) -> Period:
    """2020-11 (a month) or 2020-W45 (an ISO week); anything else raises a clear error."""
    value = text.strip()
    try:
        if match := _MONTH.fullmatch(value):
            return period_of(date(int(match[1]), int(match[2]), 1), "month")
        if match := _WEEK.fullmatch(value):
            return period_of(date.fromisocalendar(int(match[1]), int(match[2]), 1), "week")
    except ValueError:
        raise DubanError(f"期间「{text}」不存在：月份为 01–12，周次为该年的 ISO 周") from None
    raise DubanError(f"期间「{text}」格式不对：月用 2020-11，周用 2020-W45（ISO 周）")
