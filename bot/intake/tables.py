"""Readers for breakdowns written as tables: Excel, Word tables, CSV (file access: `office`).

A header row (序号｜工作任务｜责任单位｜完成时限 …), perhaps a title row above it, then task rows
and section rows (「一、王××副市长主抓重点工作」 across the table). A task written over two rows
(a merged cell, a page break) is one task. Unit names stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from bot.app.errors import IntakeError
from bot.intake.chrome import document_year, is_title_line
from bot.intake.fields import Fields
from bot.intake.labels import Role, header_role, one_text_column
from bot.intake.leaders import Leader, find_leader
from bot.intake.model import RawDocument, RawTask
from bot.intake.office import csv_rows, docx_blocks, title_before, xlsx_sheets
from bot.intake.office import docx_text as docx_text  # for the text parser

Row = Sequence[str | None]
# A header cell's wording → the role the operator gave it (`duban import --columns`).
Overrides = Mapping[str, Role]

# A second 序号/领导/时限/内容 column (「工作目标」 after 「工作任务」) is kept as a note instead.
_ONCE = frozenset({Role.NUMBER, Role.SUPERVISOR, Role.DEADLINE, Role.TEXT})
_HEADER_SEARCH_ROWS = 15
_SPACES = re.compile(r"\s+")
_CN_NUMERAL = "一二三四五六七八九十"
_TOP_HEADING = re.compile(rf"^[{_CN_NUMERAL}]+、\s*")
_SUB_HEADING = re.compile(rf"^[(（][{_CN_NUMERAL}]+[)）]\s*")
_HEADING_WORDS = re.compile("重点工作|领导")
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


def column_role(name: str, overrides: Overrides | None = None) -> Role:
    """The role of a column: the operator's override for its wording, else its keywords."""
    cleaned = _SPACES.sub("", name)
    if overrides and cleaned in overrides:
        return overrides[cleaned]
    return header_role(cleaned)


def classify(names: Sequence[str], overrides: Overrides | None = None) -> tuple[Role, ...]:
    """Each column's role. A merged header cell (same name again) keeps its role."""
    roles: list[Role] = []
    for index, name in enumerate(names):
        role = column_role(name, overrides)
        if index and name and name == names[index - 1]:
            role = roles[-1]
        elif role in _ONCE and role in roles and role is not Role.TEXT:
            role = Role.NOTE
        roles.append(role)
    return one_text_column(tuple(roles), names)


def find_header(rows: Sequence[Row], overrides: Overrides | None = None) -> Header | None:
    """The first top row naming a task-text column and at least one other known column.

    Without a column named for the task, a row naming the units still is the header, and
    the column with the longest text is taken for the task's."""
    index = _header_row(rows, overrides, need_text=True)
    if index is None:
        index = _header_row(rows, overrides, need_text=False)
        if index is None:
            return None
        header = _complete_header(rows, index, overrides)
        return _with_longest_text(header, rows)
    return _complete_header(rows, index, overrides)


def _header_row(rows: Sequence[Row], overrides: Overrides | None, *, need_text: bool) -> int | None:
    top = enumerate(rows[:_HEADER_SEARCH_ROWS])
    return next((i for i, row in top if _is_header(_header_names(row), overrides, need_text)), None)


def _header_names(row: Row) -> tuple[str, ...]:
    return tuple(_SPACES.sub("", cell or "") for cell in row)


def _is_header(names: tuple[str, ...], overrides: Overrides | None, need_text: bool) -> bool:
    # One distinct value is a merged title row, however many keywords it contains.
    if len({name for name in names if name}) < 2:
        return False
    roles = set(classify(names, overrides)) - {Role.NOTE}
    units = roles & {Role.LEADS, Role.UNITS, Role.CO_UNITS}
    return len(roles) >= 2 and (Role.TEXT in roles or (not need_text and bool(units)))


