"""Deadlines written in a Chinese task text: 「10月底前」「2022 年 6 月 30 日」「三季度末」「年内」.

Pure functions over prose. A phrase without an explicit year takes the plan's year; when the plan
has no year, only phrases that carry their own 「2022年…」 year produce a date.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

_FOLD = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)})

_CN_DIGITS = {digit: value for value, digit in enumerate("一二三四五六七八九", start=1)} | {"两": 2}

# A month must not continue a longer number (「13月」「二十三月」) nor follow a decimal point.
_NOT_AFTER_NUMBER = r"(?<![\d.一二三四五六七八九十〇零两])"
_MONTH = _NOT_AFTER_NUMBER + r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_DAY = (
    r"(?:3[01]|[12]\d|0?[1-9]"
    r"|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九])"
)
_EXPLICIT_YEAR = r"(?<!\d)(?P<{name}>\d{{4}})\s*年\s*"
# 「年内」 but not 「年内部…」 or 「年内容…」.
_WITHIN_YEAR = r"内(?![部容涵外在])"
# 「半年内」「五年内」「每年底」「明年底」 are spans or other years, not this year's end.
_NOT_A_SPAN = r"(?<![半明去前后每近多两\d一二三四五六七八九十])"

_PATTERN = re.compile(
    rf"""
    {_EXPLICIT_YEAR.format(name="end_year")}(?:年\s*)?(?:底|末|{_WITHIN_YEAR}|全\s*年)
    | (?:{_EXPLICIT_YEAR.format(name="year")})?
      (?:
          (?P<day_month>{_MONTH})\s*月\s*(?P<day>{_DAY})\s*[日号]
        | (?P<ten_month>{_MONTH})\s*月\s*(?:份\s*)?(?P<ten>[上中下])\s*旬
        | (?P<end_month>{_MONTH})\s*月\s*(?:份\s*)?[底末]
        | (?P<half>[上下])\s*半\s*年
        | (?:前|第)?\s*(?<![\d一二三四五六七八九十])(?P<quarter>[一二三四1-4])\s*季\s*度
      )
    | {_NOT_A_SPAN}(?:年\s*(?:底|末|{_WITHIN_YEAR})|全\s*年)
    """,
    re.VERBOSE,
)

_QUARTER_END_MONTH = {"1": 3, "2": 6, "3": 9, "4": 12}


def find_deadlines(text: str, year: int | None) -> list[date]:
    """Every deadline written in `text`, in order of appearance, without repeats.

    `year` dates the phrases that name no year; with `year=None` they are skipped.
    """
    found: list[date] = []
    for match in _PATTERN.finditer(text.translate(_FOLD)):
        when = _read_match(match, year)
        if when is not None and when not in found:
            found.append(when)
    return found


def extract_deadline(text: str, year: int | None) -> date | None:
    """The latest deadline written in `text`, or None when it names none."""
    return max(find_deadlines(text, year), default=None)


def _read_match(match: re.Match[str], plan_year: int | None) -> date | None:
    groups = match.groupdict()
    if groups["end_year"] is not None:
        return date(int(groups["end_year"]), 12, 31)
    year = int(groups["year"]) if groups["year"] is not None else plan_year
    if year is None:
        return None
    if groups["day_month"] is not None:
        return _valid_date(year, _number(groups["day_month"]), _number(groups["day"] or ""))
    if groups["ten_month"] is not None:
        return _ten_day_end(year, _number(groups["ten_month"]), groups["ten"] or "")
    if groups["end_month"] is not None:
        return _month_end(year, _number(groups["end_month"]))
    if groups["half"] is not None:
        return date(year, 6, 30) if groups["half"] == "上" else date(year, 12, 31)
    if groups["quarter"] is not None:
        return _month_end(year, _QUARTER_END_MONTH[str(_number(groups["quarter"]))])
    # The remaining alternative is an implicit year end: 年底, 年末, 年内, 全年.
    return date(year, 12, 31)


def _number(written: str) -> int:
    """An Arabic number or a Chinese numeral up to 三十九 as an int (「十二」 → 12)."""
    if written.isdigit():
        return int(written)
    tens, _, units = written.rpartition("十")
    if "十" not in written:
        return _CN_DIGITS[written]
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        # 「2月30日」 is a typo in the source, not a deadline.
        return None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _ten_day_end(year: int, month: int, part: str) -> date:
    """The last day of 上旬 (10th), 中旬 (20th) or 下旬 (month end)."""
    if part == "上":
        return date(year, month, 10)
    if part == "中":
        return date(year, month, 20)
    return _month_end(year, month)
