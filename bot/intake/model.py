"""What a parsed responsibility-breakdown document holds, before it meets the database.

Readers (text, Word, Excel, CSV) produce `RawTask`s with unit names as written; `resolve`
turns them into a `ParsedPlan` with canonical unit names. Everything here is immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain.rules import Milestone


@dataclass(frozen=True)
class Indicator:
    """A quantitative target found in a task's text (新增公共停车位 1000 个 → 1000 个)."""

    phrase: str
    value: float
    unit: str

    def as_json(self) -> dict[str, Any]:
        value: float | int = int(self.value) if float(self.value).is_integer() else self.value
        return {"phrase": self.phrase, "value": value, "unit": self.unit}


@dataclass(frozen=True)
class RawTask:
    """One numbered item as a reader found it; unit names are still as written."""

    number: str
    text: str
    section: str | None = None
    supervisor: str | None = None
    supervisor_title: str | None = None
    leads: tuple[str, ...] = ()
    co_units: tuple[str, ...] = ()
    deadline_text: str | None = None
    notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RawDocument:
    title: str | None
    tasks: tuple[RawTask, ...]
    warnings: tuple[str, ...] = ()
    year: int | None = None  # from the 文号 or the signature when the title names none


@dataclass(frozen=True)
class ParsedUnit:
    name: str
    aliases: tuple[str, ...] = ()
    collective: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": list(self.aliases), "collective": self.collective}


@dataclass(frozen=True)
class ParsedSupervisor:
    name: str
    title: str | None = None


@dataclass(frozen=True)
class ParsedTask:
    number: str
    text: str
    section: str | None
    supervisor: str | None
    lead: str
    co_units: tuple[str, ...]
    # Co-units that the document also names as leading (「A、B牵头」: A leads, B is a co-lead).
    co_leads: tuple[str, ...] = ()
    deadline: date | None = None
    indicators: tuple[Indicator, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    milestones: tuple[Milestone, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "text": self.text,
            "section": self.section,
            "supervisor": self.supervisor,
            "lead": self.lead,
            "co_units": list(self.co_units),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "milestones": [m.as_json() for m in self.milestones],
            "indicators": [i.as_json() for i in self.indicators],
        }


@dataclass(frozen=True)
class ParsedPlan:
    title: str | None
    year: int | None
    tasks: tuple[ParsedTask, ...]
    units: tuple[ParsedUnit, ...]
    supervisors: tuple[ParsedSupervisor, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "plan": {"title": self.title, "year": self.year},
            "tasks": [t.as_json() for t in self.tasks],
            "units": [u.as_json() for u in self.units],
            "warnings": list(self.warnings),
        }
