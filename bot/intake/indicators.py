"""Quantitative targets in a Chinese task text: 「新增公共停车位 1000 个」 → 1000 个.

Pure functions over prose. A target is an Arabic number followed by a recognised unit; the phrase
reported with it is the clause that contains it, as written.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bot.intake.model import Indicator

_FOLD = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "％": "%"})

# Counted things: 万/亿 in front of them scale the value (1.2 万名 → 12000 名).
_COUNTABLE = (
    "人次", "名", "人", "个", "户", "家", "所", "套", "间", "辆", "艘", "座", "项", "条", "幢",
    "栋", "张", "件", "次", "场", "处", "批", "台", "只", "头", "床", "株", "棵", "尾", "位",
    "支", "部", "本", "册", "盏", "根", "块", "片", "口", "宗", "例", "篇", "门", "种",
)  # fmt: skip
# Measured quantities: 万/亿 stay in the unit (5.67 亿吨 → 5.67 亿吨), as the documents count so.
_MEASURE = (
    "%", "‰", "个百分点", "百分点", "倍", "元", "美元", "平方公里", "平方千米", "平方米",
    "立方米", "公里", "千米", "米", "亩", "公顷", "吨", "公斤", "千克", "标箱", "标准箱",
    "千瓦时", "千瓦", "兆瓦", "个工作日", "工作日", "个月", "天", "小时", "分钟", "岁",
)  # fmt: skip
_SCALE = {
    "万亿": Decimal(10) ** 12,
    "千万": Decimal(10) ** 7,
    "百万": Decimal(10) ** 6,
    "万": Decimal(10) ** 4,
    "亿": Decimal(10) ** 8,
}
_UNIT_NAMES = {"个百分点": "百分点"}

# Longest first, so 个百分点 wins over 个 and 千瓦时 over 千瓦.
_UNITS = "|".join(re.escape(u) for u in sorted(_COUNTABLE + _MEASURE, key=len, reverse=True))
_PATTERN = re.compile(
    # 「1,000」 is one number; 「0」 in 「1,0」 continues another, so it is not a target.
    r"(?<![\d.A-Za-z])(?<!\d,)"
    r"(?P<number>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?)\s*"
    rf"(?P<scale>万亿|千万|百万|万|亿)?\s*"
    rf"(?P<unit>{_UNITS})"
    r"(?P<per>/(?:年|月|日|天|小时|人|户|亩|平方米|吨))?"
    r"(?:\s*(?:及以上|及以下|以上|以下|左右|以内))?"
)
_QUOTED = re.compile(r"“[^“”]*”|「[^「」]*」|『[^『』]*』|\"[^\"]*\"|‘[^‘’]*’|《[^《》]*》")
_DELIMITERS = frozenset("，,。;；、：:“”「」『』\"'‘’《》!！?？\n")
# Words in front of a number that make it an ordinal (第3批) or a rate base (每 100 人).
_NOT_A_TARGET_BEFORE = ("第", "每")


def extract_indicators(text: str) -> list[Indicator]:
    """The quantitative targets in `text`, in order of appearance.

    Numbers inside quotes, ordinals, years, dates and bare numbers without a unit are skipped.
    """
    folded = text.translate(_FOLD)
    quoted = [m.span() for m in _QUOTED.finditer(folded)]
    found: list[Indicator] = []
    for match in _PATTERN.finditer(folded):
        start = match.start()
        if _inside(start, quoted) or _after_excluded_word(folded, start):
            continue
        value, unit = _value_and_unit(match)
        phrase = folded[_clause_start(folded, start) : match.end()].strip()
        found.append(Indicator(phrase=phrase, value=value, unit=unit))
    return found


def _value_and_unit(match: re.Match[str]) -> tuple[float, str]:
    """Scale counted things by 万/亿; keep the scale in the unit of measured ones."""
    number = Decimal(match["number"].replace(",", ""))
    scale = match["scale"] or ""
    unit = _UNIT_NAMES.get(match["unit"], match["unit"])
    per = match["per"] or ""
    if scale and match["unit"] in _COUNTABLE:
        return float(number * _SCALE[scale]), unit + per
    return float(number), scale + unit + per


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < position < end for start, end in spans)


def _after_excluded_word(text: str, position: int) -> bool:
    return text[:position].rstrip().endswith(_NOT_A_TARGET_BEFORE)


def _clause_start(text: str, position: int) -> int:
    """Where the clause holding `position` begins: just past the previous delimiter."""
    for index in range(position - 1, -1, -1):
        char = text[index]
        # A full stop that is not a decimal point ends a clause too (「1.新增…」).
        if char in _DELIMITERS or (char == "." and not text[index + 1 : index + 2].isdigit()):
            return index + 1
    return 0
