"""Feishu (飞书) cards: a custom bot's link card (`interactive`, card JSON 2.0).

A custom bot may send `{"msg_type": "interactive", "card": {...}}` (PROTOCOLS.md §5; card
JSON 2.0: `schema`, `header`, `body.elements`). The message's text goes in a `plain_text`
div, shown as written (no markup to escape); mentions in a `markdown` element as
`<at id=OPEN_ID></at>`; each item's report page behind a button whose `open_url` behavior
opens it. The whole body keeps to the bot's 20 KB.
"""

from __future__ import annotations

from typing import Any

from bot.platforms.base import LinkCard, Outgoing

BUTTONS = 20  # item buttons on one card; beyond them, one button opens the first item
HEADER = "blue"  # the header's colour template


def link_card(message: Outgoing, card: LinkCard) -> dict[str, Any]:
    """The bot's body (without the signature): the text, the mentions, and a button per
    item opening its report page, or one button opening the first for more than BUTTONS."""
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "plain_text", "content": message.text}}
    ]
    if message.user_ids:
        tags = " ".join(f"<at id={user_id}></at>" for user_id in message.user_ids)
        elements.append({"tag": "markdown", "content": tags})
    if len(card.links) <= BUTTONS:
        shown = [(f"{link.number} {card.button}", link.url) for link in card.links]
    else:
        shown = [(card.more, card.links[0].url)]
    elements.extend(_open_button(words, url) for words, url in shown)
    header = {"title": {"tag": "plain_text", "content": message.headline or message.kind}}
    content = {
        "schema": "2.0",
        "header": {**header, "template": HEADER},
        "body": {"elements": elements},
    }
    return {"msg_type": "interactive", "card": content}


def _open_button(words: str, url: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": words},
        "type": "primary",
        "behaviors": [{"type": "open_url", "default_url": url}],
    }
