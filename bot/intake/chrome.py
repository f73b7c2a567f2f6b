"""The parts of a published document around its tasks: title, year, notice, attachments.

The title is the document's own heading before the first task (joined when it is split over
two lines, taken out of 「关于印发《…》的通知」 when only the notice names it). The plan's
year comes from the title, else the 文号 (〔2023〕), else the file name, else the signature
date. Attachment lists (「附件:1.…」) and signature lines are neither tasks nor the title.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TITLE_HINT = re.compile(
    r"责任分解|重点工作|任务分解|工作任务|分工方案|任务清单|责任清单|民生实事|实事项目|目标任务"
    r"|分解表|分解方案|工作事项|落实方案|任务分工|工作要点|分工|实事"
)
_NOTICE = re.compile(r"^.*?关于(?:印发|下达|分解)?(?P<title>.+?)的通知$")
_QUOTED = re.compile(r"《(?P<title>[^《》]+(?:《[^《》]*》[^《》]*)*)》")
_SENTENCE_END = ("。", ":", "：", "；", ";", "，", ",")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")
_DOC_NUMBER = re.compile(r"[〔\[［(（]\s*((?:19|20)\d{2})\s*[〕\]］)）]\s*\d+\s*号")
_SIGNATURE_DATE = re.compile(
    r"^\s*((?:19|20)\d{2}|二[〇○零O][〇○零O一二三四五六七八九]{2})\s*年\s*[\d一二三四五六七八九十]{1,3}\s*月"
    r"\s*[\d一二三四五六七八九十]{1,3}\s*日\s*$"
)
# 「成文日期:2023-01-03」「发布日期:2013-03-27」 on the page around the document.
_DATED = re.compile(r"(?:成文|发文|发布)日期\s*[:：]?\s*((?:19|20)\d{2})\s*[-年./]")
_PLAN_YEAR = re.compile(r"(?<![\u4e00-\u9fff])(?:计划)?年度\s*[:：]\s*((?:19|20)\d{2})")
_CN_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {
    "○": "0",
    "零": "0",
    "O": "0",
}
ATTACHMENT_LIST = re.compile(r"^附\s*件\s*[:：]")
_ENDS_NOTICE = re.compile(r"通\s*知$")
_NOT_TITLE = re.compile(
    r"^(?:附\s*件|\(此件|（此件|发布|来源|索引|文号|主题|发文|成文|字体|首页|您)"
)


def find_title(lines: Sequence[str]) -> str | None:
    """The document's own title among the lines before its first task, if it has one."""
    lines = _join_notice(lines)
    candidates = [i for i, line in enumerate(lines) if is_title_line(line)]
    if candidates:
        index = candidates[-1]
        title = lines[index]
        before = lines[index - 1] if index > 0 else ""
        if _continues_into(before, title):
            title = before + title
        return _tidy(title)
    for line in reversed(lines):
        if notice := _NOTICE.match(line.strip()):
            return _tidy(notice["title"])
    return None


def _join_notice(lines: Sequence[str]) -> list[str]:
    """「…关于」「印发2020年…的」「通 知」: a notice's heading broken over up to four lines."""
    joined: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        ends = next(
            (k for k in range(index, min(index + 4, len(lines))) if _ENDS_NOTICE.search(lines[k])),
            None,
        )
        if "关于" in line and not line.endswith(_SENTENCE_END) and ends is not None:
            parts = [part.strip() for part in lines[index : ends + 1]]
            joined.append(re.sub(r"通\s+知$", "通知", "".join(parts)))
            index = ends + 1
        else:
            joined.append(line)
            index += 1
    return joined


def is_title_line(line: str) -> bool:
    """Whether a line reads like a document's title (「2023年重点工作任务分解表」)."""
    text = line.strip()
    return (
        bool(_TITLE_HINT.search(text))
        and not text.endswith(_SENTENCE_END)
        and len(text) <= 60
        and not _NOT_TITLE.match(text)
        and not _NOTICE.match(text)
        and "。" not in text
    )


def _continues_into(before: str, title: str) -> bool:
    """「立山区政府2023年重点工作」 + 「任务分解和责任分工方案」: one title on two lines."""
    before = before.strip()
    if not before or before.endswith(_SENTENCE_END) or _NOT_TITLE.match(before):
        return False
    if _SIGNATURE_DATE.match(before) or len(before) + len(title) > 70 or "。" in before:
        return False
    starts_fresh = bool(_YEAR.search(title)) or title.strip().startswith(("《", "关于"))
    return not starts_fresh and (bool(_TITLE_HINT.search(before)) or bool(_YEAR.search(before)))


def _tidy(title: str) -> str:
    title = title.strip()
    if quoted := _QUOTED.fullmatch(title):
        title = quoted["title"]
    notice = _NOTICE.match(title)
    return (notice["title"] if notice else title).strip("《》 ")


def document_year(title: str | None, lines: Sequence[str], file_name: str = "") -> int | None:
    """The plan's year: title, 文号, file name, signature date — the first that names one
    (duban's own review sheet says 「计划年度：2023」)."""
    if title and (found := _YEAR.search(title)):
        return int(found.group(1))
    for line in lines:
        if found := _PLAN_YEAR.search(line):
            return int(found.group(1))
    for line in lines:
        if found := _DOC_NUMBER.search(line):
            return int(found.group(1))
    if found := _YEAR.search(file_name) or re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", file_name):
        return int(found.group(1))
    for line in lines:
        if signature := _SIGNATURE_DATE.match(line):
            return _year_value(signature.group(1))
    for line in lines:
        if dated := _DATED.search(line):
            return int(dated.group(1))
    return None


def _year_value(written: str) -> int:
    return int("".join(_CN_DIGIT.get(c, c) for c in written))
