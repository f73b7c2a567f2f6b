"""A DingTalk app robot as a channel (`platform = "dingtalk_app"`): messages the app's robot
posts to one group through the open API (an access token from `v1.0/oauth2/accessToken`),
so that a reminder can carry 收到 and 完成 buttons that call back (a custom robot's
actionCard cannot).

A message whose items link to report pages goes as an interactive card (互动卡片) built from
the configured template (`im/interactiveCards/send`; its variables: bot/platforms/dingtalk/
cards.py `app_card_data`); the card's `outTrackId` is `duban-MESSAGE_ID`, so a resend after
a lost answer updates the same card instead of posting a second one. Anything else goes as
the robot's markdown message (`robot/groupMessages/send`, `sampleMarkdown`), which cannot
mention anyone. `webhook` is the API's base (https://api.dingtalk.com), `app_id` the app's
AppKey and `secret` its AppSecret, `chat_id` the group's openConversationId.

DingTalk's new API answers a refusal with an HTTP 4xx and `{"code", "message"}`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import Outgoing, Receipt
from bot.platforms.dingtalk.cards import app_card_data
from bot.platforms.http import AppCodes, CachedToken, Scrubber, compact_json, json_answer, post_json

TOKEN_PATH = "/v1.0/oauth2/accessToken"
CARD_PATH = "/v1.0/im/interactiveCards/send"
TEXT_PATH = "/v1.0/robot/groupMessages/send"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
GROUP = 1  # conversationType: a group chat
TEXT_BUDGET = 18_000  # a markdown message's text, as the custom robot's
BODY_LIMIT = 30_000
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RATE_LIMIT_WAIT = 60.0
TOKEN_INVALID = {"InvalidAuthentication", "invalidAuthentication"}
RATE_LIMITED = {
    "Forbidden.AccessDenied.QpsLimitForApi",
    "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
}
# The channel cannot work until the operator acts (it is disabled, the office alerted): the
# app lacks the permission, the robot is not in the group or does not exist, the group or
# the card template is wrong. Other refusals are one message's: retried, then dead-lettered.
REFUSED = {
    "Forbidden.AccessDenied.AccessTokenPermissionDenied",
    "Forbidden.AccessDenied.IpNotInWhiteList",
    "chatbotNotFound",
    "chatbotNotInstall",
    "sceneGroupNotFound",
    "cidDecryptError",
    "decryptOpenconversationIdFailed",
    "cardTemplateInvalid",
    "invalidParameter.cardTemplate.notFound",
}
CODES = AppCodes(TOKEN_INVALID, RATE_LIMITED, REFUSED, RATE_LIMIT_WAIT)


class DingtalkAppChannel:
    def __init__(
        self,
        name: str,
        base: str,
        client: httpx.Client,
        *,
        app_key: str,
        app_secret: str,
        robot_code: str,
        conversation: str,
        template: str,
        route_key: str | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.label = name, f"dingtalk app {name}"
        self._base, self._client, self._timeout = base.rstrip("/"), client, timeout
        self._robot, self._conversation = robot_code, conversation
        self._template, self._route = template, route_key
        self._key, self._secret = app_key, app_secret
        self._token = CachedToken(self._fetch_token, clock)

    def send(self, message: Outgoing) -> Receipt:
        token = self._token.get()
        path, body = self._request(message)
        scrub = Scrubber(self._base, self._secret, token)
        response = post_json(
            self._client,
            f"{self._base}{path}",
            compact_json(body, limit=BODY_LIMIT, label=self.label),
            timeout=self._timeout,
            label=self.label,
            scrub=scrub,
            headers=[(TOKEN_HEADER, token)],
        )
        return self._receipt(response, scrub)

    def _request(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        head = {"robotCode": self._robot, "openConversationId": self._conversation}
        if message.card is not None and message.card.links:
            body: dict[str, Any] = {
                **head,
                "cardTemplateId": self._template,
                "conversationType": GROUP,
                # One card per message: a retried send names the same card.
                "outTrackId": f"duban-{message.message_id}",
                "cardData": {"cardParamMap": app_card_data(message, message.card)},
            }
            if self._route:
                body["callbackRouteKey"] = self._route
            return CARD_PATH, body
        title = message.headline or message.kind
        param = json.dumps({"title": title, "text": message.text}, ensure_ascii=False)
        return TEXT_PATH, {**head, "msgKey": "sampleMarkdown", "msgParam": param}

    def _fetch_token(self) -> tuple[str, object]:
        """A wrong AppKey or AppSecret is the channel's own refusal (`permanent`); a
        transport failure or a 5xx may pass on a retry."""
        url, label = f"{self._base}{TOKEN_PATH}", f"{self.label}: token"
        scrub = Scrubber(url, self._secret)
        body = compact_json({"appKey": self._key, "appSecret": self._secret})
        response = post_json(
            self._client, url, body, timeout=self._timeout, label=label, scrub=scrub
        )
        answer = json_answer(response, label, wait=RATE_LIMIT_WAIT, coded_400=True)
        token = answer.get("accessToken")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            code = scrub(answer.get("code", ""))
            raise DeliveryError(f"{label}: HTTP {response.status_code} {code}", permanent=True)
        return token, answer.get("expireIn")

    def _receipt(self, response: httpx.Response, scrub: Scrubber) -> Receipt:
        status = response.status_code
        try:
            found: object = response.json()
        except ValueError:
            found = None
        code = found.get("code") if isinstance(found, dict) else None
        if status < 400 or status == 429 or not isinstance(code, str):
            return Receipt(json_answer(response, self.label, wait=RATE_LIMIT_WAIT))
        answer: dict[str, Any] = found if isinstance(found, dict) else {}
        problem = f"{self.label}: HTTP {status} {code}: {scrub(answer.get('message', ''))}"
        raise CODES.refusal(problem, code, answer, self._token)
