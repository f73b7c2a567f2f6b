"""The plain-text reader: numbered items, each followed by its 责任单位 line.

Reads the layout of the sample (舟山 2020) and the variants other cities use: full-width
punctuation, section headings that name the overseeing leader, responsibilities in a
trailing parenthesis, separate 牵头/配合 lines, and items glued to the previous unit line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.intake.model import RawDocument, RawTask
from bot.intake.responsibility import read_trailing_responsibility
from bot.intake.units import read_leader, split_unit_list

_FOLD = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "：": ":"})
_CN_NUMERAL = "一二三四五六七八九十"
_HEADING = re.compile(rf"^[{_CN_NUMERAL}]+[、.]\s*(?P<text>.+)$")
_SUBHEADING = re.compile(rf"^[(（][{_CN_NUMERAL}]+[)）]\s*(?P<text>.+)$")
_ITEM = re.compile(r"^(?P<number>\d{1,4})\s*[.、](?!\d)\s*(?P<text>.*)$")
# 「2.10月底前…」: only an item when it is the next number and the previous item is complete.
_LOOSE_ITEM = re.compile(r"^(?P<number>\d{1,4})\s*[.、]\s*(?P<text>.*)$")
_FIELD = re.compile(
    r"^(?P<label>责任单位|责任部门|牵头单位|牵头部门|配合单位|配合部门|协办单位|参与单位"
    r"|责任领导|分管领导|牵头领导|完成时限|时间节点|完成时间|时限要求)\s*:\s*(?P<value>.*)$"
)
_INLINE_FIELD = re.compile(r"(?P<before>.*?)(?P<field>(?:责任单位|牵头单位)\s*:.*)$")
_TITLE_HINT = re.compile(r"(责任分解|重点工作|任务分解|工作任务)")
_NOTICE = re.compile(r"^.*?关于印发(?P<title>.+?)的通知$")


@dataclass
class _Item:
    number: str
    lines: list[str]
    section: str | None
    supervisor: tuple[str, str] | None
    leads: list[str] = field(default_factory=list)
    co_units: list[str] = field(default_factory=list)
    deadline_text: str | None = None
    has_units: bool = False

    def add_field(self, label: str, value: str) -> None:
        if label.startswith(("责任单位", "责任部门")):
            names = split_unit_list(value)
            self.leads, self.co_units = names[:1], [*self.co_units, *names[1:]]
        elif label.startswith("牵头单位") or label.startswith("牵头部门"):
            self.leads = split_unit_list(value)
        elif label.endswith("领导"):
            leader = read_leader(value)
            self.supervisor = leader or (value.strip(), "")
            return
        elif label.startswith(("完成", "时间", "时限")):
            self.deadline_text = value.strip()
            return
        else:
            self.co_units = [*self.co_units, *split_unit_list(value)]
        self.has_units = True

    def build(self) -> RawTask:
        text = "".join(self.lines).strip()
        leads, co_units = self.leads, self.co_units
        if not self.has_units:
            found = read_trailing_responsibility(text)
            if found is not None:
                text, leads, co_units = found.text, found.leads, found.co_units
        name, title = self.supervisor or (None, None)
        return RawTask(
            number=self.number,
            text=text,
            section=self.section,
            supervisor=name,
            supervisor_title=title or None,
            leads=tuple(leads),
            co_units=tuple(co_units),
            deadline_text=self.deadline_text,
        )


@dataclass
class _Reader:
    items: list[_Item] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)
    preamble: list[str] = field(default_factory=list)
    section: str | None = None
    supervisor: tuple[str, str] | None = None
    top_supervisor: tuple[str, str] | None = None
    section_changed: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def current(self) -> _Item | None:
        return self.items[-1] if self.items else None

    def feed(self, line: str) -> None:
        if (heading := _HEADING.match(line)) and not _ITEM.match(line):
            self.open_section(heading["text"], top=True)
        elif sub := _SUBHEADING.match(line):
            self.open_section(sub["text"], top=False)
        elif (found := _FIELD.match(line)) and self.current is not None:
            self.read_field(found["label"], found["value"])
        elif item := self.item_start(line):
            self.open_item(item["number"], item["text"])
        elif self.current is None:
            self.preamble.append(line)
        elif not self.current.has_units:
            self.current.lines.append(line)

    def open_section(self, text: str, *, top: bool) -> None:
        leader = read_leader(text)
        if top:
            self.top_supervisor = leader
        self.section = text.strip()
        self.supervisor = leader or (None if top else self.top_supervisor)
        self.section_changed = True

    def accepts(self, number: int, text: str) -> bool:
        if not re.search(r"[\u4e00-\u9fff]", text):
            return False
        current = self.current
        if current is None:
            return True
        last = int(current.number.split("-")[-1])
        if number == last + 1:
            return True
        done = current.has_units or read_trailing_responsibility("".join(current.lines))
        return bool(done) and (number > last or (number == 1 and self.section_changed))

    def item_start(self, line: str) -> re.Match[str] | None:
        strict = _ITEM.match(line)
        if strict and self.accepts(int(strict["number"]), strict["text"]):
            return strict
        loose = _LOOSE_ITEM.match(line)
        return loose if loose and self.follows(int(loose["number"])) else None

    def follows(self, number: int) -> bool:
        current = self.current
        return (
            current is not None
            and current.has_units
            and (number == int(current.number.split("-")[-1]) + 1)
        )

    def open_item(self, number: str, text: str) -> None:
        if number in self.numbers:
            self.warnings.append(f"任务编号 {number} 重复，已按「{len(self.items) + 1}」编号处理")
            number = str(len(self.items) + 1)
        self.items.append(_Item(str(int(number)), [], self.section, self.supervisor))
        self.numbers.add(self.items[-1].number)
        self.section_changed = False
        if inline := _INLINE_FIELD.match(text):
            text = inline["before"]
            self.current.lines.append(text)  # type: ignore[union-attr]
            self.feed(inline["field"])
        elif text:
            self.current.lines.append(text)  # type: ignore[union-attr]

    def read_field(self, label: str, value: str) -> None:
        current = self.current
        assert current is not None
        glued = _glued_item(value, int(current.number.split("-")[-1]) + 1)
        if glued is not None:
            value, rest = glued
            current.add_field(label, value)
            self.feed(rest)
        else:
            current.add_field(label, value)


def _glued_item(value: str, expected: int) -> tuple[str, str] | None:
    """「市府办125.强化督考机制…」: the next item written straight after the last unit."""
    for match in re.finditer(rf"(?<!\d){expected}\s*[.、](?!\d)", value):
        if match.start() > 0:
            return value[: match.start()], value[match.start() :]
    return None


def read_text(text: str, *, source: str) -> RawDocument:
    """Parses a responsibility breakdown written as plain text into raw tasks."""
    reader = _Reader()
    for raw in text.splitlines():
        line = raw.translate(_FOLD).strip()
        if line:
            reader.feed(line)
    tasks = tuple(item.build() for item in reader.items)
    for task in tasks:
        if not task.leads:
            reader.warnings.append(f"任务 {task.number} 未找到责任单位")
    return RawDocument(
        title=find_title(reader.preamble), tasks=tasks, warnings=tuple(reader.warnings)
    )


def find_title(preamble: list[str]) -> str | None:
    """The document's own title: the last title-like line before the first item."""
    for line in reversed(preamble):
        if _TITLE_HINT.search(line) and not line.endswith(("。", ":")) and len(line) <= 60:
            notice = _NOTICE.match(line)
            return (notice["title"] if notice else line).strip("《》 ")
    return None
