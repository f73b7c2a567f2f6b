"""A Feishu app as a channel (`platform = "feishu_app"`): messages posted to one chat through
the open API (`im/v1/messages?receive_id_type=chat_id`, a tenant access token), so that a
reminder can carry 收到 and 完成 buttons that call back (a custom bot's cannot).

A message whose items link to report pages goes as the app's card (bot/platforms/feishu/
cards.py `app_card`); anything else as text, mentions as `<at user_id>` tags. `webhook` is
the API's base (https://open.feishu.cn, or a private deployment's), `secret` the app secret.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import Outgoing, Receipt
from bot.platforms.feishu.api import TenantToken
from bot.platforms.feishu.cards import app_card
from bot.platforms.http import AppCodes, Scrubber, compact_json, json_answer, post_json

SEND_PATH = "/open-apis/im/v1/messages?receive_id_type=chat_id"
BODY_LIMIT = 30_000  # a card's content; text may be longer, but splitting keeps to this
TEXT_BUDGET = 18_000
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RATE_LIMIT_WAIT = 60.0
TOKEN_INVALID = {99991661, 99991663, 99991668}  # missing, invalid or expired token
RATE_LIMITED = 99991400
# The channel cannot work until the operator acts (it is disabled, the office alerted): the
# app is not in the chat, has no bot ability, lacks the scope, or the IP is not allowed.
# Other refusals are one message's (its content): retried, then dead-lettered alone.
REFUSED = {230002, 230006, 99991672, 99991401}
CODES = AppCodes(TOKEN_INVALID, (RATE_LIMITED,), REFUSED, RATE_LIMIT_WAIT)


class FeishuAppChannel:
    def __init__(
        self,
        name: str,
        base: str,
        client: httpx.Client,
        *,
        app_id: str,
        app_secret: str,
        chat_id: str,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.name, self._chat = name, chat_id
        self._base, self._client, self._timeout = base.rstrip("/"), client, timeout
        self._token = TenantToken(client, app_id, app_secret, base)
        self._scrub = Scrubber(base, app_secret)

    def send(self, message: Outgoing) -> Receipt:
        token = self._token.get()
        if token is None:
            raise DeliveryError(f"feishu app {self.name}: no tenant access token")
        response = post_json(
            self._client,
            f"{self._base}{SEND_PATH}",
            compact_json(self._body(message), limit=BODY_LIMIT, label=f"feishu app {self.name}"),
            timeout=self._timeout,
            label=f"feishu app {self.name}",
            scrub=self._scrub,
            headers=[("Authorization", f"Bearer {token}")],
        )
        return self._receipt(response)

    def _body(self, message: Outgoing) -> dict[str, Any]:
        if message.card is not None and message.card.links:
            content: dict[str, Any] = app_card(message, message.card)
            kind = "interactive"
        else:
            tags = " ".join(f'<at user_id="{user_id}"></at>' for user_id in message.user_ids)
            content = {"text": f"{message.text}\n{tags}" if tags else message.text}
            kind = "text"
        text = json.dumps(content, ensure_ascii=False)
        return {"receive_id": self._chat, "msg_type": kind, "content": text}

    def _receipt(self, response: httpx.Response) -> Receipt:
        label = f"feishu app {self.name}"
        answer = json_answer(response, label, wait=RATE_LIMIT_WAIT, coded_400=True)
        code = answer.get("code")
        if code == 0:
            return Receipt(answer)
        problem = f"{label}: code {code}: {self._scrub(answer.get('msg', ''))}"
        raise CODES.refusal(problem, code, answer, self._token)
