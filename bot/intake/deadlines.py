"""Deadlines written in Chinese: 「10月底前」「2022 年 6 月 30 日」「三季度末」「2027/10/31」.

Pure functions. `find_deadlines` reads prose (a task's text); `read_deadline_cell` reads what a
完成时限 label or column holds, where bare forms (「2027年10月」「9月」「2027.10」) and
「长期坚持」 mean something too. A phrase without an explicit year takes the plan's year; when
the plan has no year, only phrases that carry their own year produce a date.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

_FOLD = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "／": "/", "－": "-"}
)

_CN_DIGITS = {digit: value for value, digit in enumerate("一二三四五六七八九", start=1)} | {"两": 2}

# A month must not continue a longer number (「13月」「二十三月」) nor follow a decimal point.
_NOT_AFTER_NUMBER = r"(?<![\d.一二三四五六七八九十〇零两])"
_MONTH = _NOT_AFTER_NUMBER + r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_DAY = (
    r"(?:3[01]|[12]\d|0?[1-9]"
    r"|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九])"
)
_YEAR_DIGITS = r"(?<!\d)(?:19|20)\d{2}"
_EXPLICIT_YEAR = r"(?<!\d)(?P<{name}>\d{{4}})\s*年\s*"
# 「年内」 but not 「年内部…」 or 「年内容…」.
_WITHIN_YEAR = r"内(?![部容涵外在])"
# 「半年内」「五年内」「每年底」「明年底」 are spans or other years, not this year's end.
_NOT_A_SPAN = r"(?<![半明去前后每近多两\d一二三四五六七八九十])"
# 「9月投入使用」「6月开工」: a bare month followed by what happens in it.
_EVENT = (
    r"(?:份\s*)?(?:前|内)?\s*(?:全面)?(?:完成|建成|投入使用|投用|投运|开工|动工|竣工|开业|启用|上线"
    r"|出台|印发|实施|运营|通车|交付|试运行|开通|落地|到位|验收)"
)

_PROSE = rf"""
    (?P<iso_year>{_YEAR_DIGITS})\s*(?P<iso_sep>[-/.])\s*(?P<iso_month>1[0-2]|0?[1-9])
        \s*(?P=iso_sep)\s*(?P<iso_day>3[01]|[12]\d|0?[1-9])(?!\d)
    | {_EXPLICIT_YEAR.format(name="end_year")}(?:年\s*)?(?:底|末|{_WITHIN_YEAR}|全\s*年)
    | (?:到|至|于|在)\s*(?P<by_year>{_YEAR_DIGITS})\s*年
        (?!\s*(?:\d|[一二三四五六七八九十]|[上下前第]|初|中|度))
    | (?:{_EXPLICIT_YEAR.format(name="year")})?
      (?:
          (?P<day_month>{_MONTH})\s*月\s*(?P<day>{_DAY})\s*[日号]
        | (?P<ten_month>{_MONTH})\s*月\s*(?:份\s*)?(?P<ten>[上中下])\s*旬
        | (?P<end_month>{_MONTH})\s*月\s*(?:份\s*)?[底末]
        | (?P<event_month>{_MONTH})\s*月(?={_EVENT})
        | (?P<half>[上下])\s*半\s*年
        | (?:前|第)?\s*(?<![\d一二三四五六七八九十])(?P<quarter>[一二三四1-4])\s*季\s*度
      )
    | {_NOT_A_SPAN}(?:年\s*(?:底|末|{_WITHIN_YEAR})|全\s*年)
