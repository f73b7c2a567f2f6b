"""Responsibilities written in a trailing parenthesis instead of a 责任单位 line.

「……。（市政府办公室、市××办公室牵头，市级各有关部门及各县市区政府按职责分工负责）」:
the units before 牵头 lead, the rest are co-units, and the parenthesis leaves the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.intake.units import split_unit_list

_KEYWORDS = re.compile(r"牵头|负责|配合|责任单位|责任部门|参与|协同|落实")
_VERB_TAIL = re.compile(
    r"(?:按职责分工负责|按职责分工落实|按职责负责|按职能分工负责|分工负责|分别负责|共同负责"
    r"|共同推进|配合落实|协同推进|参与|配合|协同|负责|落实)$"
)
_LIST_LABEL = re.compile(r"^(?:责任单位|责任部门)\s*[:：]\s*")
_OPEN, _CLOSE = "(（", ")）"


@dataclass(frozen=True)
class Responsibility:
    text: str
    leads: list[str]
    co_units: list[str]


def read_trailing_responsibility(text: str) -> Responsibility | None:
    """Finds and reads the responsibility parenthesis at the end of an item, if any."""
    stripped = text.rstrip().rstrip("。.；;")
    start = _trailing_group_start(stripped)
    if start is None:
        return None
    inner = stripped[start + 1 : -1].strip()
    if not _KEYWORDS.search(inner):
        return None
    leads, co_units = _read_inner(inner)
    if not leads:
        return None
    remaining = text[:start].rstrip()
    return Responsibility(text=remaining, leads=leads, co_units=co_units)


def _trailing_group_start(text: str) -> int | None:
    """Index of the bracket that opens the balanced group closing the text."""
    if not text or text[-1] not in _CLOSE:
        return None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] in _CLOSE:
            depth += 1
        elif text[index] in _OPEN:
            depth -= 1
            if depth == 0:
                return index
    return None


def _read_inner(inner: str) -> tuple[list[str], list[str]]:
    if _LIST_LABEL.match(inner):
        names = split_unit_list(_LIST_LABEL.sub("", inner))
        return names[:1], names[1:]
    head, sep, tail = inner.partition("牵头")
    if sep:
        return _names(head), _names(tail)
    names = _names(inner)
    return names[:1], names[1:]


def _names(part: str) -> list[str]:
    """Unit names in one part, with the verbs around them (按职责分工负责, 配合) removed."""
    names: list[str] = []
    for segment in re.split(r"[,，;；]", part):
        segment = _VERB_TAIL.sub("", segment.strip(" ,，、"))
        for piece in re.split(r"(?<!涉)及", segment):
            names.extend(split_unit_list(piece))
    return names
