"""Replies received from chat: kept, then acted on, exactly once.

`receive` persists a verified callback under the platform's message id (a retry of the
same message inserts nothing); `handle` claims a received event, works out who sent it and
what it asks, applies it (bot/replies/apply.py) and stores the answer — all in one
transaction, so an event is either acted on and answered or still waiting. An answer that
goes by a second request (DingTalk, Feishu) leaves the event `answering` until `answered`
records it sent. `pending` and `unanswered` list what a crash left, for the daemon to
finish.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.orm import Session

from bot.app.errors import DubanError, NotFoundError, ParseError
from bot.delivery.compose import Composer
from bot.platforms.inbound import InboundMessage, without_secrets
from bot.platforms.mentions import neutralize_mentions
from bot.replies.apply import Actor, Outcome, apply_command
from bot.replies.evidence import ChatEvidence, Ready, attachment_of, keep_file
from bot.replies.identity import Identity, People
from bot.replies.keywords import CommandKind, help_text, parse_command
from bot.replies.lookups import Lookups
from bot.replies.plans import choose_plan
from bot.store.audit import record
from bot.store.bulk import insert_new
from bot.store.models import InboundEvent
from bot.store.plans import plan_name
from bot.store.queries import current_plan

UNKNOWN_SENDER = (
    "您的账号尚未登记为责任单位、分管领导或{office}的联络人，本条回复未作处理。"
    "请联系{office}在单位名录中登记后再回复。"
)
NO_PLAN = "系统中尚无督办计划，本条回复未作处理。请联系{office}。"
NOT_TEXT = "暂只能处理文字指令。发送「帮助」查看指令说明。"
# The audit channel of replies the office enters from the command line.
OFFICE_ENTRY = "office-entry"
INFORMATIONAL = frozenset({CommandKind.HELP, CommandKind.TODO, CommandKind.EVIDENCE})
# What a JSON string may hold but a database column cannot: NUL (PostgreSQL refuses it in
# text) and lone surrogates (not encodable as UTF-8, on either backend).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Handled:
    """The answer to one event, and where to send it."""

    event: int
    platform: str
    source: str
    reply: str
    reply_to: str | None
    reply_expires: datetime | None
    changed: bool


def stored_event_id(event_id: str) -> str:
    """The platform's id as the table keeps it (at most 200 characters)."""
    return _storable(event_id)[:200]


def _storable(text: str) -> str:
    """`text` as both databases can keep it: NUL and lone surrogates become U+FFFD."""
    return UNSTORABLE.sub("\ufffd", text)


def receive(session: Session, source: str, message: InboundMessage, now: datetime) -> int | None:
    """Keeps the event; returns its row id, or None when this message was received before."""
    return receive_many(session.connection(), [(source, message, now)])[0]


def receive_many(
    connection: Connection, events: list[tuple[str, InboundMessage, datetime]]
) -> list[int | None]:
    """Keeps several events in one statement; for each, its new row id or None when it was
    received before (also earlier in the same list)."""
    rows: list[dict[str, Any]] = [
        {
            "source": source,
            "platform": message.platform,
            "event_id": stored_event_id(message.event_id),
            "signature": message.signature,
            "sender": _storable(message.sender)[:200],
            "text": _storable(message.text),
            # JSON, serialized with escapes: anything goes, but no verification token.
            "payload": without_secrets(message.raw),
            "reply_to": None if message.reply_to is None else _storable(message.reply_to),
            "reply_expires": message.reply_expires,
            "state": "received",  # actor, reply, processed_at: none yet
            "received_at": now,
        }
        for source, message, now in events
    ]
    table = cast(Table, InboundEvent.__table__)
    returned = insert_new(connection, table, rows, ("id", "source", "event_id"))
    inserted = {(row.source, row.event_id): row.id for row in returned}
    results: list[int | None] = []
    for row in rows:
        results.append(inserted.pop((row["source"], row["event_id"]), None))
    return results


