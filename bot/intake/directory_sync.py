"""The unit directory applied to the database outside an import — at `duban run` start, on
SIGHUP and with `duban units sync` — and what that changed: channels and chat ids added,
changed or removed, units newly in the directory.

A unit, collective or supervisor whose `channel` names no configured channel is refused
first: its messages would otherwise go, unnoticed, to the default channel.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.errors import IntakeError
from bot.intake.directory import Directory
from bot.intake.units_store import UnitBook
from bot.platforms.registry import USER_IDS
from bot.store.models import Supervisor, Unit

CHAT_IDS = ("mobile", *USER_IDS)  # the contact fields that reach or identify a person
Holdings = dict[str, dict[str, str]]  # 单位「X」 → field → value


@dataclass(frozen=True)
class DirectorySync:
    added: list[str]  # units and supervisors new to the directory, with all they hold
    changes: list[str]  # one line per channel or chat id of the others, in the office's words
    warnings: list[str]

    def as_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "changes": self.changes, "warnings": self.warnings}


def check_channels(directory: Directory, configured: Collection[str], source: str) -> None:
    """Raises IntakeError naming the first entry whose channel is not configured."""
    entries: list[tuple[str, str | None]] = [
        *((f"单位「{n}」", e.channel) for n, e in directory.units.items()),
        *((f"集体单位「{n}」", e.channel) for n, e in directory.collectives.items()),
        *((f"分管领导「{n}」", e.channel) for n, e in directory.supervisors.items()),
    ]
    for who, channel in entries:
        if channel is not None and channel not in configured:
            raise IntakeError(
                source,
                f"{who}的 channel「{channel}」不是已配置的渠道（已配置：{'、'.join(configured)}）；"
                f"请在配置中添加 [channels.{channel}]，或改正单位名录",
            )


def sync_directory(session: Session, directory: Directory, now: datetime) -> DirectorySync:
    """Applies `directory` to the units and supervisors in the database (in the caller's
    transaction) and says what changed."""
    before = _holdings(session)
    book = UnitBook.load(session, directory, now, actor="directory")
    session.flush()
    after = _holdings(session)
    added = [holder for holder in after if holder not in before]
    changes = [
        line
        for holder in after
        if holder in before
        for line in _changes(holder, before[holder], after[holder])
    ]
    return DirectorySync(added, changes, [*book.warnings, *_members(directory)])


def _holdings(session: Session) -> Holdings:
    held: Holdings = {}
    rows: list[tuple[str, Unit | Supervisor]] = [
        *(("单位", u) for u in session.scalars(select(Unit).where(Unit.in_directory))),
        *(("分管领导", s) for s in session.scalars(select(Supervisor))),
    ]
    for kind, row in rows:
        fields = {"渠道": row.channel} if row.channel else {}
        for contact in row.contacts or []:
            fields |= _chat_ids(contact)
        held[f"{kind}「{row.name}」"] = fields
    return held


def _chat_ids(contact: dict[str, Any]) -> dict[str, str]:
    name = contact.get("name", "")
    return {f"联系人{name}的 {key}": str(contact[key]) for key in CHAT_IDS if contact.get(key)}


def _changes(holder: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            lines.append(f"{holder}{key}：新增 {new[key]}")
        elif key not in new:
            lines.append(f"{holder}{key}：删除（原为 {old[key]}）")
        elif old[key] != new[key]:
            lines.append(f"{holder}{key}：{old[key]} → {new[key]}")
    return lines


def _members(directory: Directory) -> list[str]:
    """Collective members the directory does not list as units, with the name it may mean."""
    warnings: list[str] = []
    for collective, entry in directory.collectives.items():
        for member in entry.members:
            if directory.canonical(member) is None:
                hint = directory.suggest(member)
                warnings.append(
                    f"集体单位「{collective}」的成员「{member}」不在单位名录中"
                    + (f"，{hint}" if hint else "")
                )
    return warnings
