"""Readers for breakdowns written as tables: Excel, Word tables, CSV (file access: `office`).

A header row (序号｜工作任务｜责任单位｜完成时限 …), perhaps a title row above it, then task rows
and section rows (「一、王××副市长主抓重点工作」 across the table). Unit names stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from itertools import chain
from pathlib import Path

from bot.errors import IntakeError
from bot.intake.leaders import read_leader
from bot.intake.model import RawDocument, RawTask
from bot.intake.office import csv_rows, docx_blocks, title_before, xlsx_sheets
from bot.intake.office import docx_paragraph_text as docx_paragraph_text  # for the text parser
from bot.intake.units import split_unit_list

Row = Sequence[str | None]


class Role(Enum):
    NUMBER = "number"
    SUPERVISOR = "supervisor"
    LEADS = "leads"
    CO_UNITS = "co_units"
    UNITS = "units"
    DEADLINE = "deadline"
    TEXT = "text"
    NOTE = "note"


# Order matters: 「分管领导」 and 「牵头单位」 must not be taken for a 责任单位 column.
_KEYWORDS: tuple[tuple[Role, re.Pattern[str]], ...] = (
    (Role.NUMBER, re.compile("序号|编号")),
    (Role.SUPERVISOR, re.compile("领导")),
    (Role.LEADS, re.compile("牵头")),
    (Role.CO_UNITS, re.compile("配合|协办|参与|协同")),
    (Role.UNITS, re.compile("责任单位|责任部门|承办单位|责任主体|单位")),
    (Role.DEADLINE, re.compile("时限|时间|节点|期限")),
    (Role.TEXT, re.compile("内容|任务|事项|目标|举措|措施|工作")),
)
# A second 序号/领导/时限/内容 column (「工作目标」 after 「工作任务」) is kept as a note instead.
_ONCE = frozenset({Role.NUMBER, Role.SUPERVISOR, Role.DEADLINE, Role.TEXT})
_HEADER_SEARCH_ROWS = 15
_SPACES = re.compile(r"\s+")
_CN_NUMERAL = "一二三四五六七八九十"
_TOP_HEADING = re.compile(rf"^[{_CN_NUMERAL}]+、\s*")
_SUB_HEADING = re.compile(rf"^[(（][{_CN_NUMERAL}]+[)）]\s*")
_HEADING_WORDS = re.compile("重点工作|领导")
_TITLE_HINT = re.compile("分解|重点工作|任务|责任|事项|清单|计划")
_ATTACHMENT = re.compile(r"附件\s*[0-9０-９一二三四五六七八九十]*\s*[:：]?")
_FOLD_DIGITS = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": "."})
_INTEGRAL = re.compile(r"(?P<whole>[0-9]+)(?:\.0+)?")


@dataclass(frozen=True)
class Header:
    """Where a table's header ends, what each column holds, and the title row above it."""

    last_row: int
    names: tuple[str, ...]
    roles: tuple[Role, ...]
    title: str | None


def column_role(name: str) -> Role:
    """The role a header cell's wording gives its column; anything unknown is a note."""
    cleaned = _SPACES.sub("", name)
    return next((role for role, pattern in _KEYWORDS if pattern.search(cleaned)), Role.NOTE)


def classify(names: Sequence[str]) -> tuple[Role, ...]:
    """Each column's role. A merged header cell (same name again) keeps its role."""
    roles: list[Role] = []
    for index, name in enumerate(names):
        role = column_role(name)
        if index and name and name == names[index - 1]:
            role = roles[-1]
        elif role in _ONCE and role in roles:
            role = Role.NOTE
        roles.append(role)
    return tuple(roles)


def find_header(rows: Sequence[Row]) -> Header | None:
    """The first top row naming a task-text column and at least one other known column."""
    index = _header_row(rows, need_text=True)
    return None if index is None else _complete_header(rows, index)


def _header_row(rows: Sequence[Row], *, need_text: bool) -> int | None:
    top = enumerate(rows[:_HEADER_SEARCH_ROWS])
    return next((i for i, row in top if _is_header(_header_names(row), need_text)), None)


def _header_names(row: Row) -> tuple[str, ...]:
    return tuple(_SPACES.sub("", cell or "") for cell in row)


