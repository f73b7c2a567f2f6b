"""A digest as its recipient reads it: the template context (units, items, blockers, the
month's accountability entries) and the queued message, through delivery/compose."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.app.config import Settings
from bot.delivery import compose as composed
from bot.delivery.compose import Composer
from bot.delivery.render import due_label, render, unit_summaries
from bot.domain.calendar import WorkCalendar, load_overrides
from bot.domain.periods import period_of
from bot.domain.rules import Rules, load_rules
from bot.present.labels import due_what
from bot.store.audit import record
from bot.store.models import AccountabilityEntry
from bot.supervise.accountability import RULE_NAMES

QUEUED = "digest.queued"
DEFAULT_LEVEL_NAMES = {"notice": "提醒", "urge": "催办", "supervise": "督办", "escalate": "通报"}


# --- setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestSetup:
    """What sending the digests needs besides the database."""

    tz: ZoneInfo  # the plan's time zone: working days and the time of day are local
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    at: time = time(8, 30)
    composer: Composer = field(default_factory=Composer)
    # The ladder levels shown, lowest first (the highest one reached is shown).
    levels: tuple[str, ...] = ("supervise", "escalate")
    level_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LEVEL_NAMES))
    simulated: bool = False


def digest_setup(
    settings: Settings,
    composer: Composer,
    rules: Rules | None = None,
    calendar: WorkCalendar | None = None,
) -> DigestSetup | None:
    """The setup from `[digest]` and the rule file's level names; None when disabled."""
    if not settings.digest.enabled:
        return None
    ladder = (rules or load_rules(settings.schedules.rules)).ladder
    hours, minutes = settings.digest.time.split(":")
    return DigestSetup(
        tz=ZoneInfo(settings.plan.timezone),
        calendar=calendar or WorkCalendar(load_overrides(settings.schedules.calendar)),
        at=time(int(hours), int(minutes)),
        composer=composer,
        level_names={**DEFAULT_LEVEL_NAMES, **{level.key: level.name for level in ladder}},
    )


# --- what a digest holds ------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient(composed.Recipient):
    """A supervisor or the office (their channel as configured; None: the default)."""

    def key(self, period: str) -> str:
        """The once key of this recipient's digest of a day (2020-10-28) or month (2020-10)."""
        own = f":{self.id}" if self.id is not None else ""
        return f"digest:{period}:{self.kind}{own}"


@dataclass(frozen=True)
class Item:
    """An open due point at a shown level."""

    due_point: int
    assignment: int
    task_id: int
    task: str
    task_seq: int
    text: str
    unit: str
    kind: str
    name: str | None
    due: date
    level: str
    overdue_days: int


@dataclass(frozen=True)
class Blocker:
    """An open blocker: a `reply.blocker` event not followed by anything that ends it."""

    event: int
    assignment: int
    task_id: int
    task: str
    task_seq: int
    unit: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Digest:
    """One digest queued: to whom, where, what it listed, the outbox rows (its parts)."""

    recipient: Recipient
    day: date
    channel: str
    message_ids: tuple[int, ...]
    items: tuple[Item, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    entries: tuple[int, ...] = ()  # accountability entries confirmed last month


def _day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def digest_context(
    recipient: Recipient,
    day: date,
    items: Sequence[Item],
    blockers: Sequence[Blocker],
    entries: Sequence[AccountabilityEntry],
    setup: DigestSetup,
) -> dict[str, Any]:
    """The variables of messages/digest.j2: units summed up (most overdue first) with their
    items, blockers by unit, last month's confirmed accountability entries, the dashboard."""
    by_unit: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_unit[item.unit].append(item)
    for unit_items in by_unit.values():
        unit_items.sort(key=lambda i: (-i.overdue_days, i.task_seq, i.task, i.due))
    units = [
        {
            **summary,
            "items": [
                {
                    "task": i.task,
                    "text": i.text,
                    "what": due_what(i.kind, i.name),
                    "due_label": due_label(i.due.isoformat()),
                    "level_name": setup.level_names.get(i.level, i.level),
                    "overdue_days": i.overdue_days,
                }
                for i in by_unit[summary["name"]]
            ],
        }
        for summary in unit_summaries((i.unit, i.overdue_days) for i in items)
    ]
    shown_blockers = [
        {
            "task": b.task,
            "unit": b.unit,
            "text": b.text,
            "since": due_label(b.at.astimezone(setup.tz).date().isoformat()),
        }
        for b in sorted(blockers, key=lambda b: (b.unit, b.at, b.event))
    ]
    context: dict[str, Any] = {
        "recipient": recipient.address,
        "recipient_kind": recipient.kind,
        "date_label": _day_label(day),
        "units": units,
        "blockers": shown_blockers,
        "dashboard_url": setup.composer.dashboard_url,
    }
    if entries:
        last_month = period_of(day, "month").previous()
        context["month_label"] = last_month.title
        context["accountability"] = [
            {
                "unit": e.unit.name,
                "rule": RULE_NAMES.get(e.rule, e.rule),
                "summary": e.summary,
                "decided_label": due_label(
                    e.decided_at.astimezone(setup.tz).date().isoformat()
                    if e.decided_at
                    else day.isoformat()
                ),
                "note": e.note or "",
            }
            for e in entries
        ]
    return context


def _queue(
    session: Session,
    setup: DigestSetup,
    recipient: Recipient,
    day: date,
    now: datetime,
    items: Sequence[Item],
    blockers: Sequence[Blocker],
    entries: Sequence[AccountabilityEntry],
) -> Digest:
    context = digest_context(recipient, day, items, blockers, entries, setup)
    person = recipient.id if recipient.kind == "supervisor" else None
    context["review_url"] = setup.composer.links.review(recipient.kind, person, now) or ""
    listed = (
        [
            {
                "due_point": i.due_point,
                "assignment": i.assignment,
                "level": i.level,
                "overdue_days": i.overdue_days,
            }
            for i in items
        ]
        + [{"blocker": b.event, "assignment": b.assignment} for b in blockers]
        + [{"accountability": e.id} for e in entries]
    )
    messages = setup.composer.compose(
        recipient,
        "digest",
        lambda shape: render("digest", shape.markup, **context),
        now,
        items=listed,
        simulated=setup.simulated,
    )
    session.add_all(messages)
    session.flush()
    ids = tuple(m.id for m in messages)
    channel = messages[0].channel or setup.composer.channel_of(recipient)
    detail = {
        "day": day.isoformat(),
        "recipient": recipient.address,
        "recipient_kind": recipient.kind,
        "recipient_id": recipient.id,
        "channel": channel,
        "message_ids": list(ids),
        "items": [i.due_point for i in items],
        "blockers": [b.event for b in blockers],
        "accountability": [e.id for e in entries],
    }
    record(session, now, "scheduler", QUEUED, "message", ids[0], detail, channel="scheduler")
    listed_entries = tuple(e.id for e in entries)
    return Digest(recipient, day, channel, ids, tuple(items), tuple(blockers), listed_entries)