"""
_PATTERN = re.compile(_PROSE, re.VERBOSE)
# In a deadline cell, bare months and years are deadlines too: 「2027年10月」「2027.10」「9月」.
_CELL_PATTERN = re.compile(
    _PROSE
    + rf"""
    | (?P<cell_year>{_YEAR_DIGITS})\s*(?:年\s*|[-/.]\s*)(?P<cell_month>1[0-2]|0?[1-9])\s*月?(?!\d)
    | (?P<bare_month>{_MONTH})\s*月(?!\s*\d)
    | (?P<bare_year>{_YEAR_DIGITS})\s*年?(?!\s*\d)
    """,
    re.VERBOSE,
)
# 「长期坚持」「持续推进」「常态化」: the task has no deadline of its own.
_ONGOING = re.compile(r"长期|持续|常态|常年|逐年|每年|每月|每季|按年度|按季度|按月|年年|不设时限")
# What duban writes in its own review sheet for a task without a deadline of its own.
NO_DEADLINE = "不设时限"
_QUARTER_END_MONTH = {"1": 3, "2": 6, "3": 9, "4": 12}


@dataclass(frozen=True)
class DeadlineCell:
    """What a deadline label or column says: dates, 「长期坚持」, or nothing readable."""

    dates: tuple[date, ...]
    ongoing: bool = False

    @property
    def readable(self) -> bool:
        return bool(self.dates) or self.ongoing


def find_deadlines(text: str, year: int | None) -> list[date]:
    """Every deadline written in `text`, in order of appearance, without repeats.

    `year` dates the phrases that name no year; with `year=None` they are skipped.
    """
    return _dates(_PATTERN, text, year)


def extract_deadline(text: str, year: int | None) -> date | None:
    """The latest deadline written in `text`, or None when it names none."""
    return max(find_deadlines(text, year), default=None)


def year_of_dates(texts: Iterable[str], cells: Iterable[str]) -> int | None:
    """The year most of the fully written dates fall in (the earlier on a tie), in task
    `texts` and 完成时限 `cells`: a plan whose title and file name give no year is still
    dated by 「2027-10-31」."""
    found = [when for text in texts for when in _dates(_PATTERN, text, None)]
    found += [when for cell in cells for when in _dates(_CELL_PATTERN, cell, None)]
    years = Counter(when.year for when in found)
    return min(years, key=lambda y: (-years[y], y)) if years else None


def read_deadline_cell(text: str, year: int | None) -> DeadlineCell:
    """A 完成时限 cell or label value: 「12月底前」「2027/10/31」「2027年10月」「长期坚持」."""
    dates = _dates(_CELL_PATTERN, text, year)
    if dates:
        return DeadlineCell(tuple(dates))
    return DeadlineCell((), ongoing=bool(_ONGOING.search(text)))


def deadline_events(text: str, year: int | None, *, cell: bool = False) -> list[tuple[date, str]]:
    """Each date with the words that follow it: 「6月底前开工」 → (06-30, "开工"); `cell` reads
    a 完成时限 cell's bare forms too."""
    folded = text.translate(_FOLD)
    events: list[tuple[date, str]] = []
    for match in (_CELL_PATTERN if cell else _PATTERN).finditer(folded):
        when = _read_match(match, year)
        if when is not None and when not in [d for d, _ in events]:
            after = re.split(r"[，,。；;、：:（(]", folded[match.end() :], maxsplit=1)[0]
            events.append((when, after.removeprefix("前").strip()[:16]))
    return events


def _dates(pattern: re.Pattern[str], text: str, year: int | None) -> list[date]:
    found: list[date] = []
    for match in pattern.finditer(text.translate(_FOLD)):
        when = _read_match(match, year)
        if when is not None and when not in found:
            found.append(when)
    return found


def _read_match(match: re.Match[str], plan_year: int | None) -> date | None:
    groups = match.groupdict()
    if groups["iso_year"] is not None:
        return _valid_date(
            int(groups["iso_year"]), int(groups["iso_month"]), int(groups["iso_day"])
        )
    for whole_year in ("end_year", "by_year", "bare_year"):
        if groups.get(whole_year) is not None:
            return date(int(groups[whole_year]), 12, 31)
    if groups.get("cell_year") is not None:
        return _month_end(int(groups["cell_year"]), int(groups["cell_month"]))
    year = int(groups["year"]) if groups["year"] is not None else plan_year
    if year is None:
        return None
    return _within_year(groups, year)


def _within_year(groups: dict[str, str | None], year: int) -> date | None:
    month = next(
        (groups[name] for name in ("end_month", "event_month", "bare_month") if groups.get(name)),
        None,
    )
    if groups["day_month"] is not None:
        return _valid_date(year, _number(groups["day_month"]), _number(groups["day"] or ""))
    if groups["ten_month"] is not None:
        return _ten_day_end(year, _number(groups["ten_month"]), groups["ten"] or "")
    if month is not None:
        return _month_end(year, _number(month))
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
