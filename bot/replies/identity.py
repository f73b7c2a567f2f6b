"""Who sent a reply: a platform user id → a contact → the unit(s), supervisor or office.

Contacts come from the unit directory: units' and supervisors' contacts as imported into
the database, the office's from the directory file (`[office]`). A user id that is no
contact's is unknown; the caller refuses it politely and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.intake.directory import OfficeEntry
from bot.intake.units import match_key
from bot.platforms.registry import INBOUND, sender_fields
from bot.replies.apply import APPROVALS, Actor
from bot.replies.keywords import CommandKind
from bot.store.models import Supervisor, Unit, UnitAlias


@dataclass(frozen=True)
class Identity:
    """What one person may act as: the units they are a contact of, the supervisors they
    are (or assist), and whether they belong to the office."""

    name: str
    units: tuple[tuple[int, str], ...] = ()
    supervisors: tuple[tuple[int, str], ...] = ()
    office: str | None = None

    def actor(self, kind: CommandKind) -> Actor:
        """Approvals are made as the office or a supervisor; everything else as the units."""
        approving = kind in APPROVALS
        if self.units and not (approving and (self.office or self.supervisors)):
            return Actor("unit", "、".join(n for _, n in self.units), _ids(self.units))
        if self.office:
            return Actor("office", self.office)
        if self.supervisors:
            names = "、".join(n for _, n in self.supervisors)
            return Actor("supervisor", names, supervisor_ids=_ids(self.supervisors))
        return Actor("unknown", self.name)

    def merged(self, other: Identity) -> Identity:
        return Identity(
            self.name,
            _union(self.units, other.units),
            _union(self.supervisors, other.supervisors),
            self.office or other.office,
        )


@dataclass
class People:
    """Everyone who may write to duban, indexed by (platform field, user id)."""

    by_id: dict[tuple[str, str], Identity] = field(default_factory=dict)
    by_name: dict[str, Identity] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, office: OfficeEntry | None = None) -> People:
        people = cls()
        for unit in session.scalars(select(Unit).order_by(Unit.id)):
            people._add_unit(unit)
        for alias, unit_id, name in session.execute(
            select(UnitAlias.alias, Unit.id, Unit.name).join(Unit, UnitAlias.unit_id == Unit.id)
        ):
            people._name(alias, Identity(name, units=((unit_id, name),)))
        for sup in session.scalars(select(Supervisor).order_by(Supervisor.id)):
            me = Identity(sup.name, supervisors=((sup.id, sup.name),))
            people._name(sup.name, me)
            people._contacts(sup.contacts, me)
        if office is not None:
            me = Identity(office.name, office=office.name)
            people._name(office.name, me)
            people._contacts([c.model_dump() for c in office.contacts], me)
        return people

    def find(self, platform: str, user_id: str) -> Identity | None:
        """The person behind a platform user id, or None when no contact has it."""
        for key in sender_fields(platform) if platform in INBOUND else ():
            if (found := self.by_id.get((key, user_id))) is not None:
                return found
        return None

    def named(self, name: str) -> Identity | None:
        """A unit (or alias), supervisor, contact or the office, by name (`reply --as`)."""
        return self.by_name.get(match_key(name))

    def _add_unit(self, unit: Unit) -> None:
        me = Identity(unit.name, units=((unit.id, unit.name),))
        self._name(unit.name, me)
        self._contacts(unit.contacts, me)

    def _contacts(self, contacts: Iterable[Mapping[str, Any]], role: Identity) -> None:
        for contact in contacts:
            name = str(contact.get("name") or role.name)
            person = Identity(name, role.units, role.supervisors, role.office)
            for key in ("mobile", "wecom_userid", "dingtalk_userid", "feishu_open_id"):
                if value := contact.get(key):
                    known = self.by_id.get((key, str(value)))
                    self.by_id[(key, str(value))] = known.merged(person) if known else person
            self._name(name, person)

    def _name(self, name: str, identity: Identity) -> None:
        key = match_key(name)
        known = self.by_name.get(key)
        self.by_name[key] = known.merged(identity) if known else identity


def _ids(pairs: tuple[tuple[int, str], ...]) -> tuple[int, ...]:
    return tuple(i for i, _ in pairs)


def _union(
    a: tuple[tuple[int, str], ...], b: tuple[tuple[int, str], ...]
) -> tuple[tuple[int, str], ...]:
    return a + tuple(pair for pair in b if pair not in a)
