"""WeCom (企业微信) group robot: one JSON POST per message; the answer's errcode decides.

PROTOCOLS.md §1. Limits are UTF-8 bytes of the content: 2048 for text, 4096 for markdown.
Text mentions go in `mentioned_list` / `mentioned_mobile_list`; markdown mentions are
`<@userid>` in the content, and markdown cannot mention by mobile, so mobiles are dropped.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import LinkCard, Outgoing, Receipt
from bot.platforms.http import Robot, compact_json, json_answer
from bot.platforms.wecom.cards import ROWS, link_card

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
RATE_LIMIT_WAIT = 60.0
INVALID_KEY = 93000
TOO_LONG = 40058
RATE_LIMITED = {45009: "frequency limit", 45033: "concurrency limit"}


class WecomChannel(Robot):
    """Posts to one WeCom group robot; `webhook` is the full `…/webhook/send?key=KEY` URL.
    WeCom does not sign: its robots take no secret."""

    platform = "wecom"
    msgtypes = ("markdown", "text")

    @property
    def max_bytes(self) -> int:
        """The content limit for this channel's msgtype, in UTF-8 bytes (mentions count)."""
        return TEXT_LIMIT if self.msgtype == "text" else MARKDOWN_LIMIT

    def send(self, message: Outgoing) -> Receipt:
        card = self._card(message)
        if card is not None:
            return self._receipt(self._post(compact_json(link_card(message, card))))
        body = self._body(message)
        size = len(body[self.msgtype]["content"].encode())
        if size > self.max_bytes:
            raise DeliveryError(
                f"{self.label}: content is {size} bytes, over {self.max_bytes}", too_long=True
            )
        return self._receipt(self._post(compact_json(body)))

    def _card(self, message: Outgoing) -> LinkCard | None:
        """The message's links, to send as a template card when cards are on and it fits:
        its rows hold the links, and it cannot mention (a message that mentions someone goes
        as text, its links in the text)."""
        card = message.card
        if not self._cards or card is None or not 0 < len(card.links) <= ROWS:
            return None
        return None if message.user_ids or message.mobiles else card

    def _body(self, message: Outgoing) -> dict[str, Any]:
        if self.msgtype == "text":
            text = {
                "content": message.text,
                "mentioned_list": list(message.user_ids),
                "mentioned_mobile_list": list(message.mobiles),
            }
            return {"msgtype": "text", "text": text}
        tags = " ".join(f"<@{user_id}>" for user_id in message.user_ids)
        content = f"{message.text}\n{tags}" if tags else message.text
        return {"msgtype": "markdown", "markdown": {"content": content}}

    def _receipt(self, response: httpx.Response) -> Receipt:
        answer = json_answer(response, self.label, wait=RATE_LIMIT_WAIT)
        errcode = answer.get("errcode")
        if errcode == 0:
            return Receipt(answer)
        problem = f"{self.label}: errcode {errcode}: {self._scrub(answer.get('errmsg'))}"
        if errcode == INVALID_KEY:
            raise DeliveryError(problem, permanent=True, answer=answer)
        if errcode == TOO_LONG:
            raise DeliveryError(problem, too_long=True, answer=answer)
        if errcode in RATE_LIMITED:
            raise DeliveryError(problem, retry_after=RATE_LIMIT_WAIT, answer=answer)
        raise DeliveryError(problem, answer=answer)
