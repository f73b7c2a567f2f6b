"""Tables copied from web pages into text, where the grid is lost.

A page's table arrives one cell per line (序号, then the task, its units, its deadline), with
「|」 between cells, or one row per line with cells separated by spaces. Empty cells vanish
and merged cells appear once, so a row's cells are matched to the header's columns by what
they look like: unit names go to a unit column, 「12月底前」 to the deadline, a person's name
to the leader, the long sentence to the task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from bot.intake.chrome import is_title_line
from bot.intake.deadlines import read_deadline_cell
from bot.intake.fields import Fields
from bot.intake.labels import LABEL, Role, header_role, one_text_column, simplified
from bot.intake.leaders import Leader, find_leader, read_person
from bot.intake.model import RawTask
from bot.intake.numbering import Scheme, numbered
from bot.intake.units import looks_like_unit, split_unit_list

_MAX_HEADER_CELL = 14
_BARE_NUMBER = re.compile(r"^(?P<n>\d{1,4})[*＊]?$")
_SPACED_ROW = re.compile(r"^(?P<n>\d{1,4})\s+(?P<rest>\S.*)$")
_FIGURE = re.compile(
    r"^[\d.,，%％/／~～\-—]+\s*[\u4e00-\u9fff]{0,4}(?:/[\d.]+[\u4e00-\u9fff]{0,4})*$"
)
_MARKS = "▲★☆△●◆■※*＊"
_CHROME = re.compile(r"^(?:分享到|打印|关闭|【|字体|来源|责任编辑|扫一扫)")
_UNIT_ROLES = (Role.LEADS, Role.UNITS, Role.CO_UNITS)


class Kind(Enum):
    LABELLED = "labelled"  # 「省牵头单位:省农业农村厅」: says what it is; kept as a note
    UNITS = "units"
    PERSON = "person"
    DEADLINE = "deadline"
    FIGURE = "figure"
    TEXT = "text"


@dataclass(frozen=True)
class FlatHeader:
    start: int  # index of the header's first line
    end: int  # index after its last line
    roles: tuple[Role, ...]
    names: tuple[str, ...]
    spaced: bool  # one row per line, cells separated by spaces


def cells_of(line: str) -> list[str]:
    """The cells of one line: 「24 |」 → ["24"], 「| a | b |」 → ["a", "b"]."""
    return [cell.strip() for cell in line.split("|") if cell.strip()]


def find_headers(lines: Sequence[str]) -> list[FlatHeader]:
    """Every run of lines that reads as a table header (序号, 工作任务, 责任单位, …)."""
    headers: list[FlatHeader] = []
    index = 0
    while index < len(lines):
        header = _header_at(lines, index)
        if header is None:
            index += 1
            continue
        headers.append(header)
        index = header.end
    return headers


def _header_at(lines: Sequence[str], index: int) -> FlatHeader | None:
    spaced = lines[index].split()
    if len(spaced) >= 3 and all(len(c) <= _MAX_HEADER_CELL for c in spaced):
        roles = tuple(header_role(c) for c in spaced)
        if _fits_header(roles):
            return FlatHeader(index, index + 1, one_text_column(roles, spaced), tuple(spaced), True)
    if not (cells := cells_of(lines[index])) or header_role(cells[0]) is Role.NOTE:
        return None  # a header starts with a column name (leading 「分块」-like cells are dropped)
    names: list[str] = []
    end = index
    while end < len(lines):
        cells = cells_of(lines[end])
        if cells and not all(map(_header_cell, cells)):
            break
        names.extend(cells)  # a line of bare 「|」 separators continues the header
        end += 1
    roles = tuple(header_role(name) for name in names)
    if len(names) < 2 or not _fits_header(roles):
        return None
    return FlatHeader(index, end, one_text_column(roles, names), tuple(names), False)


def _header_cell(cell: str) -> bool:
    """A column name: short, no punctuation, not a number, a date, a unit or a title."""
    known = header_role(cell) is not Role.NOTE
    return (
        numbered(cell) is None
        and not (re.search(r"(?:19|20)\d{2}年", cell) and is_title_line(cell))
        and (len(cell) <= _MAX_HEADER_CELL or (known and len(cell) <= 2 * _MAX_HEADER_CELL))
        and not re.search(r"[:：。，,；;]", cell)
        and not re.fullmatch(r"[\d\s.]+", cell)
        and not _looks_like_units(cell)
        and not re.search(r"\d+\s*月\s*\d+\s*日|分解表|清单$|方案$", simplified(cell))
    )


def _fits_header(roles: tuple[Role, ...]) -> bool:
    known = set(roles) - {Role.NOTE}
    has_units = bool(known & set(_UNIT_ROLES))
    return has_units and (Role.TEXT in known or Role.NUMBER in known) and len(known) >= 2


def kind_of(cell: str) -> Kind:
    """What a cell looks like, without knowing its column."""
    bare = cell.strip(_MARKS + " ")
    if LABEL.search(bare):
        return Kind.LABELLED
    dated = len(bare) <= 24 and read_deadline_cell(bare, 2000).readable
    if dated and not _looks_like_units(bare):
        return Kind.DEADLINE
    if _FIGURE.match(bare):
        return Kind.FIGURE
    if _looks_like_units(cell):
        return Kind.UNITS
    if _looks_like_person(bare):
        return Kind.PERSON
    return Kind.TEXT


def _looks_like_units(cell: str) -> bool:
    if "。" in cell or len(cell) > 300:
        return False
    names = split_unit_list(cell)
    return bool(names) and all(looks_like_unit(n) and len(n) <= 30 for n in names)


def _looks_like_person(cell: str) -> bool:
    person = read_person(cell)
    return person is not None and len(cell) <= 12


def _accepts(role: Role, kind: Kind) -> bool:
    if role in _UNIT_ROLES:
        return kind is Kind.UNITS
    return {
        Role.TEXT: kind is Kind.TEXT,
        Role.SUPERVISOR: kind is Kind.PERSON,
        Role.DEADLINE: kind in (Kind.DEADLINE, Kind.FIGURE),
        Role.NUMBER: kind is Kind.FIGURE,
    }.get(role, True)


@dataclass
class _Row:
    number: str | None
    cells: list[str] = field(default_factory=list)
    numbered_text: bool = False


@dataclass
class FlatTableReader:
    """Reads the rows under one header into raw tasks."""

    header: FlatHeader
    leader: Leader | None = None
    section: str | None = None
    tasks: list[RawTask] = field(default_factory=list)
    last: int = 0  # the last 序号
    last_text: int = 0  # the last number written at the start of a task's text
    row: _Row | None = None  # the row being read

    @property
    def roles(self) -> list[Role]:
        """The columns a row's cells go to; the 序号 opened the row."""
        return [role for role in self.header.roles if role is not Role.NUMBER]

    def read(self, lines: Sequence[str]) -> list[RawTask]:
        for line in lines:
            self.feed(line)
        self.flush()
        return self.tasks

    def feed(self, line: str) -> None:
        if _CHROME.match(line):
            return
        heading = numbered(line)
        if heading is not None and heading.scheme <= Scheme.CHINESE_PAREN and "|" not in line:
            self.flush()
            self.open_section(line, heading.text)
            return
        spaced = _SPACED_ROW.match(line) if self.header.spaced else None
        if spaced and self.next_number(int(spaced["n"])):
            self.start_row(spaced["n"], numbered=True).cells.extend(spaced["rest"].split())
            return
        for cell in cells_of(line):
            self.feed_cell(cell)

    def feed_cell(self, cell: str) -> None:
        bare = _BARE_NUMBER.match(cell)
        if bare and Role.NUMBER in self.header.roles and self.next_number(int(bare["n"])):
            self.start_row(bare["n"], numbered=True)
            return
        found = numbered(cell)
        if (
            found is not None
            and found.scheme is Scheme.ARABIC
            and found.value == self.last_text + 1
        ):
            # 「1.地区生产总值…」「2.一般公共…」: tasks numbered in their text, under one 序号
            row = self.row
            if row is None or row.numbered_text:
                row = self.start_row(str(found.value))
            row.numbered_text, row.number = True, str(found.value)
            self.last_text = found.value
            cell = found.text
        if self.row is not None:
            self.row.cells.extend(cell.split() if self.header.spaced else [cell])

    def next_number(self, value: int) -> bool:
        return value == self.last + 1 or (self.last == 0 and value < 1000)

    def start_row(self, number: str, *, numbered: bool = False) -> _Row:
        """A new row; `numbered` when it opens with its 序号."""
        self.flush()
        self.row = _Row(number)
        if numbered:
            self.last = int(number)
        return self.row

    def flush(self) -> None:
        if self.row is not None:
            self.tasks.append(self.task(self.row))
            self.row = None

    def open_section(self, line: str, text: str) -> None:
        self.section = text
        self.leader = find_leader(text) or self.leader

    def task(self, row: _Row) -> RawTask:
        fields, text = Fields(), []
        for cell, role in assign(row.cells, self.roles):
            if role is Role.TEXT:
                text.append(cell)
            else:
                fields.put(role, cell)
        leads, co_units = fields.responsibility()
        name, title = fields.supervisor or self.leader or (None, None)
        return RawTask(
            number=row.number or str(len(self.tasks) + 1),
            text="".join(text),
            section=self.section,
            supervisor=name,
            supervisor_title=title or None,
            leads=leads,
            co_units=co_units,
            deadline_text=fields.deadline_text,
            notes=tuple(fields.notes),
        )