def _is_header(names: tuple[str, ...], need_text: bool) -> bool:
    # One distinct value is a merged title row, however many keywords it contains.
    if len({name for name in names if name}) < 2:
        return False
    roles = set(classify(names)) - {Role.NOTE}
    return len(roles) >= 2 and (Role.TEXT in roles or not need_text)


def _complete_header(rows: Sequence[Row], index: int) -> Header:
    names = _header_names(rows[index])
    below = _header_names(rows[index + 1]) if index + 1 < len(rows) else ()
    refined = _refine_header(names, below)
    last_row, names = (index + 1, refined) if refined else (index, names)
    return Header(last_row, names, classify(names), _find_title(rows[:index]))


def _refine_header(names: tuple[str, ...], below: tuple[str, ...]) -> tuple[str, ...] | None:
    """「责任单位」 over 「牵头单位｜配合单位」: a second header row splitting the first's cells."""
    width = max(len(names), len(below))
    high, low = (row + ("",) * (width - len(row)) for row in (names, below))
    refined = [i for i in range(width) if low[i] and low[i] != high[i]]
    unfit = any(column_role(low[i]) is Role.NOTE or not _spans(high, i) for i in refined)
    if unfit or len({low[i] for i in refined}) < 2:
        return None
    return tuple(name or above for above, name in zip(high, low, strict=True))


def _spans(names: tuple[str, ...], index: int) -> bool:
    # A merged header cell is blank beside its anchor (Excel) or repeated (Word); a data row
    # under ordinary header cells is not a second header row, even if it reads like one.
    beside = names[max(index - 1, 0) : index + 2]
    return not names[index] or beside.count(names[index]) > 1 or "" in beside


def _find_title(rows: Sequence[Row]) -> str | None:
    """The merged title row above the header, preferring one that reads like a title."""
    candidates = [values[0] for values in map(distinct_values, rows) if len(values) == 1]
    candidates = [_join_lines(text) for text in candidates if not _ATTACHMENT.fullmatch(text)]
    titled = [text for text in candidates if _TITLE_HINT.search(text)]
    return next(iter(titled + candidates), None)


def distinct_values(row: Row) -> list[str]:
    """The row's non-empty values, each once (a merged cell repeats in every column it spans)."""
    return list(dict.fromkeys(value for cell in row if (value := (cell or "").strip())))


def _join_lines(text: str) -> str:
    return "".join(line.strip() for line in text.splitlines()).strip()


def read_table_rows(rows: Sequence[Row], *, source: str) -> RawDocument:
    """Reads a breakdown table given as rows of cell text (None or "" for an empty cell)."""
    header = find_header(rows)
    if header is None:
        raise IntakeError(source, _header_problem(rows))
    reader = _TableReader(header)
    for row in rows[header.last_row + 1 :]:
        reader.feed(row)
    missing = [f"任务 {task.number} 未找到责任单位" for task in reader.tasks if not task.leads]
    return RawDocument(header.title, tuple(reader.tasks), (*reader.warnings, *missing))


def _header_problem(rows: Sequence[Row]) -> str:
    if (index := _header_row(rows, need_text=False)) is not None:
        found = "、".join(distinct_values(_header_names(rows[index])))
        return f"表格缺少任务内容列（内容/任务/事项），找到的表头：{found}"
    return f"未找到表头行（前 {_HEADER_SEARCH_ROWS} 行中没有含「工作任务」「责任单位」等列名的行）"


Column = tuple[Role, str, str]  # role, header name, cell text (never empty)


