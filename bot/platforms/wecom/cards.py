"""WeCom (企业微信) cards: a group robot's link card (`template_card`, `text_notice`), and an
app's button card (`button_interaction`), whose taps bot/platforms/wecom/callback.py reads.

The robot's text_notice card (PROTOCOLS.md §1; 群机器人 template_card) shows a title, up to
six rows of 「key: value」 where a row may open a URL (`horizontal_content_list`, type 1),
and must open a URL when the card is tapped (`card_action`). Its fields are plain text, so
what users wrote needs no escaping; the documented lengths are characters, and longer text
is cut. A template card cannot mention anyone.
"""

from __future__ import annotations

from typing import Any

from bot.platforms.base import LinkCard, Outgoing
from bot.platforms.buttons import COMMANDS, Tap

ROWS = 6  # horizontal_content_list
TITLE_CHARS = 26  # main_title.title
KEY_CHARS = 5  # horizontal_content_list[].keyname
VALUE_CHARS = 26  # horizontal_content_list[].value
URL_ROW = 1  # a row that opens `url`
OPEN_URL = 1  # card_action type: open `url`
SUB_TITLE_CHARS = 112  # sub_title_text
PRIMARY = 1  # button_list[].style: the blue button
APP_ITEMS = 3  # button_list holds six: 收到 and 完成 for three items


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


def button_card(message: Outgoing, card: LinkCard, task_id: str) -> dict[str, Any]:
    """An app's reminder card (`template_card` of `message/send`, button_interaction): the
    headline, the text's start, and 「#12 收到」「#12 完成」 for each item — buttons whose key
    names the tap (bot/platforms/buttons.py) — the card itself opening the first item's
    report page for the rest. At most APP_ITEMS items (six buttons); `task_id` must be new
    for the app (letters, digits and `_-@`, at most 128 bytes). A tap arrives as
    template_card_event at the app's encrypted callback, with a ResponseCode good once."""
    buttons = [
        {
            "text": f"{link.number} {command}",
            "style": PRIMARY,
            "key": Tap(command, link.number.removeprefix("#")).key,
        }
        for link in card.links
        for command in COMMANDS
    ]
    return {
        "card_type": "button_interaction",
        "main_title": {"title": (message.headline or message.kind)[:TITLE_CHARS]},
        "sub_title_text": message.text[:SUB_TITLE_CHARS],
        "task_id": task_id,
        "button_list": buttons,
        "card_action": {"type": OPEN_URL, "url": card.links[0].url},
    }
