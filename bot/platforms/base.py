"""The channel interface and its error: what every platform module implements.

Errors say what the caller should do next (STYLE.md): retry later (the default), split the
message and resend (`too_long`), wait before using this webhook again (`retry_after`,
seconds; set for rate limits), or stop (`permanent`: bad key, token gone, signature
rejected — the row is dead-lettered and the operator alerted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ItemLink:
    """One item's report page on a card: its number (「#12」), what it is, and the page."""

    number: str
    text: str
    url: str


@dataclass(frozen=True)
class LinkCard:
    """What a robot's link card shows beyond the text: a button per item (`button` is its
    word, 「填报」), or, when they do not fit, one button (`more`, 「查看并填报」)."""

    links: tuple[ItemLink, ...]
    button: str
    more: str


@dataclass(frozen=True)
class Outgoing:
    """A message as a channel sends it: text already rendered for the channel, plus mentions."""

    message_id: int
    recipient: str
    kind: str
    text: str
    mobiles: tuple[str, ...] = ()
    # Platform user ids to mention (wecom_userid / dingtalk_userid / feishu_open_id).
    user_ids: tuple[str, ...] = ()
    title: str = ""
    # The items' report pages, for channels that send cards (`[channels.NAME] cards`).
    card: LinkCard | None = None

    @property
    def headline(self) -> str:
        """The title, or the text's first line without its markers (`#`, `>`, `**`)."""
        first = self.text.partition("\n")[0]
        return self.title or first.lstrip("#> ").replace("**", "").strip()


@dataclass(frozen=True)
class Receipt:
    """What the platform answered to a successful send."""

    detail: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Receipt: ...
