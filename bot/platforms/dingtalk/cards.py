"""DingTalk (钉钉) cards: a custom robot's link card (`actionCard`), and the taps on an app's
interactive card (互动卡片) through its HTTP card callback.

The robot's actionCard (PROTOCOLS.md §3; 自定义机器人 消息类型) is markdown text with
buttons that open URLs: one `btns` entry per button (`title`, `actionURL`), or a single
button (`singleTitle`, `singleURL`). Its text is the message's markdown, escaped as any
markdown message's; an actionCard cannot mention anyone (it has no `at`).

An interactive card is built from a template in DingTalk's card builder; its 收到 and 完成
buttons send 「回传请求」 with params `{"command": "收到", "task": "12"}`. The tap arrives
at the card callback (`/hooks/dingtalk/NAME/card`) as `{"type": "actionCallback",
"outTrackId", "corpId", "userId", "content": "{\"cardPrivateData\": {\"actionIds\": …,
\"params\": …}}"}`, signed like the robot's callback (the `timestamp` and `sign` headers,
HMAC-SHA256 with the app secret). The app channel (bot/platforms/dingtalk/app.py) fills the
template's variables with `app_card_data`. The answer updates the card's variables: `status` (the
words shown) and `recorded` ("true" once recorded: the template hides its buttons) for
everyone when the tap was recorded, in the tapper's private data otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from bot.app.errors import Rejected
from bot.platforms.base import LinkCard, Outgoing
from bot.platforms.buttons import Tap, tap_of
from bot.platforms.inbound import InboundMessage, json_object, object_field, required_text

PLATFORM = "dingtalk"
ACTION_CALLBACK = "actionCallback"

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


def app_card_data(message: Outgoing, card: LinkCard) -> dict[str, str]:
    """The interactive card's variables (`cardParamMap`: strings only): `title`, `text` (the
    message's markdown), `items` (a JSON list of `{"task", "text", "url"}` for the
    template's loop, whose 收到 / 完成 buttons send `{"command", "task": item.task}`),
    `task` and `link` (the first item's, for a template with one pair of buttons), and the
    callback's `status` and `recorded` as they start."""
    items = [
        {"task": link.number.lstrip("#"), "text": link.text, "url": link.url} for link in card.links
    ]
    return {
        "title": (message.headline or message.kind)[:TITLE_CHARS],
        "text": message.text,
        "items": json.dumps(items, ensure_ascii=False),
        "task": items[0]["task"],
        "link": items[0]["url"],
        "status": "",
        "recorded": "false",
    }


def parse_tap(body: bytes, *, corp_id: str | None) -> tuple[InboundMessage, Tap]:
    """The tap a verified card callback stands for (「收到 #12」 from `userId`). Its id names
    the card, the tapper and the command: each person's tap on a card counts once."""
    event = json_object(body)
    if event.get("type") != ACTION_CALLBACK:
        raise Rejected(400, "not a card action callback")
    if corp_id is not None and event.get("corpId") != corp_id:
        raise Rejected(403, "corpId is not this organization's")
    sender = required_text(event, "userId")
    card = required_text(event, "outTrackId")
    content = json_object(required_text(event, "content"))
    params = object_field(object_field(content, "cardPrivateData"), "params")
    tap = tap_of(params.get("command"), params.get("task"))
    message = InboundMessage(
        platform=PLATFORM,
        event_id=f"card:{card}:{sender}:{tap.command}:{tap.task}",
        sender=sender,
        text=tap.text,
        sent_at=None,
        conversation=None,
        reply_to=None,
        reply_expires=None,
        raw=event,
    )
    return message, tap


def tap_answer(reply: str, recorded: bool) -> dict[str, Any]:
    """The callback's answer: the card's variables for everyone once recorded, else the
    tapper's own (a refusal is not shown to the whole group)."""
    if recorded:
        return {"cardData": {"cardParamMap": {"status": reply, "recorded": "true"}}}
    return {"userPrivateData": {"cardParamMap": {"status": reply}}}