def handle(
    session: Session,
    people: People,
    event_id: int,
    now: datetime,
    *,
    composer: Composer | None = None,
    answer_later: bool = False,
    evidence: ChatEvidence | None = None,
    ready: Mapping[int, Ready] | None = None,
) -> Handled | None:
    """Acts on a received event; None when another process already has (or is). With
    `answer_later` the event stays `answering` until `answered` says its answer went. With
    `evidence`, an image or a file is kept as evidence (bot/replies/evidence.py); `ready`
    has the files already read (`ChatEvidence.read_ahead`)."""
    event = claim(session, [event_id]).get(event_id)
    if event is None:
        return None
    return act_on(
        session,
        people,
        event,
        now,
        composer=composer,
        answer_later=answer_later,
        evidence=evidence,
        ready=ready,
    )


def claim(session: Session, event_ids: list[int]) -> dict[int, InboundEvent]:
    """Takes the received events of `event_ids` (`processing`) in one statement, each to be
    acted on (`act_on`) or given back (`release`) before the transaction ends."""
    if not event_ids:
        return {}
    claimed = session.scalars(
        update(InboundEvent)
        .where(InboundEvent.id.in_(event_ids), InboundEvent.state == "received")
        .values(state="processing")
        .returning(InboundEvent)
    )
    return {event.id: event for event in claimed}


def release(session: Session, event_ids: list[int]) -> None:
    """Claimed events left for another transaction: `received` again."""
    if event_ids:
        session.execute(
            update(InboundEvent)
            .where(InboundEvent.id.in_(event_ids), InboundEvent.state == "processing")
            .values(state="received")
            .execution_options(synchronize_session=False)
        )


def act_on(
    session: Session,
    people: People,
    event: InboundEvent,
    now: datetime,
    *,
    composer: Composer | None = None,
    answer_later: bool = False,
    evidence: ChatEvidence | None = None,
    ready: Mapping[int, Ready] | None = None,
    lookups: Lookups | None = None,
) -> Handled:
    """Acts on a claimed event and keeps its answer (see `handle`), written at the next
    flush: a batch's events go to the database together, and share their `lookups`."""
    reply, changed, actor = _act(session, people, event, now, composer, evidence, ready, lookups)
    state = "answering" if answer_later else "processed"
    event.state, event.reply, event.actor, event.processed_at = state, reply, actor, now
    return _handled(event, changed)


def _handled(event: InboundEvent, changed: bool) -> Handled:
    return Handled(
        event.id,
        event.platform,
        event.source,
        event.reply or "",
        event.reply_to,
        event.reply_expires,
        changed,
    )


def answered(session: Session, event_ids: list[int]) -> None:
    """The answers of `event_ids` went (or were given up): those events are processed."""
    if event_ids:
        session.execute(
            update(InboundEvent)
            .where(InboundEvent.id.in_(event_ids), InboundEvent.state == "answering")
            .values(state="processed")
        )


