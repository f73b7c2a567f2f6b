"""The one way a message is queued: for its recipient's channel, rendered in that channel's
markup (what users wrote escaped for it), split to its byte budget, as outbox rows.

Every producer — reminders, digests, rankings and their previews, blockers, follow-ups,
alerts — calls `Composer.compose`; the dispatcher sends the rows (bot/delivery/outbox.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.delivery.splitting import split_message
from bot.intake.directory import OfficeEntry
from bot.platforms.base import ItemLink, LinkCard, Outgoing
from bot.platforms.formats import Formats, MessageFormat
from bot.platforms.registry import MENTION_KEYS
from bot.present.labels import CARD_BUTTON, CARD_MORE
from bot.present.links import Links
from bot.store.models import Message

# The office's name when the unit directory sets none (its [office] name).
DEFAULT_OFFICE = OfficeEntry().name


@dataclass(frozen=True)
class Recipient:
    """Who a message is for: kind unit | supervisor | office | public, and their channel
    (None: the default channel; the office always gets the office channel)."""

    kind: str
    id: int | None
    name: str
    channel: str | None = None
    title: str | None = field(default=None, compare=False)  # a leader's, from the directory

    @property
    def address(self) -> str:
        """How a message addresses them: a leader by name and title (张伟常务副市长), else
        the name alone."""
        return f"{self.name}{self.title}" if self.title else self.name


@dataclass(frozen=True)
class Composer:
    formats: Formats = field(default_factory=Formats)
    office: str = DEFAULT_OFFICE  # the office's name, from the directory
    dashboard_url: str = ""  # [web] public_url: escalations and digests link to it
    links: Links = field(default_factory=Links)  # signed report, review and evidence links

    @property
    def office_recipient(self) -> Recipient:
        return Recipient("office", None, self.office)

    def channel_of(self, recipient: Recipient) -> str:
        """The channel that reaches `recipient` (an unknown one: the default channel)."""
        wanted = self.formats.office_channel if recipient.kind == "office" else recipient.channel
        return self.formats.channel_name(wanted)

    def format_of(self, recipient: Recipient) -> MessageFormat:
        return self.formats.of(self.channel_of(recipient))

    def compose(
        self,
        recipient: Recipient,
        kind: str,
        text: Callable[[MessageFormat], str],
        now: datetime,
        *,
        items: list[Any] | None = None,
        mentions: dict[str, Any] | None = None,
        not_before: datetime | None = None,
        simulated: bool = False,
    ) -> list[Message]:
        """The rows of one message of `kind` to `recipient`; `text` renders it for the
        channel's format. Several rows, numbered parts, when it is too long for one."""
        channel = self.channel_of(recipient)
        shape = self.formats.of(channel)
        budget = shape.max_bytes - shape.mention_bytes(mentions or {})
        return message_rows(
            (recipient.kind, recipient.id, recipient.name),
            channel,
            kind,
            split_message(text(shape), budget),
            now,
            not_before=not_before,
            items=items,
            mentions=mentions,
            simulated=simulated,
        )


def message_rows(
    recipient: tuple[str, int | None, str],
    channel: str | None,
    kind: str,
    parts: list[str],
    now: datetime,
    *,
    not_before: datetime | None = None,
    items: list[Any] | None = None,
    mentions: dict[str, Any] | None = None,
    simulated: bool = False,
) -> list[Message]:
    """New pending rows for a text in numbered parts; `recipient` is (kind, id, name).
    Items and mentions go with the first part."""
    recipient_kind, recipient_id, recipient_name = recipient
    return [
        Message(
            recipient_kind=recipient_kind,
            recipient_id=recipient_id,
            recipient_name=recipient_name,
            channel=channel,
            kind=kind,
            state="pending",
            not_before=not_before or now,
            items=(items or []) if number == 1 else [],
            mentions=(mentions or {}) if number == 1 else {},
            text=part,
            attempts=0,
            simulated=simulated,
            part=number,
            parts=len(parts),
            created_at=now,
        )
        for number, part in enumerate(parts, start=1)
    ]


def outgoing(message: Message) -> Outgoing:
    """An outbox row as its channel sends it: the text, the mentions, the items' links."""
    mentions = message.mentions or {}
    ids = [i for key in MENTION_KEYS for i in mentions.get(key, [])]
    return Outgoing(
        message.id,
        message.recipient_name,
        message.kind,
        message.text,
        tuple(mentions.get("mobiles", [])),
        tuple(ids),
        card=link_card(message.items or []),
    )


def link_card(items: list[Any]) -> LinkCard | None:
    """The report pages a message's items link to (`item["link"]`, set on reminders), for a
    channel that sends cards; None when no item has one."""
    links = tuple(
        ItemLink(f"#{item['task']}", str(item.get("text") or ""), str(item["link"]))
        for item in items
        if isinstance(item, dict) and item.get("link")
    )
    return LinkCard(links, CARD_BUTTON, CARD_MORE) if links else None
