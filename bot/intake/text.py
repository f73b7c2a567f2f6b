"""The plain-text reader: numbered items and what each says about its units and leader.

Reads the layouts offices publish: a 责任单位 line after each item (the sample, 舟山 2020);
separate 牵头单位 / 责任单位 / 责任领导 / 完成时限 lines; labels or verbs in a trailing bracket;
「由X副市长负责，A牵头」; items numbered 1. 1、 （1） （一） 一、 ①; headings that name the
overseeing leader or the lead unit; a whole document on one line. Which numbering holds the
tasks is decided from where the units are, so 「（一）」 items are tasks in one document and
section headings in another. Tables copied from web pages are left to `flat_tables`.

It reads line by line in one pass, then decides which items are tasks in a second; each line
is looked at a bounded number of times, so the time grows linearly with the document.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from bot.intake.chrome import ATTACHMENT_LIST, document_year, find_title, is_title_line
from bot.intake.fields import Fields
from bot.intake.flat_tables import read_flat_tables
from bot.intake.labels import LABEL, first_label, read_labels
from bot.intake.leaders import Leader, find_leader, read_leader
from bot.intake.model import RawDocument, RawTask
from bot.intake.numbering import Numbered, Scheme, loose_arabic, numbered
from bot.intake.responsibility import (
    read_opening_clause,
    read_trailing_responsibility,
    split_responsibilities,
)
from bot.intake.units import UNIT_ENDING, is_collective, split_unit_list

_FOLD = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "：": ":"})
_CJK = re.compile(r"[\u4e00-\u9fff]")
# 「一、县示范区管委会牵头工作(8项)」: a heading that names the lead unit of the tasks below.
_UNIT_HEADING = re.compile(
    r"^(?P<units>[^，,。；;:]{2,40}?)(?:牵头|负责|主抓|承担)(?:的)?(?:重点|主要)?(?:工作|任务|事项)"
)
_ATTACHMENT_MARK = re.compile(r"^附\s*件\s*\d*\s*$")
# A document copied onto one line: break it before each number that follows a sentence.
_INLINE_NUMBER = re.compile(
    r"(?<=[。；;)）\s])\s*(?=(?:[一二三四五六七八九十]{1,3}、|[(（][一二三四五六七八九十]{1,3}[)）]"
    r"|\d{1,3}[.、](?!\d)))"
)
_LONG_LINE = 300
# 「…(省发改委负责)(二)公共财政收入…」: an item written straight after a closing bracket.
_AFTER_BRACKET = re.compile(
    r"(?<=[)）\]】])\s*(?=(?:[(（][一二三四五六七八九十]{1,3}[)）]|(?<!\d)\d{1,3}[.、](?!\d)))"
)
# Only so many recent lines of an item are searched for its closing bracket.
_TAIL_LINES = 3


@dataclass
class _Block:
    """A numbered item and the lines after it, until the next accepted number."""

    number: Numbered
    line: int  # index of its first line among all lines read
    lines: list[str] = field(default_factory=list)
    fields: Fields = field(default_factory=Fields)
    closed: bool = False  # a label line was read: later plain lines are not its text
    trailing: bool = False  # its text ends with a responsibility bracket

    @property
    def scheme(self) -> Scheme:
        return self.number.scheme

    @property
    def complete(self) -> bool:
        return self.fields.has_units or self.trailing

    def add_text(self, line: str) -> None:
        if self.closed:
            return
        self.lines.append(line)
        if line.rstrip("。.；; ").endswith(tuple(")）]】〕］")):
            tail = "".join(self.lines[-_TAIL_LINES:])
            self.trailing = read_trailing_responsibility(tail) is not None
            self.closed = self.trailing
        elif len(self.lines) <= 2 and read_opening_clause(line):
            self.trailing = True


@dataclass
class _Reader:
    blocks: list[_Block] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    plain: list[int] = field(default_factory=list)  # indexes of lines that open no item
    last: dict[Scheme, int] = field(default_factory=dict)
    attachments: bool = False  # inside 「附件:1.…  2.…」, whose numbers are not items

    @property
    def current(self) -> _Block | None:
        return self.blocks[-1] if self.blocks else None

    def feed(self, line: str) -> None:
        self.lines.append(line)
        current = self.current
        self.attachments = (self.attachments and bool(numbered(line))) or bool(
            ATTACHMENT_LIST.match(line)
        )
        if current is not None and LABEL.match(line):
            self.read_label_line(current, line)
        elif not self.attachments and (found := self.item_start(line)):
            self.open_block(found)
        else:
            self.plain.append(len(self.lines) - 1)
            if is_title_line(line) or _ATTACHMENT_MARK.match(line) or self.attachments:
                self.last.clear()  # perhaps a new part of the document: numbering may restart
            if current is not None and not self.attachments:
                self.add_text(current, line)

    def item_start(self, line: str) -> Numbered | None:
        found = numbered(line)
        if found is not None and self.accepts(found):
            return found
        loose = loose_arabic(line)
        return loose if loose is not None and self.follows(loose) else None

    def accepts(self, found: Numbered) -> bool:
        if not _CJK.search(found.text[:40]):
            return False
        last = self.last.get(found.scheme, 0)
        if found.value == last + 1 or last == 0:
            return True
        if found.scheme is Scheme.CHINESE and found.value == 1:
            return True
        current = self.current
        return current is not None and current.complete and found.value > last

    def follows(self, found: Numbered) -> bool:
        """「2.10月底前…」 starts item 2 only right after a complete item 1."""
        current = self.current
        return (
            current is not None
            and current.scheme is Scheme.ARABIC
            and current.complete
            and found.value == self.last.get(Scheme.ARABIC, 0) + 1
        )

    def open_block(self, found: Numbered) -> None:
        for deeper in [s for s in self.last if s > found.scheme]:
            del self.last[deeper]
        self.last[found.scheme] = found.value
        block = _Block(replace(found, text=""), len(self.lines) - 1)
        self.blocks.append(block)
        self.add_text(block, found.text)

    def add_text(self, block: _Block, line: str) -> None:
        if not line:
            return
        at = first_label(line)
        if at is None:
            block.add_text(line)
            return
        if at > 0:
            block.add_text(line[:at])
        self.read_label_line(block, line[at:])

    def read_label_line(self, block: _Block, line: str) -> None:
        labels = read_labels(line)
        for index, labelled in enumerate(labels):
            value = labelled.value
            glued = _glued_item(value, self.last.get(block.scheme, 0) + 1)
            if glued is not None and index == len(labels) - 1:
                block.fields.put(labelled.role, glued[0])
                block.closed = True
                self.feed(glued[1])
                return
            block.fields.add(labelled)
        block.closed = True


def _glued_item(value: str, expected: int) -> tuple[str, str] | None:
    """「市府办125.强化督考机制…」: the next item written straight after the last unit."""
    for match in re.finditer(rf"(?<!\d){expected}\s*[.、](?!\d)", value):
        if match.start() > 0:
            return value[: match.start()], value[match.start() :]
    return None


@dataclass
class _Heading:
    scheme: Scheme
    text: str
    leader: Leader | None
    units: list[str]


@dataclass
class _Decision:
    """The second pass: which blocks are tasks, and the headings they sit under."""

    blocks: list[_Block]
    tasks: list[RawTask] = field(default_factory=list)
    headings: list[_Heading] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)
    first_line: int | None = None

    def run(self) -> None:
        covered = _covered_by_unit_headings(self.blocks)
        dominant = _dominant_scheme(self.blocks, covered)
        start = _first_task(self.blocks, dominant, covered)
        blocks = self.blocks[start:]
        for index, block in enumerate(blocks):
            heading_units = _heading_units(block)
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            if heading_units and _stands_alone(block, following):
                self.open_heading(block, heading_units)
                self.add_task(replace(block, lines=block.lines[1:]))
            elif block.complete and not heading_units:
                self.add_task(block)
            elif block.scheme == dominant and not heading_units and not _names_leader(block):
                if _parent_of_tasks(block, following):
                    self.open_heading(block, [])
                else:
                    self.add_task(block)
            elif block.scheme > dominant and self.tasks and not heading_units:
                self.extend_task(block)
            else:
                self.open_heading(block, heading_units)

    def open_heading(self, block: _Block, units: list[str]) -> None:
        text = "".join(block.lines).strip()
        self.headings = [h for h in self.headings if h.scheme < block.scheme]
        self.headings.append(_Heading(block.scheme, text, find_leader(text), units))

    def extend_task(self, block: _Block) -> None:
        last = self.tasks[-1]
        self.tasks[-1] = replace(last, text=last.text + "".join(block.lines))

    def add_task(self, block: _Block) -> None:
        if self.first_line is None:
            self.first_line = block.line
        several = [] if block.fields.has_units else split_responsibilities("".join(block.lines))
        for part in several:
            self.add_one(block, part.text, part.fields)
        if not several:
            self.add_one(block, *_task_fields(block))

    def add_one(self, block: _Block, text: str, fields: Fields) -> None:
        if not fields.leads and not fields.units:
            fields.leads += next((h.units for h in reversed(self.headings) if h.units), [])
        leads, co_units = fields.responsibility()
        leader = fields.supervisor or next(
            (h.leader for h in reversed(self.headings) if h.leader), None
        )
        name, title = leader or (None, None)
        printed = str(block.number.value)
        number = self.number(block)
        self.tasks.append(
            RawTask(
                number=number,
                text=text,
                section=self.headings[-1].text if self.headings else None,
                supervisor=name,
                supervisor_title=title or None,
                leads=leads,
                co_units=co_units,
                deadline_text=fields.deadline_text,
                notes=(("原编号", printed),) if number != printed else (),
            )
        )

    def number(self, block: _Block) -> str:
        number = str(block.number.value)
        if number in self.numbers:
            number = str(len(self.tasks) + 1)
            while number in self.numbers:
                number += "-1"
            self.warnings.append(f"任务编号 {block.number.value} 重复，已按「{number}」编号处理")
        self.numbers.add(number)
        return number


def _task_fields(block: _Block) -> tuple[str, Fields]:
    text = "".join(block.lines).strip()
    fields = block.fields
    if not fields.has_units:
        opening = (read_opening_clause(line) for line in block.lines[:2])
        found = read_trailing_responsibility(text) or next((o for o in opening if o), None)
        if found is not None:
            text = found.text if found.text else text
            merged = Fields()
            merged.merge(found.fields)
            merged.merge(fields)
            fields = merged
    return text, fields


def _covered_by_unit_headings(blocks: list[_Block]) -> set[int]:
    """Items below a heading that names their lead unit (「一、县示范区管委会牵头工作」)."""
    covered: set[int] = set()
    heading: Scheme | None = None
    for index, block in enumerate(blocks):
        if heading is not None and block.scheme <= heading:
            heading = None
        if _heading_units(block):
            heading = block.scheme
        elif heading is not None:
            covered.add(index)
    return covered


def _dominant_scheme(blocks: list[_Block], covered: set[int]) -> Scheme:
    """The numbering that holds the tasks: the one most items with units use."""
    with_units = Counter(b.scheme for i, b in enumerate(blocks) if b.complete or i in covered)
    if with_units:
        return max(with_units, key=lambda s: (with_units[s], s))
    present = {b.scheme for b in blocks}
    return Scheme.ARABIC if Scheme.ARABIC in present else max(present, default=Scheme.ARABIC)


def _first_task(blocks: list[_Block], dominant: Scheme, covered: set[int]) -> int:
    """Where the task list begins: at the first item with units, or the run of numbered items
    leading up to it (a notice's own 「一、二、」 points before the list are not tasks)."""
    first = next((i for i, b in enumerate(blocks) if b.complete or i in covered), None)
    if first is None:
        return next((i for i, b in enumerate(blocks) if b.scheme == dominant), len(blocks))
    while first > 0:
        before, block = blocks[first - 1], blocks[first]
        if before.scheme != block.scheme or before.number.value != block.number.value - 1:
            break
        first -= 1
    # Headings just above the first task still give it its section and leader.
    while first > 0 and blocks[first - 1].scheme < dominant and not blocks[first - 1].complete:
        first -= 1
        if blocks[first].scheme == Scheme.CHINESE:
            break
    return first


def _stands_alone(block: _Block, following: _Block | None) -> bool:
    """「（一）省监察厅牵头的工作」 then one unnumbered paragraph: the heading is the task."""
    return len(block.lines) > 1 and (following is None or following.scheme <= block.scheme)


def _parent_of_tasks(block: _Block, following: _Block | None) -> bool:
    """「（一）全力推进产业项目建设。」 followed by 「1.…（省发改委主办…）」: a heading."""
    return following is not None and following.scheme > block.scheme and following.complete


def _names_leader(block: _Block) -> bool:
    """「（一）王五副市长分管的工作」: an item without units that opens with a leader heads
    a section."""
    return not block.complete and read_leader("".join(block.lines[:1])) is not None


def _heading_units(block: _Block) -> list[str]:
    if block.trailing or block.fields.leads or block.fields.units:
        return []
    found = _UNIT_HEADING.match("".join(block.lines))
    if found is None:
        return []
    names = split_unit_list(found["units"])
    fits = all(UNIT_ENDING.search(n) or is_collective(n) for n in names)
    return names if names and fits else []


def unfold(text: str) -> list[str]:
    """The document's lines, folded (full-width digits, ：), with one-line documents broken."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.translate(_FOLD).strip()
        splitter = _INLINE_NUMBER if len(line) > _LONG_LINE else _AFTER_BRACKET
        lines.extend(part.strip() for part in splitter.split(line) if part.strip())
    return lines


def read_text(text: str, *, source: str) -> RawDocument:
    """Parses a responsibility breakdown written as plain text into raw tasks."""
    lines = unfold(text)
    reader = _Reader()
    for line in lines:
        reader.feed(line)
    decision = _Decision(reader.blocks)
    decision.run()
    end = decision.first_line if decision.first_line is not None else len(reader.lines)
    before = [reader.lines[i] for i in reader.plain if i < end]
    tasks, warnings = decision.tasks, decision.warnings
    table_tasks, table_start = read_flat_tables(lines)
    if _with_units(table_tasks) > _with_units(tasks):
        tasks, warnings = table_tasks, []
        before = [line for line in lines[:table_start] if not numbered(line)]
    title = find_title(before)
    warnings = [*warnings, *(f"任务 {t.number} 未找到责任单位" for t in tasks if not t.leads)]
    return RawDocument(
        title=title, tasks=tuple(tasks), warnings=tuple(warnings), year=document_year(title, before)
    )


def _with_units(tasks: list[RawTask]) -> int:
    return sum(1 for task in tasks if task.leads)
