"""What a chat platform is to duban, described once per platform: what its robots accept
(markups, text budgets, send rates), how a contact is mentioned and recognised, what a
channel of it needs, and whether it calls back. Each platform package declares one
`Platform`; `bot.platforms.registry` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.platforms.base import Channel

# Text budgets beyond which a message is split; generous where the platform sets none.
DEFAULT_BUDGET = 60_000


@dataclass(frozen=True)
class Limit:
    """At most `count` sends in any `seconds` to one robot."""

    count: int
    seconds: float


@dataclass(frozen=True)
class ChannelSpec:
    """What a `[channels.NAME]` section gives the constructor."""

    name: str
    webhook: str
    secret: str | None
    markup: str
    timeout: httpx.Timeout
    path: Path | None
    cards: bool = False  # reminders with report links go as the platform's link card
    app_id: str | None = None  # an app channel's app (feishu_app; dingtalk_app's AppKey)
    chat_id: str | None = None  # the chat an app channel posts to
    corp_id: str | None = None  # wecom_app: the corp, and the app's AgentId
    agent_id: int | None = None
    robot_code: str | None = None  # dingtalk_app: the app's robot, its card template, and
    card_template: str | None = None  # the route key its card callback was registered with
    route_key: str | None = None


Builder = Callable[[ChannelSpec, httpx.Client], Channel]


@dataclass(frozen=True)
class Platform:
    name: str  # `platform = NAME` of a [channels.*] section
    build: Builder
    markups: tuple[str, ...] = ("text",)  # what its robots send; the first by default
    budgets: Mapping[str, int] = field(default_factory=dict)  # UTF-8 bytes per markup
    limits: tuple[Limit, ...] = ()  # send budget per robot
    user_id: str | None = None  # the contact field that mentions and identifies a person
    # Markups whose mention tags count against the text budget (WeCom markdown's <@id>).
    mentions_in_text: frozenset[str] = frozenset()
    needs: tuple[str, ...] = ("webhook",)  # channel settings it cannot do without
    local: bool = False  # shown on this machine (console, file), not sent to a chat
    inbound: str | None = None  # `platform = NAME` of its [inbound.*] callback
    inbound_needs: tuple[str, ...] = ()
    answers_by_api: bool = False  # answers a callback with a request, not in the response
    # A robot's link card (`[channels.NAME] cards`): how many item buttons it holds (0: the
    # platform has none; bot/platforms/*/cards.py say what happens beyond).
    card_links: int = 0
    card_markup: str | None = None  # the markup a link card's text needs, if it has one

    @property
    def default_markup(self) -> str:
        return self.markups[0]

    def budget(self, markup: str) -> int:
        return self.budgets.get(markup, DEFAULT_BUDGET)

    def mention_bytes(self, markup: str, user_ids: list[str]) -> int:
        """Bytes the robot appends to the text to mention `user_ids`, if they count."""
        if markup not in self.mentions_in_text or not user_ids:
            return 0
        return len(("\n" + " ".join(f"<@{i}>" for i in user_ids)).encode())
