"""The words documents use to label what follows: 牵头单位, 责任单位, 责任领导, 完成时限 ….

One vocabulary for every layout: a `牵头单位:` line after a task, a label inside a trailing
bracket (「（责任领导:X；牵头单位:Y）」) and a table's header cell all mean the same role.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from bot.app.errors import UsageError


class Role(Enum):
    NUMBER = "number"
    SUPERVISOR = "supervisor"
    LEADS = "leads"
    CO_UNITS = "co_units"
    UNITS = "units"  # the first is the lead unless a 牵头 label names one
    DEADLINE = "deadline"
    TEXT = "text"
    NOTE = "note"


_UNIT = "(?:单位|部门|科室|主体)"
_LEVEL = "(?:市|区|县|州|旗|盟|镇|乡|市级|区级|县级)?"
# Label words that may stand before a colon in running text, by role.
_TEXT_LABELS: dict[Role, str] = {
    Role.LEADS: rf"牵头(?:责任)?{_UNIT}?|主办{_UNIT}|主责{_UNIT}|牵头主体",
    Role.CO_UNITS: rf"(?:配合|协同|协办|参与|协作|协助|协调)(?:责任)?{_UNIT}",
    Role.UNITS: rf"责任{_UNIT}|承办{_UNIT}|实施{_UNIT}|落实{_UNIT}|具体责任{_UNIT}",
    Role.SUPERVISOR: rf"(?:牵头负责|责任|分管|联系|牵头|包抓|领衔|挂帅|包保){_LEVEL}领导"
    rf"|{_LEVEL}领导",
    Role.DEADLINE: r"完成时限|完成时间|完成期限|办结时限|时间节点|时限要求|时间要求|时限",
}
# Any other 「…单位:」「…部门:」 label (数据提供单位, 督办单位) names units that take part.
_OTHER_UNITS = r"[\u4e00-\u9fff]{1,6}(?:单位|部门)"
_LABEL_ALTERNATIVES = "|".join(
    [*(f"(?P<{role.value}>{words})" for role, words in _TEXT_LABELS.items()), _OTHER_UNITS]
)
# A label is a whole word before a colon: not 「按时间节点:」 inside a sentence's last word.
LABEL = re.compile(rf"(?<![\u4e00-\u9fff])(?:{_LABEL_ALTERNATIVES})\s*[:：]")
# Several labels on one line are separated by ；/; or spaces, sometimes by 。 or ，.
_BETWEEN = " \t;；,，。、"

# Header cells of a table are matched by the word they contain; order matters, so that
# 「分管领导」 and 「牵头单位」 are not taken for a 责任单位 column.
HEADER_WORDS: tuple[tuple[Role, re.Pattern[str]], ...] = (
    (Role.NUMBER, re.compile("序号|编号")),
    (Role.SUPERVISOR, re.compile("领导")),
    (Role.LEADS, re.compile("牵头|主办|主责")),
    (Role.CO_UNITS, re.compile("配合|协办|参与|协同|协作")),
    (Role.UNITS, re.compile("责任单位|责任部门|承办单位|责任主体|实施单位|单位|部门")),
    (Role.DEADLINE, re.compile("时限|时间|节点|期限")),
    (Role.TEXT, re.compile("内容|任务|事项|目标|举措|措施|工作|实事|项目|指标|要求")),
)
# Of two text-like columns, one headed with these words holds the task (「项目」 beside
# 「重点工作目标任务」 is a category); the other is kept as a note.
STRONG_TEXT = re.compile("任务|工作|内容|举措|措施|事项|实事")
# Mirrors of mainland documents in traditional characters label their columns so.
_TRADITIONAL = str.maketrans(
    "號項設時間內資額萬責單稱務領導頭協辦門標舉實點節關總體參與擔傳聯監確認劃進達",
    "号项设时间内资额万责单称务领导头协办门标举实点节关总体参与担传联监确认划进达",
)


def one_text_column(roles: tuple[Role, ...], names: Sequence[str]) -> tuple[Role, ...]:
    """One column holds the task: a strongly worded one if there is one, else the first;
    other text-like columns are kept as notes."""
    texts = [i for i, role in enumerate(roles) if role is Role.TEXT]
    strong = [i for i in texts if STRONG_TEXT.search(names[i])]
    keep = next(iter(strong or texts), None)
    return tuple(
        Role.NOTE if role is Role.TEXT and i != keep else role for i, role in enumerate(roles)
    )


# `duban import --columns 内容=民生实事,牵头=主办单位`: the words an operator names a role by.
ROLE_WORDS: dict[str, Role] = {
    "序号": Role.NUMBER,
    "内容": Role.TEXT,
    "任务": Role.TEXT,
    "牵头": Role.LEADS,
    "责任": Role.UNITS,
    "配合": Role.CO_UNITS,
    "时限": Role.DEADLINE,
    "领导": Role.SUPERVISOR,
    "备注": Role.NOTE,
}


def parse_columns(text: str) -> dict[str, Role]:
    """「内容=民生实事,牵头=主办单位」 → {"民生实事": TEXT, "主办单位": LEADS}."""
    found: dict[str, Role] = {}
    for part in filter(None, (p.strip() for p in re.split(r"[,，;；]", text))):
        word, sep, header = (x.strip() for x in part.replace("＝", "=").partition("="))
        if not sep or not header or word not in ROLE_WORDS:
            known = "、".join(ROLE_WORDS)
            raise UsageError(
                f"无法理解「{part}」，应写作「内容=民生实事」，可用的列：{known}", "--columns"
            )
        found[re.sub(r"\s+", "", header)] = ROLE_WORDS[word]
    return found


@dataclass(frozen=True)
class Labelled:
    role: Role
    value: str


def simplified(text: str) -> str:
    """Header and label words written in traditional characters, in simplified ones."""
    return text.translate(_TRADITIONAL)


def header_role(cell: str) -> Role:
    """The role a header cell's wording gives its column; anything unknown is a note.
    A remark in brackets does not count: 「重点工作任务(杭州市2项配合工作)」 is the task."""
    cleaned = re.sub(r"\s+|[(（][^()（）]*[)）]", "", simplified(cell))
    return next((role for role, pattern in HEADER_WORDS if pattern.search(cleaned)), Role.NOTE)


def starts_with_label(text: str) -> bool:
    """Whether `text` opens with a label such as 「牵头单位：」."""
    found = LABEL.match(text)
    return found is not None


def first_label(text: str) -> int | None:
    """Where the first label in `text` starts, if one follows the end of a sentence.

    「新增停车位 1000 个。责任单位:市住建局」 → the index of 责任单位; a label word in the
    middle of a sentence (「明确牵头单位:」 after other words) does not count.
    """
    for found in LABEL.finditer(text):
        before = text[: found.start()].rstrip()
        if _open_brackets(before):
            continue  # inside a bracket: the bracket is read as a whole
        if not before or before[-1] in "。；;.!！)）】]〕":
            return found.start()
    return None


def _open_brackets(text: str) -> bool:
    depth = 0
    for char in text:
        if char in "(（[【〔［":
            depth += 1
        elif char in ")）]】〕］":
            depth = max(depth - 1, 0)
    return depth > 0


def read_labels(text: str) -> list[Labelled]:
    """Every `label:value` in `text`, in order: 「牵头单位:A；责任单位:B、C」 → two."""
    found = list(LABEL.finditer(text))
    labelled: list[Labelled] = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        role = next((Role(name) for name, value in match.groupdict().items() if value), None)
        value = text[match.end() : end].strip(_BETWEEN)
        labelled.append(Labelled(role or Role.CO_UNITS, value))
    return labelled