def assign(cells: list[str], roles: list[Role]) -> list[tuple[str, Role]]:
    """Each cell with the column it belongs to: in order when every column has its cell,
    else by what each cell looks like (an empty cell of a web table leaves no line)."""
    if len(cells) == len(roles):
        return list(zip(cells, roles, strict=True))
    placed: list[tuple[str, Role]] = []
    column = 0
    for cell in cells:
        kind = kind_of(cell)
        if kind is Kind.LABELLED:
            placed.append((cell, Role.NOTE))
            continue
        target = next(
            (
                k
                for k in range(column, len(roles))
                if _accepts(roles[k], kind) and not _belongs_later(roles, k, kind)
            ),
            None,
        )
        follows_units = bool(placed) and placed[-1][1] in _UNIT_ROLES
        if kind is Kind.UNITS and follows_units and (target is None or roles[target] is Role.NOTE):
            placed.append((cell, placed[-1][1]))  # one cell's names over several lines
            continue
        if target is None:
            earlier = [role for _, role in placed if _accepts(role, kind)]
            if earlier:
                placed.append((cell, earlier[-1]))
            continue
        placed.append((cell, roles[target]))
        column = target + 1
    return placed


def _belongs_later(roles: list[Role], index: int, kind: Kind) -> bool:
    """A note column does not take the text, unit names, a person or a date that a later
    column wants."""
    if roles[index] is not Role.NOTE or kind is Kind.FIGURE:
        return False
    return any(_accepts(role, kind) for role in roles[index + 1 :] if role is not Role.NOTE)


def read_flat_tables(lines: Sequence[str]) -> tuple[list[RawTask], int | None]:
    """Tasks from every web-copied table in `lines`, and where the first table starts."""
    headers = find_headers(lines)
    tasks: list[RawTask] = []
    for number, header in enumerate(headers):
        end = headers[number + 1].start if number + 1 < len(headers) else len(lines)
        reader = FlatTableReader(header, leader=_leader_above(lines, header, headers, number))
        tasks.extend(reader.read(lines[header.end : end]))
    return tasks, (headers[0].start if headers else None)


def _leader_above(
    lines: Sequence[str], header: FlatHeader, headers: list[FlatHeader], number: int
) -> Leader | None:
    """「二、李丹常委、常务副区长牵头重点工作」 just above a table oversees its rows."""
    start = headers[number - 1].end if number else max(0, header.start - 6)
    for line in reversed(lines[start : header.start]):
        heading = numbered(line)
        if heading is not None and (leader := find_leader(heading.text)):
            return leader
    return None
