"""How each channel wants its messages: markup, byte budget, which mention ids it uses."""

from __future__ import annotations

from dataclasses import dataclass, field

# Text budgets in UTF-8 bytes (PROTOCOLS.md): WeCom's limits are on the content; DingTalk
# and Feishu limit the whole JSON body to 20,000 bytes, so the text keeps a margin.
TEXT_BUDGET = {
    ("wecom", "text"): 2048,
    ("wecom", "markdown"): 4096,
    ("dingtalk", "text"): 18000,
    ("dingtalk", "markdown"): 18000,
    ("feishu", "text"): 18000,
}
DEFAULT_BUDGET = 60000
MENTION_IDS = {"wecom": "wecom_userid", "dingtalk": "dingtalk_userid", "feishu": "feishu_open_id"}


@dataclass(frozen=True)
class MessageFormat:
    platform: str
    markup: str = "text"

    @property
    def max_bytes(self) -> int:
        return TEXT_BUDGET.get((self.platform, self.markup), DEFAULT_BUDGET)

    def mention_bytes(self, mentions: dict[str, list[str]]) -> int:
        """Bytes the channel appends to the content to mention: WeCom markdown's line of
        `<@id>` tags counts against its 4,096 bytes (the other budgets keep a margin)."""
        ids = mentions.get("wecom", [])
        if (self.platform, self.markup) != ("wecom", "markdown") or not ids:
            return 0
        return len(("\n" + " ".join(f"<@{i}>" for i in ids)).encode())

    @property
    def local(self) -> bool:
        """Console and files show mentions as text; robots mention through their API."""
        return self.platform in ("console", "jsonl")


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