def _complete_header(rows: Sequence[Row], index: int, overrides: Overrides | None) -> Header:
    names = _header_names(rows[index])
    below = _header_names(rows[index + 1]) if index + 1 < len(rows) else ()
    refined = _refine_header(names, below)
    last_row, names = (index + 1, refined) if refined else (index, names)
    return Header(last_row, names, classify(names, overrides), _find_title(rows[:index]))


def _with_longest_text(header: Header, rows: Sequence[Row]) -> Header | None:
    """The note column whose cells hold the most text becomes the task's column."""
    body = rows[header.last_row + 1 :]
    lengths = {
        i: sum(len(row[i] or "") for row in body if i < len(row))
        for i, role in enumerate(header.roles)
        if role is Role.NOTE
    }
    if not lengths or max(lengths.values()) == 0:
        return None
    longest = max(lengths, key=lambda i: lengths[i])
    roles = tuple(Role.TEXT if i == longest else r for i, r in enumerate(header.roles))
    return replace(header, roles=roles)


def _refine_header(names: tuple[str, ...], below: tuple[str, ...]) -> tuple[str, ...] | None:
    """「责任单位」 over 「牵头单位｜配合单位」: a second header row splitting the first's cells."""
    width = max(len(names), len(below))
    high, low = (row + ("",) * (width - len(row)) for row in (names, below))
    refined = [i for i in range(width) if low[i] and low[i] != high[i]]
    unfit = any(header_role(low[i]) is Role.NOTE or not _spans(high, i) for i in refined)
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
    titled = [text for text in candidates if is_title_line(text)]
    return next(iter(titled + [c for c in candidates if "。" not in c]), None)


def distinct_values(row: Row) -> list[str]:
    """The row's non-empty values, each once (a merged cell repeats in every column it spans)."""
    return list(dict.fromkeys(value for cell in row if (value := (cell or "").strip())))


def _join_lines(text: str) -> str:
    return "".join(line.strip() for line in text.splitlines()).strip()


def read_table_rows(
    rows: Sequence[Row], *, source: str, overrides: Overrides | None = None
) -> RawDocument:
    """Reads a breakdown table given as rows of cell text (None or "" for an empty cell)."""
    header = find_header(rows, overrides)
    if header is None:
        raise IntakeError(source, _header_problem(rows))
    reader = _TableReader(header)
    for row in rows[header.last_row + 1 :]:
        reader.feed(row)
    tasks = [task.build() for task in reader.tasks]
    missing = [f"任务 {task.number} 未找到责任单位" for task in tasks if not task.leads]
    above = [" ".join(distinct_values(row)) for row in rows[: header.last_row]]
    year = document_year(header.title, above)
    return RawDocument(header.title, tuple(tasks), (*reader.warnings, *missing), year=year)


def _header_problem(rows: Sequence[Row]) -> str:
    if (index := _header_row(rows, None, need_text=False)) is not None:
        found = "、".join(distinct_values(_header_names(rows[index])))
        return f"表格缺少任务内容列（内容/任务/事项），找到的表头：{found}"
    return f"未找到表头行（前 {_HEADER_SEARCH_ROWS} 行中没有含「工作任务」「责任单位」等列名的行）"


Column = tuple[Role, str, str]  # role, header name, cell text (never empty)


@dataclass
class _Task:
    """A task being read; a continuation row adds to it."""

    number: str
    written: str  # the number cell as written, to recognise a vertically merged cell
    text: list[str]
    fields: Fields
    section: str | None
    leader: Leader | None

    def build(self) -> RawTask:
        leads, co_units = self.fields.responsibility()
        supervisor, title = self.fields.supervisor or self.leader or (None, None)
        return RawTask(
            number=self.number,
            text="".join(self.text),
            section=self.section,
            supervisor=supervisor,
            supervisor_title=title or None,
            leads=leads,
            co_units=co_units,
            deadline_text=self.fields.deadline_text,
            notes=tuple(dict.fromkeys(self.fields.notes)),
        )


