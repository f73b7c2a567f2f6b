"""Responsibilities written into a task's text instead of on lines of their own.

- A trailing bracket with labels: 「（责任领导:X；牵头单位:Y；责任单位:Z）」, also in [] 【】 〔〕.
- A trailing bracket with verbs: 「（市政府办公室、市大数据局牵头，市级各有关部门按职责分工负责）」,
  「(省财政厅主办,省国税局、地税局协办)」, 「（市商务局负责）」, or a bare unit list
  「(市发展改革委,各县〔市、区〕政府)」.
- A clause at the start of the text: 「由杨志武副市长负责,市发改委牵头,相关部门配合,……」.

The units before 牵头/主办 lead, the rest are co-units; the bracket leaves the task's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.intake.fields import Fields
from bot.intake.labels import LABEL, Role, read_labels
from bot.intake.leaders import find_leader
from bot.intake.units import looks_like_unit, split_unit_list

_OPEN, _CLOSE = "(（[【〔［", ")）]】〕］"
_LEAD_VERB = re.compile(r"牵头|主办|主责|总负责")
_VERB_TAIL = re.compile(
    r"(?:按职责分工负责|按职责分工落实|按职责负责|按职能分工负责|分工负责|分别负责|共同负责"
    r"|分别牵头|共同牵头|共同推进|配合落实|协同推进|按职责落实|参与|配合|协同|协办|协助|负责|落实|牵头|主办)$"
)
_CO_VERB = re.compile(r"配合|协办|协同|参与|协助|按职责|分工负责|分别负责|共同负责|落实")
_LIST_LABEL = re.compile(r"^(?:责任单位|责任部门)\s*[:：]\s*")
_CLAUSE_SPLIT = re.compile(r"[,，;；]")
_OPENING = re.compile(r"^由[^,，。；;]{2,14}?(?:负责|主抓|分管|牵头)[,，]")


@dataclass(frozen=True)
class Responsibility:
    text: str
    fields: Fields


def read_trailing_responsibility(text: str) -> Responsibility | None:
    """Finds and reads the responsibility bracket at the end of an item, if any."""
    stripped = text.rstrip().rstrip("。.；;")
    start = trailing_group_start(stripped)
    if start is None:
        return None
    fields = read_bracket(stripped[start + 1 : -1].strip())
    if fields is None:
        return None
    return Responsibility(text=text[:start].rstrip(), fields=fields)


def read_bracket(inner: str) -> Fields | None:
    """What a responsibility bracket says, or None when the bracket is ordinary text."""
    fields = Fields()
    if LABEL.match(inner):
        for labelled in read_labels(inner):
            fields.add(labelled)
        return fields if fields.has_units or fields.supervisor else None
    if _LIST_LABEL.match(inner):
        fields.put(Role.UNITS, _LIST_LABEL.sub("", inner))
        return fields
    if _read_verbs(inner, fields) or _read_bare_list(inner, fields):
        return fields
    return None


def split_responsibilities(text: str) -> list[Responsibility]:
    """「…完成。(牵头责任单位:水利局…)。因地制宜…(牵头责任单位:城管局…)」: one item that
    holds several assignments, each closed by its own bracket. Fewer than two: []."""
    found: list[Responsibility] = []
    start, depth, opened = 0, 0, 0
    for index, char in enumerate(text):
        if char in _OPEN:
            depth += 1
            opened = index if depth == 1 else opened
        elif char in _CLOSE and depth:
            depth -= 1
            after = text[index + 1 : index + 2]
            if depth == 0 and after in ("", "。", "；", ";", "."):
                fields = read_bracket(text[opened + 1 : index].strip())
                if fields is not None and fields.has_units:
                    found.append(Responsibility(text[start:opened].strip(" 。；;"), fields))
                    start = index + 1
    return found if len(found) > 1 else []


def read_opening_clause(text: str) -> Responsibility | None:
    """「由X副市长负责,A牵头,B配合,……」 at the start of a task's text."""
    opening = _OPENING.match(text)
    if opening is None:
        return None
    leader = find_leader(opening.group(0))
    clauses = _CLAUSE_SPLIT.split(text[opening.end() :])
    taken: list[str] = []
    for clause in clauses[:3]:
        if not _VERB_TAIL.search(clause.strip()) or not _all_units(_names(clause)):
            break
        taken.append(clause)
    fields = Fields(supervisor=leader)
    if not taken or not _read_verbs("，".join(taken), fields):
        return None
    return Responsibility(text=text, fields=fields)


def trailing_group_start(text: str) -> int | None:
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


def _read_verbs(inner: str, fields: Fields) -> bool:
    """「A、B牵头，C配合」「A主办,B协办」「A负责」: True when the bracket names units by verb."""
    lead = _LEAD_VERB.search(inner)
    if lead is not None:
        leads, rest = _names(inner[: lead.start()]), _names(inner[lead.end() :])
        if not leads or not _all_units(leads):
            return False
        fields.leads += leads
        fields.co_units += rest
        return True
    if not _VERB_TAIL.search(inner.rstrip()) and not _CO_VERB.search(inner):
        return False
    names = _names(inner)
    if not names or not _all_units(names):
        return False
    fields.units += names
    return True


def _read_bare_list(inner: str, fields: Fields) -> bool:
    """「(市发展改革委,各县〔市、区〕政府)」: a bracket that holds nothing but unit names."""
    names = split_unit_list(inner)
    short = any(len(name) < 3 for name in names)
    if not names or short or not _all_units(names) or len(inner) > 200:
        return False
    fields.units += names
    return True


def _names(part: str) -> list[str]:
    """Unit names in one part, with the verbs around them (按职责分工负责, 配合) removed."""
    names: list[str] = []
    for segment in _CLAUSE_SPLIT.split(part):
        segment = _VERB_TAIL.sub("", segment.strip(" ,，、"))
        for piece in re.split(r"(?<![涉普])及", segment):
            names.extend(split_unit_list(piece))
    return names


def _all_units(names: list[str]) -> bool:
    return all(looks_like_unit(name) for name in names)
