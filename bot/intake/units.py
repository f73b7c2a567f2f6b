"""Unit names as documents write them: splitting lists, aliases, collectives, leaders.

Pure functions. A 责任单位 list such as 「市发改委、市财政局(列第一位者为工作牵头或
汇总单位,下同)」 becomes ["市发改委", "市财政局"];
「市委统战部(市民宗局)」 is unit 市委统战部 also known as 市民宗局;
「各县(区)政府」 is a collective.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FULLWIDTH = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "（": "(", "）": ")", "：": ":", "，": ","}
)
_DASHES = re.compile(r"[—–－‐‑‒―-]+")
_SPACES = re.compile(r"\s+")
# 「(列第一位者为工作牵头或汇总单位,下同)」 and similar remarks about the list itself.
_REMARK = re.compile(r"[(（][^()（）]*(?:列第一位|排名第一|下同)[^()（）]*[)）]")
_BARE_REMARK = re.compile(r"列第一位者?为?.*$")
_SEPARATORS = frozenset("、,，;；")
_QUALIFIER = re.compile(r"^(?:含|包括|不含|除)")
_TRAILING_WORDS = re.compile(r"(?:等单位|等部门|等)$")
_COLLECTIVE = re.compile(
    r"^(?:各|相关|有关|其他|其余|市级各|市属|市直|全市各|县级各)"
    r"|(?:各有关|有关单位|有关部门|相关单位|相关部门|各部门|各单位|成员单位)$"
)
LEADER_TITLES = (
    "常务副市长",
    "副市长",
    "市长",
    "常务副县长",
    "副县长",
    "县长",
    "常务副区长",
    "副区长",
    "区长",
    "副书记",
    "书记",
    "副秘书长",
    "秘书长",
    "副主任",
    "主任",
    "副主席",
    "主席",
)
_LEADER = re.compile(
    r"^(?P<name>[^\s、,，()（）]{1,8}?)\s*(?P<title>" + "|".join(LEADER_TITLES) + r")"
    r"(?:同志)?\s*(?:主抓|牵头|分管|负责|领衔|联系|挂帅|督办|$)"
)


def match_key(name: str) -> str:
    """The form two spellings of one unit share: dashes, parentheses and spaces folded."""
    folded = _SPACES.sub("", name.translate(_FULLWIDTH))
    return _DASHES.sub("-", folded)


def clean_name(name: str) -> str:
    """A unit name as duban stores it: trimmed, full-width brackets and dashes folded."""
    return match_key(name).strip(" .。:")


def strip_remarks(text: str) -> str:
    """Removes notes about the list itself, such as 「(列第一位者为…,下同)」."""
    return _BARE_REMARK.sub("", _REMARK.sub("", text))


def split_unit_list(text: str) -> list[str]:
    """Splits a 责任单位 list on 、 , ; — but never inside parentheses — and drops remarks."""
    names: list[str] = []
    depth, current = 0, list[str]()
    for char in strip_remarks(text):
        if char in "(（":
            depth += 1
        elif char in ")）":
            depth = max(depth - 1, 0)
        if depth == 0 and char in _SEPARATORS:
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    return [n for n in (_tidy(raw) for raw in names) if n]


def _tidy(raw: str) -> str:
    name = _TRAILING_WORDS.sub("", raw.strip().strip("。.:："))
    return name.strip()


@dataclass(frozen=True)
class UnitName:
    """A name as written, split into the unit and the alias in its trailing parenthesis."""

    name: str
    alias: str | None
    collective: bool


def read_unit_name(written: str) -> UnitName:
    """「A(B)」 → unit A also known as B; 「各区县政府(含…)」 stays one (collective) name."""
    text = clean_name(written)
    match = re.fullmatch(r"(?P<name>.+?)\((?P<inner>[^()]+)\)", text)
    if match and not _QUALIFIER.match(match["inner"]) and not _ends_mid_word(match["name"]):
        name, alias = match["name"], clean_name(match["inner"])
    else:
        name, alias = text, None
    return UnitName(name=name, alias=alias, collective=is_collective(name))


def _ends_mid_word(name: str) -> bool:
    # 「各县(区)」 style brackets inside a name are part of it, not an alias.
    return name.endswith(("县", "市", "区", "镇"))


def is_collective(name: str) -> bool:
    """Names that stand for several units: 各县(区)政府, 市属有关单位, 相关功能区管委会."""
    return bool(_COLLECTIVE.search(name))


def read_leader(text: str) -> tuple[str, str] | None:
    """「王××副市长主抓重点工作」 → ("王××", "副市长"); None when no leader is named."""
    match = _LEADER.match(text.strip())
    if not match:
        return None
    return match["name"], match["title"]