@dataclass
class _TableReader:
    header: Header
    section: str | None = None
    leader: Leader | None = None
    top_leader: Leader | None = None
    last_number: int = 0
    tasks: list[_Task] = field(default_factory=list)
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
        elif self.continues(columns, text):
            self.add_to(self.tasks[-1], columns, text)
        elif text:
            written = _first(columns, Role.NUMBER)
            task = _Task(self.number(written), written, [], Fields(), self.section, self.leader)
            self.tasks.append(task)
            self.add_to(task, columns, text)

    def continues(self, columns: list[Column], text: str) -> bool:
        """A row that carries on the task above: no number of its own (or the same, merged),
        and no text of its own (or the same text, merged), or text without any unit."""
        if not self.tasks:
            return False
        last = self.tasks[-1]
        written = _first(columns, Role.NUMBER)
        if written and written != last.written:
            return False
        same_text = not text or text == "".join(last.text)
        has_units = any(role in _UNIT_ROLES for role, _, _ in columns)
        return same_text or (not has_units and not written)

    def add_to(self, task: _Task, columns: list[Column], text: str) -> None:
        if text and text != "".join(task.text):
            task.text.append(text)
        for role, name, value in columns:
            if role not in (Role.TEXT, Role.NUMBER):
                task.fields.put(
                    role, _join_lines(value) if role is Role.SUPERVISOR else value, name
                )

    def open_section(self, heading: str) -> None:
        # Same rule as the text parser: a （一） subsection keeps its chapter's leader.
        top = not _SUB_HEADING.match(heading)
        self.section = _SUB_HEADING.sub("", _TOP_HEADING.sub("", heading))
        leader = find_leader(self.section)
        if top:
            self.top_leader = leader
        self.leader = leader or (None if top else self.top_leader)

    def number(self, cell: str) -> str:
        number = _clean_number(cell) or str(self.last_number + 1)
        if number.isascii() and number.isdigit():
            self.last_number = int(number)
        return number


_UNIT_ROLES = (Role.LEADS, Role.UNITS, Role.CO_UNITS)


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


def _clean_number(cell: str) -> str:
    number = _SPACES.sub("", cell.translate(_FOLD_DIGITS)).rstrip(".、")
    integral = _INTEGRAL.fullmatch(number)
    return str(int(integral["whole"])) if integral else number


def read_csv(path: Path, overrides: Overrides | None = None) -> RawDocument:
    """A CSV export, UTF-8 (with or without BOM) or GB18030 as Chinese Excel writes it."""
    return read_table_rows(csv_rows(path), source=str(path), overrides=overrides)


def read_xlsx(path: Path, overrides: Overrides | None = None) -> RawDocument:
    """The first worksheet with a header row; without one, the error is about the first sheet."""
    sheets = xlsx_sheets(path)
    chosen = next(
        (sheet for sheet in sheets if find_header(sheet, overrides)), sheets[0] if sheets else []
    )
    return read_table_rows(chosen, source=str(path), overrides=overrides)


def read_docx(path: Path, overrides: Overrides | None = None) -> RawDocument | None:
    """The first table with a header row and tasks, continued by later tables with the same
    columns; None when no table holds tasks (the paragraphs are read instead)."""
    blocks = docx_blocks(path)
    tables = [block for block in blocks if not isinstance(block, str)]
    found = [
        (n, t, h) for n, t in enumerate(tables, 1) if (h := find_header(t, overrides)) is not None
    ]
    if not found:
        return None
    (number, first, header), *later = found
    same = [t[h.last_row + 1 :] for _, t, h in later if h.roles == header.roles]
    rows = [*first, *chain.from_iterable(same)]
    document = read_table_rows(rows, source=str(path), overrides=overrides)
    if not document.tasks:
        return None
    warnings = [
        f"第 {n} 个表格的表头与第 {number} 个表格不同，未导入"
        for n, _, h in later
        if h.roles != header.roles
    ]
    title = document.title or title_before(blocks, first)
    return replace(document, title=title, warnings=(*warnings, *document.warnings))
