"""A WeCom self-built app as a channel (`platform = "wecom_app"`): messages sent by the app
(`cgi-bin/message/send`, an access token from `cgi-bin/gettoken`) to the people a message
mentions, so that a reminder can carry 收到 and 完成 buttons that call back (a group robot's
card cannot).

A reminder whose items (at most three) link to report pages goes as a button_interaction
template card (bot/platforms/wecom/cards.py `button_card`); anything else as text. The app
reaches people, not groups: a message that mentions nobody cannot be sent this way (it is
dead-lettered, with a reason). `webhook` is the API's base (https://qyapi.weixin.qq.com),
`corp_id` the corp, `agent_id` the app's AgentId and `secret` its Secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import Outgoing, Receipt
from bot.platforms.http import AppCodes, CachedToken, Scrubber, compact_json, json_answer, post_json
from bot.platforms.wecom.cards import APP_ITEMS, button_card

TEXT_BUDGET = 2048  # message/send's text content, in bytes
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RATE_LIMIT_WAIT = 60.0
TOKEN_INVALID = {40014, 42001}  # invalid, expired access token
RATE_LIMITED = {45009, 45033}
# The channel cannot work until the operator acts (it is disabled, the office alerted).
REFUSED = {60020: "IP not allowed", 301002: "no permission"}
CODES = AppCodes(TOKEN_INVALID, RATE_LIMITED, REFUSED, RATE_LIMIT_WAIT)


class WecomAppChannel:
    def __init__(
        self,
        name: str,
        base: str,
        client: httpx.Client,
        *,
        corp_id: str,
        agent_id: int,
        secret: str,
        timeout: httpx.Timeout = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self._agent = name, agent_id
        self._base, self._client, self._timeout = base.rstrip("/"), client, timeout
        self._corp, self._secret = corp_id, secret
        self._token = CachedToken(self._fetch_token, clock)

    def send(self, message: Outgoing) -> Receipt:
        if not message.user_ids:
            # This message's fault, not the channel's: not `permanent`, which would disable
            # the channel; retried, then dead-lettered like any failing message.
            raise DeliveryError(
                f"wecom app {self.name}: the message mentions nobody the app can reach"
            )
        token = self._token.get()
        url = f"{self._base}/cgi-bin/message/send?{urlencode({'access_token': token})}"
        label = f"wecom app {self.name}"
        scrub = Scrubber(url, self._secret, token)
        body = compact_json(self._body(message), label=label)
        response = post_json(
            self._client, url, body, timeout=self._timeout, label=label, scrub=scrub
        )
        answer = json_answer(response, label, wait=RATE_LIMIT_WAIT)
        errcode = answer.get("errcode")
        if errcode == 0:
            return Receipt(answer)
        problem = f"{label}: errcode {errcode}: {scrub(answer.get('errmsg'))}"
        raise CODES.refusal(problem, errcode, answer, self._token)

    def _body(self, message: Outgoing) -> dict[str, Any]:
        head = {"touser": "|".join(message.user_ids), "agentid": self._agent}
        card = message.card
        if card is not None and 0 < len(card.links) <= APP_ITEMS:
            # A retried send reuses the task id, which WeCom takes once: no second card.
            template = button_card(message, card, f"duban-{message.message_id}")
            return {**head, "msgtype": "template_card", "template_card": template}
        return {**head, "msgtype": "text", "text": {"content": message.text}}

    def _fetch_token(self) -> tuple[str, object]:
        query = urlencode({"corpid": self._corp, "corpsecret": self._secret})
        url = f"{self._base}/cgi-bin/gettoken?{query}"
        label = f"wecom app {self.name}: token"
        try:
            response = self._client.get(url, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{label}: {type(exc).__name__}") from None
        answer = json_answer(response, label, wait=RATE_LIMIT_WAIT)
        token = answer.get("access_token")
        if answer.get("errcode") != 0 or not isinstance(token, str):
            # A wrong corp id or secret needs the operator.
            raise DeliveryError(f"{label}: errcode {answer.get('errcode')}", permanent=True)
        return token, answer.get("expires_in")
