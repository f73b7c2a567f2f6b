"""From raw tasks with names as written to a plan with one canonical name per unit.

A unit keeps the directory's name when the directory knows it (by name or alias), else the
name the document uses, with dashes and brackets folded. 「A(B)」 makes B an alias of A
everywhere in the document, and 「财政局」 is 「市财政局」 when that unit exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from bot.domain.rules import Milestone
from bot.intake.deadlines import deadline_events, read_deadline_cell, year_of_dates
from bot.intake.directory import Directory
from bot.intake.indicators import extract_indicators
from bot.intake.model import (
    ParsedPlan,
    ParsedSupervisor,
    ParsedTask,
    ParsedUnit,
    RawDocument,
    RawTask,
)
from bot.intake.units import match_key, read_unit_name

_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_ANY_YEAR = 2000


@dataclass
class _Names:
    """Every unit the document names, in order of first appearance."""

    directory: Directory
    aliases: dict[str, list[str]] = field(default_factory=dict)
    collective: dict[str, bool] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def learn(self, written: str) -> None:
        unit = read_unit_name(written)
        name = self.directory.canonical(unit.name) or self.keys.get(match_key(unit.name))
        name = name or self._with_city_prefix(unit.name) or unit.name
        if name not in self.aliases:
            self.aliases[name] = list(self.directory.aliases(name))
            self.collective[name] = unit.collective or name in self.directory.collectives
            self.keys[match_key(name)] = name
        if unit.alias and unit.alias not in self.aliases[name] and unit.alias != name:
            self.aliases[name].append(unit.alias)
        if unit.alias:
            self.keys.setdefault(match_key(unit.alias), name)

    def _with_city_prefix(self, name: str) -> str | None:
        # 「财政局」 and 「市财政局」 are one unit; the directory's spelling wins.
        other = name.removeprefix("市") if name.startswith("市") else "市" + name
        return self.directory.canonical(other) or self.keys.get(match_key(other))

    def canonical(self, written: str) -> str:
        unit = read_unit_name(written)
        key = match_key(unit.name)
        found = self.directory.canonical(unit.name) or self.keys.get(key)
        return found or self._with_city_prefix(unit.name) or unit.name

    def units(self, order: list[str]) -> tuple[ParsedUnit, ...]:
        return tuple(
            ParsedUnit(
                name=n, aliases=tuple(self.aliases.get(n, [])), collective=self.collective[n]
            )
            for n in order
        )


def resolve(raw: RawDocument, directory: Directory, year: int | None = None) -> ParsedPlan:
    """Canonical names, deadlines and indicators for every task of a raw document."""
    year = year or plan_year(raw.title) or raw.year or _year_of_tasks(raw.tasks)
    raw = replace(raw, tasks=tuple(_split_known(task, directory) for task in raw.tasks))
    names = _Names(directory)
    written = [name for task in raw.tasks for name in (*task.leads, *task.co_units)]
    # Names with an alias first, so 「市人才办」 written early still means 市委组织部.
    for name in sorted(written, key=lambda n: read_unit_name(n).alias is None):
        names.learn(name)
    warnings = [*raw.warnings]
    tasks = tuple(_resolve_task(task, names, year, warnings) for task in raw.tasks)
    order = list(dict.fromkeys(names.canonical(n) for n in written))
    warnings += _collective_warnings(names, order, directory)
    supervisors = {t.supervisor: t.supervisor_title for t in raw.tasks if t.supervisor}
    return ParsedPlan(
        title=raw.title,
        year=year,
        tasks=tasks,
        units=names.units(order),
        supervisors=tuple(ParsedSupervisor(n, t) for n, t in supervisors.items()),
        warnings=tuple(warnings),
    )


def _split_known(task: RawTask, directory: Directory) -> RawTask:
    """Names written together without a separator, split on the directory's names."""
    leads = [part for name in task.leads for part in directory.split(name)]
    co_units = [part for name in task.co_units for part in directory.split(name)]
    return replace(task, leads=tuple(leads), co_units=tuple(co_units))


def _year_of_tasks(tasks: tuple[RawTask, ...]) -> int | None:
    cells = [task.deadline_text for task in tasks if task.deadline_text]
    return year_of_dates((task.text for task in tasks), cells)


def plan_year(title: str | None) -> int | None:
    """「2020 年市政府重点工作任务责任分解」 → 2020."""
    match = _YEAR.search(title or "")
    return int(match.group(1)) if match else None


def _resolve_task(
    task: RawTask, names: _Names, year: int | None, warnings: list[str]
) -> ParsedTask:
    leads = list(dict.fromkeys(names.canonical(n) for n in task.leads))
    lead = leads[0] if leads else ""
    co_units = [
        n
        for n in dict.fromkeys([*leads[1:], *(names.canonical(n) for n in task.co_units)])
        if n != lead
    ]
    deadline, milestones, notes = _dates(task, year, warnings)
    return ParsedTask(
        number=task.number,
        text=task.text,
        section=task.section,
        supervisor=task.supervisor,
        lead=lead,
        co_units=tuple(co_units),
        co_leads=tuple(leads[1:]),
        deadline=deadline,
        indicators=tuple(extract_indicators(task.text)),
        notes=notes,
        milestones=milestones,
    )


def _dates(
    task: RawTask, year: int | None, warnings: list[str]
) -> tuple[date | None, tuple[Milestone, ...], tuple[tuple[str, str], ...]]:
    """The deadline (the 完成时限 label or column, else the latest date in the text), the
    earlier dates as milestones, and the notes (an unreadable 完成时限 is kept there)."""
    events = deadline_events(task.text, year)
    notes = task.notes
    if task.deadline_text:
        cell = read_deadline_cell(task.deadline_text, year)
        if cell.ongoing and not cell.dates:
            return None, (), notes
        # Without a year 「年底前」 has no date yet, but it is not unreadable (import asks
        # for --year); only what no year would date is kept in the notes.
        if not read_deadline_cell(task.deadline_text, year or _ANY_YEAR).readable:
            warnings.append(
                f"任务 {task.number} 的完成时限「{task.deadline_text}」无法识别，已记入备注"
            )
            notes = (*notes, ("完成时限", task.deadline_text))
        events += deadline_events(task.deadline_text, year, cell=True)
    if not events:
        return None, (), notes
    deadline = max(when for when, _ in events)
    names: dict[date, str] = {}
    for when, name in events:
        if when < deadline and not names.get(when):
            names[when] = name
    milestones = tuple(Milestone(when, names[when] or "节点") for when in sorted(names))
    return deadline, milestones, notes


def _collective_warnings(names: _Names, order: list[str], directory: Directory) -> list[str]:
    return [
        f"集体单位「{name}」在单位名录中没有成员，将作为一个单位交办"
        for name in order
        if names.collective[name] and not directory.members(name)
    ]