def unanswered(
    session: Session, now: datetime, older_than: timedelta, skip: frozenset[int] = frozenset()
) -> list[Handled]:
    """Events acted on whose answer a stopped process never sent, each claimed for this
    one (its `processed_at` moved to `now`, so that another process looking at the same
    moment leaves it alone); `skip` are those this process is still answering."""
    cutoff = now - older_than
    found: list[Handled] = []
    for event in session.scalars(
        select(InboundEvent)
        .where(InboundEvent.state == "answering", InboundEvent.processed_at < cutoff)
        .order_by(InboundEvent.id)
        .limit(500)
    ):
        if event.id in skip:
            continue
        claimed = session.execute(
            update(InboundEvent)
            .where(
                InboundEvent.id == event.id,
                InboundEvent.state == "answering",
                InboundEvent.processed_at < cutoff,
            )
            .values(processed_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            found.append(_handled(event, False))
    return found


def pending(session: Session, now: datetime, older_than: timedelta) -> list[int]:
    """Events received but never acted on (the process stopped before it could)."""
    return list(
        session.scalars(
            select(InboundEvent.id)
            .where(InboundEvent.state == "received", InboundEvent.received_at < now - older_than)
            .order_by(InboundEvent.id)
            .limit(500)
        )
    )


def _act(
    session: Session,
    people: People,
    event: InboundEvent,
    now: datetime,
    composer: Composer | None,
    evidence: ChatEvidence | None = None,
    ready: Mapping[int, Ready] | None = None,
    lookups: Lookups | None = None,
) -> tuple[str, bool, str | None]:
    office = (composer or Composer()).office
    identity = people.find(event.platform, event.sender)
    if identity is None:
        unknown = UNKNOWN_SENDER.format(office=office)
        _refused(session, event, now, "unknown sender", unknown)
        return unknown, False, None
    if not event.text.strip():
        attachment = attachment_of(event) if evidence is not None else None
        if evidence is None or attachment is None:
            return NOT_TEXT, False, identity.name
        reply, kept = keep_file(
            session, evidence, identity, event, attachment, now, composer or Composer(), ready
        )
        if not kept:
            _refused(session, event, now, identity.name, reply)
        return reply, kept, identity.name
    try:
        applied = apply_text(
            session,
            identity,
            event.text,
            now,
            channel=event.source,
            inbound=event.event_id,
            composer=composer,
            lookups=lookups,
        )
    except NotFoundError:
        return NO_PLAN.format(office=office), False, identity.name
    except ParseError as exc:
        unrecognised = "未能识别" in exc.message
        return (f"{exc.message}\n\n{help_text()}" if unrecognised else exc.message), False, None
    outcome, actor = applied.outcome, applied.actor
    if applied.refused:
        _refused(session, event, now, actor.name, outcome.reply)
    return neutralize_mentions(outcome.reply), outcome.changed, actor.name


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    actor: Actor
    informational: bool  # 帮助 / 待办: answered, nothing to change

    @property
    def refused(self) -> bool:
        return not self.outcome.changed and not self.informational


def apply_text(
    session: Session,
    identity: Identity,
    text: str,
    now: datetime,
    *,
    channel: str,
    inbound: str | None = None,
    composer: Composer | None = None,
    lookups: Lookups | None = None,
) -> Applied:
    """A reply's text as a command, applied for `identity`: the one pipeline of replies from
    chat and of replies the office enters (`duban reply --as`). The plan is the active one
    that has the task (asked back when several have it). ParseError if unreadable,
    NotFoundError when no plan is active. `lookups`: shared by a batch's replies."""
    lookups = lookups or Lookups()
    active = lookups.plans(session) or [current_plan(session)]  # none: says why
    command = parse_command(text, year=now.astimezone(ZoneInfo(active[0].timezone)).year)
    actor = identity.actor(command.kind)
    unit_ids = actor.unit_ids if actor.kind == "unit" else None
    plan = choose_plan(session, command, unit_ids, active)
    if isinstance(plan, str):
        return Applied(Outcome(plan, False), actor, True)
    outcome = apply_command(
        session,
        actor,
        command,
        plan,
        now,
        channel=channel,
        inbound=inbound,
        composer=composer,
        lookups=lookups,
    )
    if command.task is not None and len(active) > 1:
        outcome = Outcome(f"【{plan_name(plan)}】{outcome.reply}", outcome.changed)
    return Applied(outcome, actor, command.kind in INFORMATIONAL)


def enter_reply(
    session: Session,
    people: People,
    who: str,
    text: str,
    now: datetime,
    composer: Composer,
    hint: str = "",
) -> Applied:
    """A reply received by phone or on paper, entered by the office as `who` (a contact,
    unit, supervisor or the office); recorded as `reply.entered` (or `reply.refused`).
    `hint` (the directory's 「您是否要找：…」) is added when there is no such sender."""
    identity = people.named(who)
    if identity is None:
        raise NotFoundError(
            f"没有名为「{who}」的联系人、单位、分管领导或{composer.office}"
            f"{'；' + hint if hint else ''}（可用 `duban units` 查看）"
        )
    try:
        applied = apply_text(session, identity, text, now, channel=OFFICE_ENTRY, composer=composer)
    except ParseError as exc:
        raise DubanError(exc.message) from None
    detail = {"as": who, "actor": applied.actor.name, "text": text, "reply": applied.outcome.reply}
    if not applied.informational or applied.outcome.changed:
        action = "reply.entered" if applied.outcome.changed else "reply.refused"
        record(session, now, composer.office, action, "reply", None, detail, channel=OFFICE_ENTRY)
    return applied


def _refused(session: Session, event: InboundEvent, now: datetime, who: str, reply: str) -> None:
    """Nothing changed: the refusal is on record, with what was asked and by whom."""
    record(
        session,
        now,
        who,
        "reply.refused",
        "inbound",
        event.id,
        {"sender": event.sender, "text": event.text[:500], "reply": reply},
        channel=event.source,
        inbound_message_id=event.event_id,
    )
