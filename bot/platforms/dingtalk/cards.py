"""DingTalk (钉钉) cards: a custom robot's link card (`actionCard`).

The robot's actionCard (PROTOCOLS.md §3; 自定义机器人 消息类型) is markdown text with
buttons that open URLs: one `btns` entry per button (`title`, `actionURL`), or a single
button (`singleTitle`, `singleURL`). Its text is the message's markdown, escaped as any
markdown message's; an actionCard cannot mention anyone (it has no `at`).
"""

from __future__ import annotations

from typing import Any

from bot.platforms.base import LinkCard, Outgoing

BUTTONS = 5  # item buttons on one card; beyond them, one button opens the first item
TITLE_CHARS = 64
VERTICAL = "0"  # btnOrientation: buttons one under another


def link_card(message: Outgoing, card: LinkCard) -> dict[str, Any]:
    """The robot's body: a button per item opening its report page, or, for more items
    than BUTTONS, one button opening the first (each item's link is in the text)."""
    action: dict[str, Any] = {
        "title": (message.headline or message.kind)[:TITLE_CHARS],
        "text": message.text,
    }
    if len(card.links) <= BUTTONS:
        action["btnOrientation"] = VERTICAL
        action["btns"] = [
            {"title": f"{link.number} {card.button}", "actionURL": link.url} for link in card.links
        ]
    else:
        action["singleTitle"] = card.more
        action["singleURL"] = card.links[0].url
    return {"msgtype": "actionCard", "actionCard": action}
