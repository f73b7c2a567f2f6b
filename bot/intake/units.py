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
_SEPARATORS = frozenset("、,，;；\n\r\t")
# What unit names end with; used to split names glued together or separated by spaces.
UNIT_ENDING = re.compile(
    r"(?:局|委|办|院|中心|政府|管委会|指挥部|公司|集团|厅|部|所|站|队|社|会|行|署|处|室|馆|团|校"
    r"|街道|镇|乡|区|园|分局|支队|大队|法院|检察院|银行|联社|协会|联合会|海关|中支|支行|分行|台|社"
    r"|办事处|专班|机构|企业)$"
)
_CONJUNCTION = re.compile("以及|和|及|与|等")
_SHARED = re.compile(r"各?[县市区镇乡旗]")
_GLUED = re.compile(
    r"(?P<ending>局|委员会|委|办公室|办|院|中心|政府|管委会|指挥部|公司|集团)(?=[市县区镇省州旗乡])"
)
_QUALIFIER = re.compile(r"^(?:含|包括|不含|除)")
# 「等单位」, and the verbs a 责任单位 list may end with: 「A、B分别牵头」「C配合」.
_TRAILING_WORDS = re.compile(
    r"(?:等单位|等部门|等|分别牵头|共同牵头|牵头|按职责分工负责|分工负责|分别负责|负责|配合|参与|协办)$"
)
_COLLECTIVE = re.compile(
    r"^(?:各|相关|有关|其他|其余|市级各|市属|市直|全市各|县级各)"
    r"|(?:各有关|有关单位|有关部门|相关单位|相关部门|各部门|各单位|成员单位)$"
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
    """Splits a 责任单位 list on 、 , ; and line breaks — never inside parentheses — and drops
    remarks; names written with no separator (「县水务局县住建局」) are split too."""
    names: list[str] = []
    depth, current = 0, list[str]()
    for char in strip_remarks(text):
        if char in "(（〔[【［":
            depth += 1
        elif char in ")）〕]】］":
            depth = max(depth - 1, 0)
        if depth == 0 and char in _SEPARATORS:
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    pieces = (part for raw in _join_shared(names) for part in _split_spaces(raw))
    glued = (n for raw in pieces for n in split_glued(_tidy(raw)) if n)
    return [part for name in glued for part in _split_conjunction(name)]


def _split_conjunction(name: str) -> list[str]:
    """「省直有关部门和各市人民政府」「省农业厅等省直有关部门」: two units joined by 和/及/与/等.
    Only where both sides are unit names: 「市住房和城乡建设局」 stays whole."""
    for found in _CONJUNCTION.finditer(name):
        left, right = name[: found.start()], name[found.end() :]
        if _is_unit(left) and _is_unit(right):
            return [left, *_split_conjunction(right)]
    return [name]


def _is_unit(name: str) -> bool:
    return len(name) >= 3 and looks_like_unit(name)


def looks_like_unit(name: str) -> bool:
    """Whether a name reads as a unit's: 「市商务局(市粮食和物资储备局)」 yes, 「团队」 no."""
    main = re.sub(r"[(（][^()（）]*[)）]$", "", name.strip("▲★☆△●◆■※*＊ "))
    return bool(UNIT_ENDING.search(main.removesuffix("等")) or is_collective(main))


def _join_shared(names: list[str]) -> list[str]:
    """「各县、市、区政府」 is one collective: a lone 「各县」「市」 shares the word after it."""
    joined: list[str] = []
    for name in names:
        if joined and _SHARED.fullmatch(joined[-1].rsplit("、", 1)[-1].strip()):
            joined[-1] = f"{joined[-1].strip()}、{name.strip()}"
        else:
            joined.append(name)
    return joined


def _tidy(raw: str) -> str:
    name = _TRAILING_WORDS.sub("", raw.strip().strip("。.:：　"))
    return name.strip()


def _split_spaces(raw: str) -> list[str]:
    """「区发改局 区财政局」: names a web page separated by spaces; 「刘 哲」 stays whole."""
    parts = raw.split()
    if len(parts) > 1 and all(len(p) >= 3 and UNIT_ENDING.search(p) for p in parts):
        return parts
    return ["".join(parts)]


def split_glued(name: str) -> list[str]:
    """「县水务局县住建局县护城河指挥部」 → three names: split after a unit-name ending where the
    next name starts again with the same place prefix. 「市委市政府政研室」 stays one name."""
    if len(name) < 8 or "(" in name or "（" in name:
        return [name]
    parts: list[str] = []
    start = 0
    for found in _GLUED.finditer(name):
        cut = found.end("ending")
        if cut - start >= 4 and len(name) - cut >= 3:
            parts.append(name[start:cut])
            start = cut
    parts.append(name[start:])
    return parts if all(UNIT_ENDING.search(p) for p in parts) else [name]


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
    qualifies = match and (_QUALIFIER.match(match["inner"]) or is_collective(match["name"]))
    if match and not qualifies and not _ends_mid_word(match["name"]):
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
