"""Leaders as documents name them: the supervisor (分管领导) of a task or a section.

「一、王纲市长主抓重点工作」, 「（王五副市长分管）」, 「由杨志武副市长负责」 and a label's value
(「责任领导：王五」「牵头领导:常务副市长王五」) all give a name and, where written, a title.
"""

from __future__ import annotations

import re

LEADER_TITLES = tuple(
    sorted(
        (
            "常务副省长",
            "副省长",
            "省长",
            "常务副市长",
            "副市长",
            "市长",
            "常务副州长",
            "副州长",
            "州长",
            "常务副县长",
            "副县长",
            "县长",
            "常务副区长",
            "副区长",
            "区长",
            "副旗长",
            "旗长",
            "副镇长",
            "镇长",
            "副书记",
            "书记",
            "副秘书长",
            "秘书长",
            "副主任",
            "主任",
            "副主席",
            "主席",
            "市委常委",
            "区委常委",
            "县委常委",
            "常委",
        ),
        key=len,
        reverse=True,
    )
)
_TITLE = "|".join(LEADER_TITLES)
_NAME = r"[\u4e00-\u9fff×xXＸ＊*]{2,4}?"
_VERBS = r"主抓|牵头|分管|负责|领衔|联系|挂帅|督办|包抓|挂点"
_TITLES = rf"(?:{_TITLE})(?:[、,，]?(?:{_TITLE}))*"  # 「李丹常委、常务副区长」
_AT_START = re.compile(
    rf"^由?(?P<name>[^\s、,，()（）]{{1,8}}?)\s*(?P<title>{_TITLES})(?:同志)?\s*(?:{_VERBS}|$)"
)
_NAME_TITLE = re.compile(rf"^(?P<name>{_NAME})\s*(?P<title>{_TITLE})$")
_TITLE_NAME = re.compile(rf"^(?P<title>{_TITLE})\s*(?P<name>{_NAME})$")
_BRACKETED_TITLE = re.compile(rf"^(?P<name>{_NAME})\s*[(（](?P<title>{_TITLE})[)）]$")
_PLAIN_NAME = re.compile(r"^[\u4e00-\u9fff×xXＸ＊*]{2,4}$")
_IN_BRACKETS = re.compile(r"[(（【\[](?P<inner>[^()（）【】\[\]]{2,24})[)）】\]]")
# 「由杨志武副市长负责」: a leader introduced in running text.
_BY = re.compile(rf"由(?P<who>{_NAME}(?:{_TITLE})|(?:{_TITLE}){_NAME})(?:同志)?(?:{_VERBS})")
_UNIT_ENDING = re.compile(r"(?:局|委|办|院|中心|政府|部|厅|会|所|站|队|司|室)$")
Leader = tuple[str, str | None]


def read_leader(text: str) -> tuple[str, str] | None:
    """「王××副市长主抓重点工作」 → ("王××", "副市长"); None when no leader opens the text."""
    match = _AT_START.match(text.strip())
    return (match["name"], match["title"]) if match else None


def find_leader(text: str) -> Leader | None:
    """A leader named anywhere in a heading or a task: at its start, in brackets, or 「由…负责」."""
    if leader := read_leader(text):
        return leader
    for found in _IN_BRACKETS.finditer(text):
        inner = re.sub(rf"(?:同志)?(?:{_VERBS})$", "", found["inner"].strip())
        person = _titled(inner)
        if person is not None:
            return person
    if by := _BY.search(text):
        return _titled(by["who"])
    return None


def read_person(value: str) -> Leader | None:
    """A 责任领导 label's value: 「王五」「王五副市长」「常务副市长王五」「王五（副市长）」."""
    first = re.split(r"[、,，;；/\n]", value.strip(" ：:。"), maxsplit=1)[0].strip()
    # 「刘 哲」 is one name padded to line up in a table; 「王五 李四」 are two.
    first = "".join(first.split()) if len("".join(first.split())) <= 3 else first.split()[0]
    first = re.sub(rf"(?:同志)?(?:{_VERBS})?$", "", first.removesuffix("同志"))
    if person := _titled(first):
        return person
    if _PLAIN_NAME.match(first) and not _UNIT_ENDING.search(first):
        return first, None
    return None


def _titled(text: str) -> tuple[str, str] | None:
    for pattern in (_NAME_TITLE, _TITLE_NAME, _BRACKETED_TITLE):
        if match := pattern.match(text.strip()):
            return match["name"], match["title"]
    return None
