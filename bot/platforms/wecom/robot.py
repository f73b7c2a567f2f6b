"""WeCom (企业微信) group robot: one JSON POST per message; the answer's errcode decides.

PROTOCOLS.md §1. Limits are UTF-8 bytes of the content: 2048 for text, 4096 for markdown.
Text mentions go in `mentioned_list` / `mentioned_mobile_list`; markdown mentions are
`<@userid>` in the content, and markdown cannot mention by mobile, so mobiles are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import LinkCard, Outgoing, Receipt
from bot.platforms.http import Scrubber, compact_json, json_answer, post_json
from bot.platforms.wecom.cards import ROWS, link_card

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RATE_LIMIT_WAIT = 60.0
INVALID_KEY = 93000
TOO_LONG = 40058
RATE_LIMITED = {45009: "frequency limit", 45033: "concurrency limit"}


class WecomChannel:
    """Posts to one WeCom group robot; `webhook` is the full `…/webhook/send?key=KEY` URL."""

    def __init__(
        self,
        name: str,
        webhook: str,
        client: httpx.Client,
        *,
        msgtype: str = "markdown",
        now: Callable[[], float] = time.time,
        timeout: httpx.Timeout = TIMEOUT,
        cards: bool = False,
    ) -> None:
        if msgtype not in ("text", "markdown"):
            raise ValueError(f"wecom msgtype must be 'text' or 'markdown', not {msgtype!r}")
        self.name, self.msgtype = name, msgtype
        self._timeout = timeout  # per request; `[channels.NAME] timeout`
        self._webhook, self._client = webhook, client
        self._now = now  # unused: WeCom does not sign; taken so all robots are built alike
        self._scrub = Scrubber(webhook)
        self._cards = cards  # `[channels.NAME] cards`: reminders with links as a card

    @property
    def max_bytes(self) -> int:
        """The content limit for this channel's msgtype, in UTF-8 bytes (mentions count)."""
        return TEXT_LIMIT if self.msgtype == "text" else MARKDOWN_LIMIT

    def send(self, message: Outgoing) -> Receipt:
        card = self._card(message)
        if card is not None:
            return self._post(link_card(message, card))
        body = self._body(message)
        size = len(body[self.msgtype]["content"].encode())
        if size > self.max_bytes:
            raise DeliveryError(
                f"wecom {self.name}: content is {size} bytes, over {self.max_bytes}", too_long=True
            )
        return self._post(body)

    def _card(self, message: Outgoing) -> LinkCard | None:
        """The message's links, to send as a template card when cards are on and it fits:
        its rows hold the links, and it cannot mention (a message that mentions someone goes
        as text, its links in the text)."""
        card = message.card
        if not self._cards or card is None or not 0 < len(card.links) <= ROWS:
            return None
        return None if message.user_ids or message.mobiles else card

    def _post(self, body: dict[str, Any]) -> Receipt:
        payload = compact_json(body)
        response = post_json(
            self._client,
            self._webhook,
            payload,
            timeout=self._timeout,
            label=f"wecom {self.name}",
            scrub=self._scrub,
        )
        return self._receipt(response)

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
        answer = json_answer(response, f"wecom {self.name}", wait=RATE_LIMIT_WAIT)
        errcode = answer.get("errcode")
        if errcode == 0:
            return Receipt(answer)
        problem = f"wecom {self.name}: errcode {errcode}: {self._scrub(answer.get('errmsg'))}"
        if errcode == INVALID_KEY:
            raise DeliveryError(problem, permanent=True, answer=answer)
        if errcode == TOO_LONG:
            raise DeliveryError(problem, too_long=True, answer=answer)
        if errcode in RATE_LIMITED:
            raise DeliveryError(problem, retry_after=RATE_LIMIT_WAIT, answer=answer)
        raise DeliveryError(problem, answer=answer)