@dataclass
class _TableReader:
    header: Header
    section: str | None = None
    leader: tuple[str, str] | None = None
    top_leader: tuple[str, str] | None = None
    last_number: int = 0
    tasks: list[RawTask] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def feed(self, row: Row) -> None:
        values = distinct_values(row)
        if len(values) == 1 and _is_heading(values[0]):
            self.open_section(_join_lines(values[0]))
            return
        columns = _columns(self.header, row)
        text = _join_lines(_first(columns, Role.TEXT))
        if text and len(values) == 1 and _spans_columns(row, values[0]):
            self.warnings.append(f"跳过合并单元格行：{text}")
        elif text:
            self.tasks.append(self.task(columns, text))

    def open_section(self, heading: str) -> None:
        # Same rule as the text parser: a （一） subsection keeps its chapter's leader.
        top = not _SUB_HEADING.match(heading)
        self.section = _SUB_HEADING.sub("", _TOP_HEADING.sub("", heading))
        leader = read_leader(self.section)
        if top:
            self.top_leader = leader
        self.leader = leader or (None if top else self.top_leader)

    def task(self, columns: list[Column], text: str) -> RawTask:
        leads, co_units = _units(columns)
        leader = _supervisor(_first(columns, Role.SUPERVISOR)) or self.leader
        supervisor, title = leader or (None, None)
        notes = tuple(dict.fromkeys((n, v) for role, n, v in columns if role is Role.NOTE))
        return RawTask(
            number=self.number(_first(columns, Role.NUMBER)),
            text=text,
            section=self.section,
            supervisor=supervisor,
            supervisor_title=title or None,
            leads=leads,
            co_units=co_units,
            deadline_text=_first(columns, Role.DEADLINE) or None,
            notes=notes,
        )

    def number(self, cell: str) -> str:
        number = _clean_number(cell) or str(self.last_number + 1)
        if number.isascii() and number.isdigit():
            self.last_number = int(number)
        return number


def _columns(header: Header, row: Row) -> list[Column]:
    """The row's filled cells with their column's role and name; cells past the header are notes."""
    found: list[Column] = []
    for index, cell in enumerate(row):
        if value := (cell or "").strip():
            inside = index < len(header.roles)
            role, name = (header.roles[index], header.names[index]) if inside else (Role.NOTE, "")
            found.append((role, name or f"第{index + 1}列", value))
    return found


def _is_heading(text: str) -> bool:
    return bool(_TOP_HEADING.match(text) or _SUB_HEADING.match(text) or _HEADING_WORDS.search(text))


def _spans_columns(row: Row, value: str) -> bool:
    # A footnote merged across a Word table repeats in every cell; a task's lone text does not.
    return sum(1 for cell in row if (cell or "").strip() == value) > 1


def _first(columns: list[Column], role: Role) -> str:
    return next((value for found, _, value in columns if found is role), "")


def _names(columns: list[Column], role: Role) -> list[str]:
    return [name for found, _, value in columns if found is role for name in split_unit_list(value)]


def _units(columns: list[Column]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """牵头 names lead; otherwise the first 责任单位 name does. 配合 names are co-units."""
    leads, listed = _names(columns, Role.LEADS), _names(columns, Role.UNITS)
    if not leads and listed:
        leads, listed = listed[:1], listed[1:]
    co_units = [name for name in [*listed, *_names(columns, Role.CO_UNITS)] if name not in leads]
    return tuple(dict.fromkeys(leads)), tuple(dict.fromkeys(co_units))


def _supervisor(cell: str) -> tuple[str, str | None] | None:
    text = _join_lines(cell)
    return (read_leader(text) or (text, None)) if text else None


def _clean_number(cell: str) -> str:
    number = _SPACES.sub("", cell.translate(_FOLD_DIGITS)).rstrip(".、")
    integral = _INTEGRAL.fullmatch(number)
    return str(int(integral["whole"])) if integral else number


def read_csv(path: Path) -> RawDocument:
    """A CSV export, UTF-8 (with or without BOM) or GB18030 as Chinese Excel writes it."""
    return read_table_rows(csv_rows(path), source=str(path))


def read_xlsx(path: Path) -> RawDocument:
    """The first worksheet with a header row; without one, the error is about the first sheet."""
    sheets = xlsx_sheets(path)
    chosen = next((sheet for sheet in sheets if find_header(sheet)), sheets[0] if sheets else [])
    return read_table_rows(chosen, source=str(path))


def read_docx(path: Path) -> RawDocument | None:
    """The first table with a header row, continued by later tables with the same columns."""
    blocks = docx_blocks(path)
    tables = [block for block in blocks if not isinstance(block, str)]
    found = [(n, t, h) for n, t in enumerate(tables, 1) if (h := find_header(t)) is not None]
    if not found:
        return None
    (number, first, header), *later = found
    same = [t[h.last_row + 1 :] for _, t, h in later if h.roles == header.roles]
    document = read_table_rows([*first, *chain.from_iterable(same)], source=str(path))
    warnings = [
        f"第 {n} 个表格的表头与第 {number} 个表格不同，未导入"
        for n, _, h in later
        if h.roles != header.roles
    ]
    title = document.title or title_before(blocks, first)
    return replace(document, title=title, warnings=(*warnings, *document.warnings))
