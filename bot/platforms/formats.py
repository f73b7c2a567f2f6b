"""How each channel wants its messages: its platform's markup, byte budget and mentions."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.platforms.registry import platform


@dataclass(frozen=True)
class MessageFormat:
    platform: str
    markup: str = "text"

    @property
    def max_bytes(self) -> int:
        return platform(self.platform).budget(self.markup)

    def mention_bytes(self, mentions: dict[str, list[str]]) -> int:
        """Bytes the channel appends to the content to mention (WeCom markdown's line of
        `<@id>` tags counts against its 4,096 bytes; the other budgets keep a margin)."""
        found = platform(self.platform)
        return found.mention_bytes(self.markup, mentions.get(self.platform, []))

    @property
    def local(self) -> bool:
        """Console and files show mentions as text; robots mention through their API."""
        return platform(self.platform).local


@dataclass(frozen=True)
class Formats:
    by_channel: dict[str, MessageFormat] = field(
        default_factory=lambda: {"console": MessageFormat("console")}
    )
    default_channel: str = "console"
    office_channel: str = "console"

    def channel_name(self, name: str | None) -> str:
        return name if name is not None and name in self.by_channel else self.default_channel

    def of(self, name: str | None) -> MessageFormat:
        return self.by_channel[self.channel_name(name)]
