"""Reminder rules: report cycles, the escalation ladder, the send window (schedules/*.toml).

The file is validated at the edge with pydantic and turned into frozen dataclasses; an
invalid file raises ConfigError naming the file and the key. Overrides per plan and per
task replace whole sections (`reports`, `milestones`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.domain.calendar import SendWindow
from bot.domain.tomlfiles import invalid, read_toml

Recipient = Literal["unit", "contacts", "head", "supervisor", "office"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowModel(_Strict):
    start: time = time(9, 0)
    end: time = time(17, 30)

    @model_validator(mode="after")
    def _ordered(self) -> WindowModel:
        if self.end <= self.start:
            raise ValueError("end 应晚于 start")
        return self


class DueModel(_Strict):
    non_working_day: Literal["next", "previous", "keep"] = "next"


class ReportsModel(_Strict):
    cycle: Literal["monthly", "quarterly", "dates", "none"] = "monthly"
    day: int = 25
    dates: list[date] = []

    @field_validator("day")
    @classmethod
    def _day_of_month(cls, value: int) -> int:
        if not 1 <= value <= 31:
            raise ValueError("day 应在 1 到 31 之间")
        return value

    @model_validator(mode="after")
    def _dates_given(self) -> ReportsModel:
        if self.cycle == "dates" and not self.dates:
            raise ValueError('cycle = "dates" 需要非空的 dates 列表')
        return self


class LevelModel(_Strict):
    level: str
    name: str
    offset: int
    time: dt.time = dt.time(9, 0)
    to: list[Recipient]
    light: Literal["yellow", "red"] | None = None
    skip_if_reported: bool = False


class RepeatModel(_Strict):
    every: int = 2
    max: int = 3

    @field_validator("every", "max")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("不能为负数")
        return value


class MilestoneModel(_Strict):
    date: dt.date
    name: str


class TaskOverride(_Strict):
    reports: ReportsModel | None = None
    milestones: list[MilestoneModel] = []


class PlanOverride(_Strict):
    reports: ReportsModel | None = None
    tasks: dict[str, TaskOverride] = {}


def _default_ladder() -> list[LevelModel]:
    return [
        LevelModel(level="notice", name="提醒", offset=-3, to=["unit"], skip_if_reported=True),
        LevelModel(level="urge", name="催办", offset=0, to=["unit", "contacts"]),
        LevelModel(
            level="supervise",
            name="督办",
            offset=1,
            to=["unit", "contacts", "head"],
            light="yellow",
        ),
        LevelModel(
            level="escalate", name="通报", offset=3, to=["supervisor", "office"], light="red"
        ),
    ]


class RulesModel(_Strict):
    window: WindowModel = WindowModel()
    due: DueModel = DueModel()
    reports: ReportsModel = ReportsModel()
    ladder: list[LevelModel] = Field(default_factory=_default_ladder)
    repeat: RepeatModel = RepeatModel()
    plans: dict[str, PlanOverride] = {}
    tasks: dict[str, TaskOverride] = {}

    @field_validator("ladder")
    @classmethod
    def _ladder_in_order(cls, ladder: list[LevelModel]) -> list[LevelModel]:
        # A field validator, so that the error's key is `ladder`, not the whole file.
        if not ladder:
            raise ValueError("ladder 至少需要一个级别")
        offsets = [level.offset for level in ladder]
        if offsets != sorted(offsets):
            raise ValueError("ladder 各级别应按 offset 从小到大排列")
        if len({level.level for level in ladder}) != len(ladder):
            raise ValueError("ladder 各级别的名称不能重复")
        return ladder


@dataclass(frozen=True)
class Level:
    key: str
    name: str
    offset: int
    at: time
    to: tuple[str, ...]
    light: str | None
    skip_if_reported: bool


@dataclass(frozen=True)
class ReportCycle:
    kind: str  # monthly | quarterly | dates | none
    day: int = 25
    dates: tuple[date, ...] = ()


@dataclass(frozen=True)
class Milestone:
    """A date before the deadline with its name: from the rule file, or stated by the
    document (「6月底前开工」 → 开工)."""

    due: date
    name: str

    def as_json(self) -> dict[str, Any]:
        return {"due": self.due.isoformat(), "name": self.name}


@dataclass(frozen=True)
class Rules:
    window: SendWindow
    non_working_day: str
    reports: ReportCycle
    ladder: tuple[Level, ...]
    repeat_every: int
    repeat_max: int
    plans: dict[str, PlanOverride] = field(default_factory=dict)
    tasks: dict[str, TaskOverride] = field(default_factory=dict)

    def level(self, key: str) -> Level:
        return next(level for level in self.ladder if level.key == key)

    def reports_for(self, plan_keys: tuple[str, ...], task: str) -> ReportCycle:
        """The report cycle of one task: task override, then plan override, then default."""
        for override in self._task_overrides(plan_keys, task):
            if override.reports is not None:
                return _cycle(override.reports)
        for key in plan_keys:
            plan = self.plans.get(key)
            if plan is not None and plan.reports is not None:
                return _cycle(plan.reports)
        return self.reports

    def has_task_override(self, plan_keys: tuple[str, ...], task: str) -> bool:
        return bool(self._task_overrides(plan_keys, task))

    def milestones_for(self, plan_keys: tuple[str, ...], task: str) -> tuple[Milestone, ...]:
        for override in self._task_overrides(plan_keys, task):
            if override.milestones:
                return tuple(Milestone(m.date, m.name) for m in override.milestones)
        return ()

    def _task_overrides(self, plan_keys: tuple[str, ...], task: str) -> list[TaskOverride]:
        found = [
            self.plans[k].tasks[task]
            for k in plan_keys
            if k in self.plans and task in self.plans[k].tasks
        ]
        return found + ([self.tasks[task]] if task in self.tasks else [])


def _cycle(model: ReportsModel) -> ReportCycle:
    return ReportCycle(model.cycle, model.day, tuple(model.dates))


def build_rules(model: RulesModel) -> Rules:
    return Rules(
        window=SendWindow(model.window.start, model.window.end),
        non_working_day=model.due.non_working_day,
        reports=_cycle(model.reports),
        ladder=tuple(
            Level(
                lv.level, lv.name, lv.offset, lv.time, tuple(lv.to), lv.light, lv.skip_if_reported
            )
            for lv in model.ladder
        ),
        repeat_every=model.repeat.every,
        repeat_max=model.repeat.max,
        plans=dict(model.plans),
        tasks=dict(model.tasks),
    )


def default_rules() -> Rules:
    return build_rules(RulesModel())


def load_rules(path: Path) -> Rules:
    """Reads a rule file; raises ConfigError naming the file and the offending key."""
    data = read_toml(path, "规则文件")
    try:
        return build_rules(RulesModel.model_validate(data))
    except ValidationError as exc:
        raise invalid(str(path), exc) from None
