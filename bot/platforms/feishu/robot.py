"""Feishu / Lark (飞书) custom bot: one JSON POST per message; the answer's code decides.

PROTOCOLS.md §5. With a secret, `timestamp` (seconds, a string) and `sign` go in the body.
Custom bots mention by user id only (`<at user_id="ou_x">…</at>`), never by mobile. The
body is limited to 20 KB, and Feishu has answered rate limits with HTTP 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import Outgoing, Receipt
from bot.platforms.feishu.cards import link_card
from bot.platforms.http import Robot, compact_json, json_answer

BODY_LIMIT = 20_000
TEXT_BUDGET = 18_000  # leaves room for the JSON around the text and the mention tags
RATE_LIMIT_WAIT = 60.0
BAD_REQUEST = 9499  # also "too many request": read the msg
RATE_LIMITED = 11232
REJECTED = {19021: "sign or timestamp rejected", 19022: "IP not allowed", 19024: "keyword missing"}


def sign_feishu(secret: str, seconds: int) -> str:
    """base64(HMAC-SHA256(key=f"{seconds}\\n{secret}", msg=b"")): unlike DingTalk's."""
    digest = hmac.new(f"{seconds}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuChannel(Robot):
    """Posts to one Feishu bot; `webhook` is the full `…/open-apis/bot/v2/hook/TOKEN` URL."""

    platform = "feishu"

    def _hidden(self) -> Iterable[str]:
        return (urlsplit(self._webhook).path.rstrip("/").rpartition("/")[2],)  # the token

    def send(self, message: Outgoing) -> Receipt:
        body = self._card(message) or compact_json(
            self._body(message), limit=BODY_LIMIT, label=self.label
        )
        return self._receipt(self._post(body))

    def _card(self, message: Outgoing) -> bytes | None:
        """The link card's body when cards are on, or None when off or over the 20 KB (the
        message goes as text, its links in the text)."""
        if not self._cards or message.card is None or not message.card.links:
            return None
        body = compact_json(self._signed(link_card(message, message.card)))
        return body if len(body) <= BODY_LIMIT else None

    def _body(self, message: Outgoing) -> dict[str, Any]:
        tags = " ".join(_at_tag(user_id) for user_id in message.user_ids)
        text = f"{message.text}\n{tags}" if tags else message.text
        return self._signed({"msg_type": "text", "content": {"text": text}})

    def _signed(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._secret is not None:
            seconds = int(self._now())
            body = {"timestamp": str(seconds), "sign": sign_feishu(self._secret, seconds), **body}
        return body

    def _receipt(self, response: httpx.Response) -> Receipt:
        answer = json_answer(response, self.label, wait=RATE_LIMIT_WAIT, coded_400=True)
        code = answer.get("code", answer.get("StatusCode"))  # StatusCode: the legacy answer
        if code == 0:
            return Receipt(answer)
        msg = self._scrub(answer.get("msg", answer.get("StatusMessage", "")))
        problem = f"{self.label}: code {code}: {msg}"
        if code == RATE_LIMITED or (code == BAD_REQUEST and "too many request" in msg.lower()):
            raise DeliveryError(problem, retry_after=RATE_LIMIT_WAIT, answer=answer)
        if code == BAD_REQUEST or code in REJECTED:
            raise DeliveryError(problem, permanent=True, answer=answer)
        # An HTTP 400 without a code we know is still a request Feishu will never accept.
        raise DeliveryError(problem, permanent=response.status_code == 400, answer=answer)


def _at_tag(user_id: str) -> str:
    return f'<at user_id="{user_id}">{"所有人" if user_id == "all" else user_id}</at>'
