"""WeCom (企业微信) cards: a group robot's link card (`template_card`, `text_notice`).

The robot's text_notice card (PROTOCOLS.md §1; 群机器人 template_card) shows a title, up to
six rows of 「key: value」 where a row may open a URL (`horizontal_content_list`, type 1),
and must open a URL when the card is tapped (`card_action`). Its fields are plain text, so
what users wrote needs no escaping; the documented lengths are characters, and longer text
is cut. A template card cannot mention anyone.
"""

from __future__ import annotations

from typing import Any

from bot.platforms.base import LinkCard, Outgoing

ROWS = 6  # horizontal_content_list
TITLE_CHARS = 26  # main_title.title
KEY_CHARS = 5  # horizontal_content_list[].keyname
VALUE_CHARS = 26  # horizontal_content_list[].value
URL_ROW = 1  # a row that opens `url`
OPEN_URL = 1  # card_action type: open `url`


def link_card(message: Outgoing, card: LinkCard) -> dict[str, Any]:
    """The robot's body: one row per item opening its report page; the card opens the
    first. The caller sends at most ROWS links this way."""
    rows = [
        {
            "keyname": link.number[:KEY_CHARS],
            "value": (link.text or card.button)[:VALUE_CHARS],
            "type": URL_ROW,
            "url": link.url,
        }
        for link in card.links
    ]
    template = {
        "card_type": "text_notice",
        "main_title": {"title": (message.headline or message.kind)[:TITLE_CHARS]},
        "horizontal_content_list": rows,
        "card_action": {"type": OPEN_URL, "url": card.links[0].url},
    }
    return {"msgtype": "template_card", "template_card": template}
