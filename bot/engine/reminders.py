"""The reminders of a sweep as messages: who each due point's step goes to (the unit and
its contacts, the supervisor, the office), and one message per recipient bundling every item
due to it, each level's items under that level's headline, queued through delivery/compose
with a notification row per item."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.compose import Composer, Recipient
from bot.delivery.render import render_reminder, shorten
from bot.domain.calendar import WorkCalendar
from bot.domain.ladder import Step
from bot.domain.rules import Rules
from bot.platforms.formats import MessageFormat
from bot.platforms.registry import MENTION_KEYS
from bot.store.audit import record_many
from bot.store.database import insert_ignoring_duplicates
from bot.store.models import Assignment, DuePoint, Message, Notification, Supervisor, Task, Unit

KEY_CHUNK = 500
ENQUEUE_GROUP = 5000
UNIT_RECIPIENTS = frozenset({"unit", "contacts", "head"})
Contact = tuple[tuple[str, str], ...]  # a contact's (field, value) pairs, hashable


@dataclass(frozen=True, slots=True)  # a deadline day holds 100,000 of them
class Reminder:
    """One step of one due point, for one recipient: a notification row to be."""

    key: str
    recipient: Recipient
    point: PointRef
    step: Step
    item: dict[str, Any]
    mention: tuple[Contact, ...]
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class PointRef:
    """The due point a reminder is for — plain values, so no ORM object outlives its batch."""

    id: int
    assignment_id: int
    key: str


@dataclass(frozen=True)
class SweepOptions:
    composer: Composer = field(default_factory=Composer)
    simulated: bool = False


def reminders_for(
    point: DuePoint,
    assignment: Assignment,
    task: Task,
    unit: Unit,
    recipients: list[tuple[Recipient, tuple[Contact, ...]]],
    step: Step,
    cal: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> list[Reminder]:
    today = now.astimezone(tz).date()
    item = {
        "task": task.number,
        # Templates show 30 characters; a sweep may hold 100k items, so strings that repeat
        # (a task's text for each of its units, the point's name, the date) are shared.
        "text": sys.intern(shorten(task.text, 40)),
        "unit": unit.name,
        "role": assignment.role,
        "kind": point.kind,
        "name": point.name if point.name is None else sys.intern(point.name),
        "due": sys.intern(point.due_date.isoformat()),
        "level": step.level.key,
        "level_name": step.level.name,
        "repeat": step.repeat,
        "light": step.level.light,
        "overdue_days": max(cal.working_days_between(point.due_date, today), 0),
    }
    reminders = []
    for recipient, mention in recipients:
        key = (
            f"remind:{assignment.id}:{point.id}:{step.level.key}:{step.repeat}"
            f":{recipient.kind}:{recipient.id or 0}"
        )
        ref = PointRef(point.id, point.assignment_id, sys.intern(point.key))
        reminders.append(Reminder(key, recipient, ref, step, item, mention, tz))
    return reminders


def recipients(
    step: Step, unit: Unit, supervisor: Supervisor | None, office: Recipient
) -> list[tuple[Recipient, tuple[Contact, ...]]]:
    to = set(step.level.to)
    found: list[tuple[Recipient, tuple[Contact, ...]]] = []
    if to & UNIT_RECIPIENTS:
        found.append(
            (Recipient("unit", unit.id, unit.name, unit.channel), _mentioned(unit.contacts, to))
        )
    if "supervisor" in to and supervisor is not None:
        found.append(
            (
                Recipient(
                    "supervisor",
                    supervisor.id,
                    supervisor.name,
                    supervisor.channel,
                    supervisor.title,
                ),
                (),
            )
        )
    if "office" in to or ("supervisor" in to and supervisor is None):
        found.append((office, ()))
    return found


def _mentioned(contacts: list[Any], to: set[str]) -> tuple[Contact, ...]:
    """Who to mention: every contact at "contacts" levels, the head at "head" ones."""
    chosen = [
        c
        for c in contacts
        if ("contacts" in to and c.get("role") != "head")
        or ("head" in to and c.get("role") == "head")
    ]
    return tuple(tuple(sorted((k, str(v)) for k, v in c.items() if v)) for c in chosen)


def _mention_ids(bundle: list[Reminder], platform: str) -> dict[str, list[str]]:
    """Mobiles and user ids of everyone the bundle mentions; a chat platform gets only its
    own ids (user ids are per platform: another platform's id may name someone else)."""
    contacts = [dict(c) for r in bundle for c in r.mention]
    ids = {platform: MENTION_KEYS[platform]} if platform in MENTION_KEYS else {}
    if not ids:  # each contact field once (feishu and feishu_app share feishu_open_id)
        for name, key in MENTION_KEYS.items():
            if key not in ids.values():
                ids[name] = key
    fields = {"mobiles": "mobile", **ids}
    found = {name: sorted({c[key] for c in contacts if c.get(key)}) for name, key in fields.items()}
    return {name: ids for name, ids in found.items() if ids}


def enqueue(
    session: Session,
    reminders: list[Reminder],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    options: SweepOptions,
) -> tuple[int, int]:
    """Inserts the notifications; those actually new become one message per recipient."""
    if not reminders:
        return 0, 0
    # The due points are claimed (SKIP LOCKED / SQLite's write lock), so no other process
    # writes these keys now; the unique index stays the last guard against duplicates.
    keys = [r.key for r in reminders]
    known: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):  # databases cap the parameters of a query
        chunk = keys[start : start + KEY_CHUNK]
        known.update(session.scalars(select(Notification.key).where(Notification.key.in_(chunk))))
    # One message per recipient (and per day's send window): each level's items under that
    # level's own headline (【督办通知】 lists only 督办 items), the highest level first.
    bundles: dict[Recipient, list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        if reminder.key not in known:
            bundles[reminder.recipient].append(reminder)
    ordered = sorted(bundles.items(), key=lambda kv: (kv[0].kind, kv[0].name))
    notes = parts = 0
    # Bundles are written in groups of a few thousand reminders, so that a day on which
    # everything falls due never holds every row of the sweep in memory at once.
    for group in _groups(ordered, ENQUEUE_GROUP):
        written = _write_bundles(session, group, rules, cal, now, options)
        notes, parts = notes + written[0], parts + written[1]
    return notes, parts


Bundle = tuple[Recipient, list[Reminder]]


def _groups(ordered: list[Bundle], size: int) -> Iterator[list[Bundle]]:
    group: list[Bundle] = []
    count = 0
    for bundle in ordered:
        group.append(bundle)
        count += len(bundle[1])
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


def _write_bundles(
    session: Session,
    group: list[Bundle],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    options: SweepOptions,
) -> tuple[int, int]:
    bundled = [
        _messages(recipient, bundle, rules, cal, now, options) for recipient, bundle in group
    ]
    session.add_all([part for parts in bundled for part in parts])
    session.flush()
    firsts = [parts[0] for parts in bundled]  # notifications point at the first part
    pairs = list(zip(group, firsts, strict=True))
    rows = [_notification_row(r, now, m.id) for (_, bundle), m in pairs for r in bundle]
    insert_ignoring_duplicates(session, Notification, rows)
    record_many(
        session,
        now,
        "sweep",
        "reminders.queued",
        "message",
        [
            (
                m.id,
                {
                    "recipient": m.recipient_name,
                    "kind": m.kind,
                    "items": [_audit_item(r) for r in bundle],
                },
            )
            for (_, bundle), m in pairs
        ],
        channel="scheduler",
    )
    session.expunge_all()
    return len(rows), sum(len(parts) for parts in bundled)


def _audit_item(reminder: Reminder) -> dict[str, Any]:
    step = reminder.step
    return {
        "due_point": reminder.point.id,
        "assignment": reminder.point.assignment_id,
        "key": reminder.point.key,
        "level": step.level.key,
        "repeat": step.repeat,
        "light": step.level.light,
    }


def _notification_row(reminder: Reminder, now: datetime, message_id: int) -> dict[str, Any]:
    return {
        "key": reminder.key,
        "message_id": message_id,
        "due_point_id": reminder.point.id,
        "assignment_id": reminder.point.assignment_id,
        "level": reminder.step.level.key,
        "repeat": reminder.step.repeat,
        "recipient_kind": reminder.recipient.kind,
        "recipient_id": reminder.recipient.id,
        "created_at": now,
    }


def _messages(
    recipient: Recipient,
    bundle: list[Reminder],
    rules: Rules,
    cal: WorkCalendar,
    now: datetime,
    options: SweepOptions,
) -> list[Message]:
    """One bundle (one recipient) as message rows: a section per level under its headline,
    the highest first; one row, or numbered parts when it exceeds the byte budget."""
    levels = [level.key for level in rules.ladder]
    composer = options.composer
    linked = [(r, _with_link(r, recipient, composer, now)) for r in bundle]
    by_level: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reminder, item in linked:
        by_level[reminder.step.level.key].append(item)
    sections = sorted(by_level.items(), key=lambda kv: -levels.index(kv[0]))
    top = max(bundle, key=lambda r: levels.index(r.step.level.key))
    items = sorted((item for _, item in linked), key=_item_order)
    mentions = _mention_ids(bundle, composer.format_of(recipient).platform)

    def text(shape: MessageFormat) -> str:
        shown = " ".join(f"@{m}" for m in mentions.get("mobiles", [])) if shape.local else ""
        last = len(sections) - 1
        return (
            "\n\n".join(
                render_reminder(
                    level,
                    recipient.address,
                    recipient.kind,
                    sorted(level_items, key=_item_order),
                    shown if n == last else "",  # mentions and the link once, at the end
                    shape.markup,
                    composer.dashboard_url if n == last else "",
                ).rstrip("\n")
                for n, (level, level_items) in enumerate(sections)
            )
            + "\n"
        )

    return composer.compose(
        recipient,
        top.step.level.key,
        text,
        now,
        not_before=cal.next_send_time(now, rules.window, top.tz),
        items=items,
        mentions=mentions,
        simulated=options.simulated,
    )


def _with_link(
    reminder: Reminder, recipient: Recipient, composer: Composer, now: datetime
) -> dict[str, Any]:
    """A unit's item with the link to its report page (bot/web/report.py) as "link"; the
    item as it is for a leader or the office (the link acts as the unit), or when the links
    are off."""
    if recipient.kind != "unit" or recipient.id is None:
        return reminder.item
    link = composer.links.report(recipient.id, reminder.point.id, now)
    return reminder.item if link is None else {**reminder.item, "link": link}


def _item_order(item: dict[str, Any]) -> tuple[int, str, str]:
    number = str(item["task"])
    return (int(number) if number.isdigit() else 10**9, number, str(item["unit"]))
