"""What a clerk checks before importing: counts, and the tasks the reader is unsure of.

A task is flagged when no unit was found for it, when a unit name still carries a label or
a bracket (「牵头单位:市发改委」「市财政局）」), or when a name is not in the unit directory but
close to one there (「市发该委」 → did you mean 「市发改委」).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.intake.deadlines import NO_DEADLINE
from bot.intake.directory import Directory
from bot.intake.labels import LABEL
from bot.intake.model import ParsedPlan, ParsedTask
from bot.intake.units import is_collective
from bot.present.sheets import Column, Sheet, Value

_STRAY = re.compile(r"[:：【】\[\]〔〕［］]|^[)）]|[(（][^)）]*$|^[^(（]*[)）]|牵头|配合|负责")


@dataclass(frozen=True)
class Flag:
    number: str
    problem: str


@dataclass
class Review:
    tasks: int
    units: int
    new_units: list[str]
    without_units: int
    without_deadline: int
    flags: list[Flag] = field(default_factory=list)

    def flagged(self, number: str) -> list[str]:
        return [flag.problem for flag in self.flags if flag.number == number]

    def as_json(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "units": self.units,
            "new_units": self.new_units,
            "tasks_without_units": self.without_units,
            "tasks_without_deadline": self.without_deadline,
            "flags": [{"number": f.number, "problem": f.problem} for f in self.flags],
        }


def review_plan(plan: ParsedPlan, directory: Directory) -> Review:
    """Counts and flags for `duban import --dry-run`."""
    review = Review(
        tasks=len(plan.tasks),
        units=len(plan.units),
        new_units=[u.name for u in plan.units if not directory.canonical(u.name)],
        without_units=sum(1 for t in plan.tasks if not t.lead),
        without_deadline=sum(1 for t in plan.tasks if t.deadline is None),
    )
    for task in plan.tasks:
        review.flags += [Flag(task.number, problem) for problem in _problems(task, directory)]
    return review


def _problems(task: ParsedTask, directory: Directory) -> list[str]:
    if not task.lead:
        return ["未找到责任单位"]
    problems: list[str] = []
    for name in (task.lead, *task.co_units):
        if _STRAY.search(name) or LABEL.search(name):
            problems.append(f"单位名「{name}」含标签或括号，请核对")
        elif not is_collective(name) and (near := directory.closest(name)) is not None:
            problems.append(f"单位「{name}」不在单位名录中，是否为「{near}」？")
    return problems


REVIEW_COLUMNS = (
    Column("序号", 8),
    Column("任务内容", 60),
    Column("牵头单位", 24),
    Column("配合单位", 36),
    Column("完成时限", 16),
    Column("分管领导", 14),
    Column("备注", 30),
)


def review_sheet(plan: ParsedPlan, review: Review) -> Sheet:
    """The parse as duban's own table, which `duban import` reads back as it was: the clerk
    corrects it in Excel and imports it. Rows a clerk should check are highlighted."""
    titles = {s.name: s.title or "" for s in plan.supervisors}
    rows: list[tuple[Value, ...]] = []
    marked: set[int] = set()
    section: str | None = None
    for task in plan.tasks:
        if task.section and task.section != section:
            section = task.section
            rows.append((f"{chinese_number(len(rows) + 1)}、{section}", *([None] * 6)))
        problems = review.flagged(task.number)
        if problems:
            marked.add(len(rows))
        leads = "、".join((task.lead, *task.co_leads)) if task.lead else ""
        rest = "、".join(n for n in task.co_units if n not in task.co_leads)
        supervisor = (
            f"{task.supervisor}{titles.get(task.supervisor, '')}" if task.supervisor else ""
        )
        notes = "；".join([*problems, *(f"{k}：{v}" for k, v in task.notes)])
        rows.append((task.number, task.text, leads, rest, _deadline_cell(task), supervisor, notes))
    year = f"年度：{plan.year}。" if plan.year else ""
    return Sheet(
        title=plan.title or "",
        name="导入预览",
        columns=REVIEW_COLUMNS,
        rows=tuple(rows),
        subtitle=f"{year}本表由 duban 生成，标黄的行需要核对；改正后用 duban import 导入本表。",
        marked=frozenset(marked),
    )


def _deadline_cell(task: ParsedTask) -> str:
    if task.deadline is None:
        return NO_DEADLINE
    earlier = [f"{m.due.isoformat()} {m.name}".strip() for m in task.milestones]
    return "；".join([*earlier, task.deadline.isoformat()])


def chinese_number(value: int) -> str:
    """1 → 一, 12 → 十二, 40 → 四十 (up to 99), for section headings."""
    digits = "零一二三四五六七八九"
    tens, units = divmod(value, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else digits[tens] + "十")
    return head + (digits[units] if units or not head else "")
