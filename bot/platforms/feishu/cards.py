"""Feishu (飞书) cards: a custom bot's link card (`interactive`, card JSON 2.0), an app's
button card and the answer to a tap on it.

A custom bot may send `{"msg_type": "interactive", "card": {...}}` (PROTOCOLS.md §5; card
JSON 2.0: `schema`, `header`, `body.elements`). The message's text goes in a `plain_text`
div, shown as written (no markup to escape); mentions in a `markdown` element as
`<at id=OPEN_ID></at>`; each item's report page behind a button whose `open_url` behavior
opens it. The whole body keeps to the bot's 20 KB.

An app's card may also carry callback buttons (`behaviors: [{"type": "callback", "value":
…}]`): a tap arrives as `card.action.trigger` at the app's callback URL, signed and
encrypted like every event (bot/platforms/feishu/callback.py), and is answered within 3 s
with `{"toast": …, "card": {"type": "raw", "data": CARD}}` — the card replaced by one that
shows what was recorded (a custom bot's card cannot call back: only links there).
"""

from __future__ import annotations

from typing import Any

from bot.platforms.base import LinkCard, Outgoing
from bot.platforms.buttons import COMMANDS, Tap

BUTTONS = 20  # item buttons on one card; beyond them, one button opens the first item
HEADER = "blue"  # the header's colour template
APP_ITEMS = 10  # items with their own 收到 / 完成 buttons on an app's card
RECORDED = "green"  # the header of a card that shows what was recorded
TOAST_CHARS = 100  # a toast is one short line


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


def app_card(message: Outgoing, card: LinkCard) -> dict[str, Any]:
    """An app's reminder card (card JSON 2.0, sent as `im/v1/messages` content): the text,
    the mentions, and for each item a row of 收到 and 完成 (callback buttons) and its report
    page; beyond APP_ITEMS items, the link card's buttons only."""
    if len(card.links) > APP_ITEMS:
        found: dict[str, Any] = link_card(message, card)["card"]
        return found
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "plain_text", "content": message.text}}
    ]
    if message.user_ids:
        tags = " ".join(f"<at id={user_id}></at>" for user_id in message.user_ids)
        elements.append({"tag": "markdown", "content": tags})
    for link in card.links:
        task = link.number.lstrip("#")
        row = [
            _callback_button(f"{link.number} {command}", Tap(command, task)) for command in COMMANDS
        ]
        row.append(_open_button(card.button, link.url))
        columns = [{"tag": "column", "width": "auto", "elements": [b]} for b in row]
        elements.append({"tag": "column_set", "columns": columns})
    header = {"title": {"tag": "plain_text", "content": message.headline or message.kind}}
    return {
        "schema": "2.0",
        "header": {**header, "template": HEADER},
        "body": {"elements": elements},
    }


def button_card(title: str, text: str, task: str, page: tuple[str, str] | None) -> dict[str, Any]:
    """An app's card for one item (card JSON 2.0, for `im/v1/messages` as `content`): the
    one-tap commands as callback buttons, and `page` — (words, url) — opening the report
    page for the rest."""
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "plain_text", "content": text}}
    ]
    elements.extend(_callback_button(command, Tap(command, task)) for command in COMMANDS)
    if page is not None:
        elements.append(_open_button(*page))
    return {
        "schema": "2.0",
        "header": {"title": {"tag": "plain_text", "content": title}, "template": HEADER},
        "body": {"elements": elements},
    }


def _callback_button(words: str, tap: Tap) -> dict[str, Any]:
    value = {"command": tap.command, "task": tap.task}
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": words},
        "type": "primary",
        "behaviors": [{"type": "callback", "value": value}],
    }


def tap_answer(tap: Tap, reply: str, recorded: bool) -> dict[str, Any]:
    """The answer to a tap: a toast with duban's answer, and, when the tap recorded
    something, the card replaced by one showing it (no buttons left to tap). A tap that
    recorded nothing (not the unit's item, a repeat) leaves the card as it was: in a group
    chat everyone sees the card."""
    toast = {"type": "success" if recorded else "info", "content": reply[:TOAST_CHARS]}
    if not recorded:
        return {"toast": toast}
    card = {
        "schema": "2.0",
        "header": {"title": {"tag": "plain_text", "content": tap.text}, "template": RECORDED},
        "body": {"elements": [{"tag": "div", "text": {"tag": "plain_text", "content": reply}}]},
    }
    return {"toast": toast, "card": {"type": "raw", "data": card}}
