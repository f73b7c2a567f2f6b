"""What a document says about one task besides its text: units by role, leader, deadline.

Every layout fills the same `Fields`: labelled lines (「牵头单位:…」), labels in a trailing
bracket, 「A牵头，B配合」, table cells. The rules of who leads live here once: a 牵头 label
names the leads; without one, the first 责任单位 leads; a marked name (「▲发改局」
「区财政局*」) leads its list; everything else is a co-unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.intake.labels import Labelled, Role
from bot.intake.leaders import Leader, read_person
from bot.intake.units import split_unit_list

_MARK = re.compile(r"^[▲★☆△●◆■※]+|[*＊▲★]+$")


@dataclass
class Fields:
    leads: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    co_units: list[str] = field(default_factory=list)
    supervisor: Leader | None = None
    deadline_text: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def has_units(self) -> bool:
        return bool(self.leads or self.units or self.co_units)

    def add(self, labelled: Labelled) -> None:
        self.put(labelled.role, labelled.value)

    def put(self, role: Role, value: str, name: str = "") -> None:
        """Adds one label's or cell's value under its role."""
        value = value.strip()
        if not value:
            return
        if role is Role.LEADS:
            self.leads += split_unit_list(value)
        elif role is Role.UNITS:
            self.units += split_unit_list(value)
        elif role is Role.CO_UNITS:
            self.co_units += split_unit_list(value)
        elif role is Role.SUPERVISOR:
            self.supervisor = self.supervisor or read_person(value) or (value, None)
        elif role is Role.DEADLINE:
            self.deadline_text = f"{self.deadline_text}；{value}" if self.deadline_text else value
        elif role is Role.NOTE:
            self.notes.append((name, value))

    def merge(self, other: Fields) -> None:
        """Adds what a continuation (another row, a bracket) says about the same task."""
        self.leads += other.leads
        self.units += other.units
        self.co_units += other.co_units
        self.supervisor = self.supervisor or other.supervisor
        if other.deadline_text:
            self.put(Role.DEADLINE, other.deadline_text)
        self.notes += other.notes

    def responsibility(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(leads, co-units), each name once, markers removed."""
        leads, units, co_units = self.leads, self.units, self.co_units
        marked = [name for name in [*leads, *units, *co_units] if _MARK.search(name)]
        if marked:
            leads, units = marked, [*leads, *units]
        elif not leads:
            leads, units = units[:1], units[1:]
        lead_names = _unique(leads)
        rest = [name for name in _unique([*units, *co_units]) if name not in lead_names]
        return tuple(lead_names), tuple(rest)


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(clean for name in names if (clean := _MARK.sub("", name).strip())))
