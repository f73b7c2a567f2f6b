"""Units and supervisors in the database, kept in step with the directory and the document.

`UnitBook` loads every unit once, creates what is missing, and expands collectives
(各县(区)政府) into their members when assignments are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from bot.intake.directory import Directory
from bot.intake.model import ParsedPlan, ParsedTask
from bot.store.audit import record
from bot.store.models import CollectiveMember, Supervisor, Unit, UnitAlias

Assigned = tuple[str, bool, int | None]  # role, co-lead flag, id of the collective it came from


@dataclass
class UnitBook:
    session: Session
    now: datetime
    units: dict[str, Unit]
    supervisors: dict[str, Supervisor]
    members: dict[int, list[int]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    actor: str = "import"  # who the audit trail says made the changes

    @classmethod
    def load(
        cls, session: Session, directory: Directory, now: datetime, *, actor: str = "import"
    ) -> UnitBook:
        units = session.scalars(select(Unit).options(selectinload(Unit.aliases))).all()
        book = cls(
            session,
            now,
            {u.name: u for u in units},
            {s.name: s for s in session.scalars(select(Supervisor))},
            actor=actor,
        )
        book.aliases = {a.alias: u.id for u in units for a in u.aliases}
        for row in session.scalars(select(CollectiveMember)):
            book.members.setdefault(row.collective_id, []).append(row.member_id)
        book.sync_directory(directory)
        return book

    def sync_directory(self, directory: Directory) -> None:
        for name, sup in directory.supervisors.items():
            contacts = [c.model_dump(exclude_none=True) for c in sup.contacts]
            self._supervisor(name, sup.title, channel=sup.channel, contacts=contacts)
        for name, entry in directory.units.items():
            unit = self._unit(name, collective=False)
            self._update(
                unit,
                in_directory=True,
                channel=entry.channel,
                contacts=[c.model_dump(exclude_none=True) for c in entry.contacts],
                supervisor=self.supervisor(entry.supervisor),
            )
        for name, coll in directory.collectives.items():
            self._update(
                self._unit(name, collective=True),
                in_directory=True,
                collective=True,
                channel=coll.channel,
            )
        self.session.flush()
        for name in [*directory.units, *directory.collectives]:
            self._add_aliases(self.units[name], directory.aliases(name))
        for name in directory.collectives:
            self._set_members(self.units[name], directory.members(name))

    def add_parsed(self, parsed: ParsedPlan) -> None:
        for sup in parsed.supervisors:
            self._supervisor(sup.name, sup.title)
        for parsed_unit in parsed.units:
            unit = self._unit(parsed_unit.name, collective=parsed_unit.collective)
            if parsed_unit.collective and not unit.collective:
                self._update(unit, collective=True)
        self.session.flush()
        for parsed_unit in parsed.units:
            self._add_aliases(self.units[parsed_unit.name], list(parsed_unit.aliases))

    def supervisor(self, name: str | None) -> Supervisor | None:
        return self._supervisor(name, None) if name else None

    def expand(self, task: ParsedTask) -> dict[int, Assigned]:
        """Unit id → (role, co-lead, via collective), collectives replaced by their members."""
        wanted: dict[int, Assigned] = {}
        named = [(task.lead, "lead")] if task.lead else []
        named += [(n, "co") for n in task.co_units]
        for name, role in named:
            unit = self.units[name]
            members = self.members.get(unit.id, []) if unit.collective else []
            targets: list[tuple[int, int | None]] = [(m, unit.id) for m in members]
            targets = targets or [(unit.id, None)]
            for unit_id, via in targets:
                known = wanted.get(unit_id)
                # A unit named directly is assigned directly, whatever collective also names it.
                if known is None or (known[2] is not None and via is None):
                    wanted[unit_id] = (role, name in task.co_leads, via)
        return wanted

    def _unit(self, name: str, *, collective: bool) -> Unit:
        unit = self.units.get(name)
        if unit is None:
            unit = Unit(
                name=name,
                collective=collective,
                in_directory=False,
                contacts=[],
                created_at=self.now,
            )
            self.session.add(unit)
            self.units[name] = unit
            self.session.flush()
            record(
                self.session,
                self.now,
                self.actor,
                "unit.created",
                "unit",
                unit.id,
                {"name": name, "collective": collective},
            )
        return unit

    def _update(self, unit: Unit, **values: Any) -> None:
        changes = {k: v for k, v in values.items() if getattr(unit, k) != v}
        if not changes:
            return
        for key, value in changes.items():
            setattr(unit, key, value)
        shown = {k: (v.name if isinstance(v, Supervisor) else v) for k, v in changes.items()}
        record(self.session, self.now, self.actor, "unit.updated", "unit", unit.id, shown)

    def _supervisor(self, name: str, title: str | None, **values: Any) -> Supervisor:
        sup = self.supervisors.get(name)
        if sup is None:
            sup = Supervisor(name=name, title=title, **{"contacts": [], **values})
            self.session.add(sup)
            self.supervisors[name] = sup
            return sup
        wanted = {"title": title or sup.title, **values}
        for key, value in wanted.items():
            if getattr(sup, key) != value:
                setattr(sup, key, value)
        return sup

    def _add_aliases(self, unit: Unit, aliases: list[str]) -> None:
        for alias in aliases:
            owner = self.aliases.get(alias)
            if owner is None and alias not in self.units:
                unit.aliases.append(UnitAlias(alias=alias))
                self.aliases[alias] = unit.id
            elif owner is not None and owner != unit.id:
                self.warnings.append(f"别名「{alias}」已属于其他单位，未加到「{unit.name}」")

    def _set_members(self, collective: Unit, names: list[str]) -> None:
        wanted = [self._unit(n, collective=False).id for n in names]
        old = set(self.members.get(collective.id, []))
        if old == set(wanted):
            return
        for member_id in set(wanted) - old:
            self.session.add(CollectiveMember(collective_id=collective.id, member_id=member_id))
        for member_id in old - set(wanted):
            self.session.execute(
                delete(CollectiveMember).where(
                    CollectiveMember.collective_id == collective.id,
                    CollectiveMember.member_id == member_id,
                )
            )
        self.members[collective.id] = wanted
        record(
            self.session,
            self.now,
            self.actor,
            "collective.members",
            "unit",
            collective.id,
            {"members": names},
        )
