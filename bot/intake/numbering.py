"""How documents number their items: 「一、」「（一）」「1.」「1、」「（1）」「①」.

Schemes are ordered from the outermost to the innermost as documents nest them. Which scheme
holds the tasks differs between documents (「（一）」 items are tasks in one and section headings
in another); the readers decide that from where the units are, not from the scheme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum


class Scheme(IntEnum):
    CHINESE = 1  # 一、
    CHINESE_PAREN = 2  # （一）
    ARABIC = 3  # 1. / 1、
    ARABIC_PAREN = 4  # （1） / 1）
    CIRCLED = 5  # ①


_CN_VALUES = {c: v for v, c in enumerate("一二三四五六七八九", start=1)}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳㉑㉒㉓㉔㉕㉖㉗㉘㉙㉚㉛㉜㉝㉞㉟㊱㊲㊳㊴㊵㊶㊷㊸㊹㊺㊻㊼㊽㊾㊿"
_CN_NUMBER = "[一二三四五六七八九十百零]{1,5}"
_PATTERNS: tuple[tuple[Scheme, re.Pattern[str]], ...] = (
    (Scheme.CHINESE, re.compile(rf"^(?P<n>{_CN_NUMBER})\s*[、.,，]\s*")),
    (Scheme.CHINESE_PAREN, re.compile(rf"^[(（〔](?P<n>{_CN_NUMBER})[)）〕]\s*[、.]?\s*")),
    (Scheme.ARABIC, re.compile(r"^(?P<n>\d{1,4})\s*[.、](?!\d)\s*")),
    (Scheme.ARABIC_PAREN, re.compile(r"^(?:[(（](?P<n>\d{1,3})[)）]|(?P<m>\d{1,3})[)）])\s*")),
    (Scheme.CIRCLED, re.compile(rf"^(?P<n>[{_CIRCLED}])\s*")),
)
# 「2.10月底前…」: a number whose dot is followed by digits, an item only where one is expected.
LOOSE_ARABIC = re.compile(r"^(?P<n>\d{1,4})\s*[.、]\s*")


@dataclass(frozen=True)
class Numbered:
    scheme: Scheme
    value: int
    text: str  # the line after its number


def numbered(line: str) -> Numbered | None:
    """The numbering that opens `line`, if any: 「（三）加快…」 → (CHINESE_PAREN, 3, "加快…")."""
    for scheme, pattern in _PATTERNS:
        if match := pattern.match(line):
            written = match["n"] or match.groupdict().get("m") or ""
            return Numbered(scheme, number_value(written), line[match.end() :].strip())
    return None


def loose_arabic(line: str) -> Numbered | None:
    match = LOOSE_ARABIC.match(line)
    if match is None:
        return None
    return Numbered(Scheme.ARABIC, int(match["n"]), line[match.end() :].strip())


def number_value(written: str) -> int:
    """「12」 → 12, 「十二」 → 12, 「一百零三」 → 103, 「⑫」 → 12."""
    if written.isdigit() and written.isascii():
        return int(written)
    if len(written) == 1 and written in _CIRCLED:
        return _CIRCLED.index(written) + 1
    return _chinese_value(written)


def _chinese_value(written: str) -> int:
    hundreds, _, rest = written.rpartition("百")
    total = (_CN_VALUES.get(hundreds, 1) * 100) if "百" in written else 0
    rest = rest.lstrip("零")
    tens, _, units = rest.rpartition("十")
    if "十" in rest:
        total += _CN_VALUES.get(tens, 1) * 10
    return total + _CN_VALUES.get(units, 0)
