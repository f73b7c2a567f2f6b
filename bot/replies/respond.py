"""Answers in the conversation a reply came from, after the callback was acknowledged.

WeCom answers inside the callback's response (a passive encrypted reply) and the generic
hook in its JSON response, so only DingTalk and Feishu need a second request: DingTalk to
the message's `sessionWebhook` (unsigned, valid until `sessionWebhookExpiredTime`), Feishu
through its open API (`im/v1/messages/{message_id}/reply` with a tenant access token).
Failures are logged without URLs or tokens and never raised: the reply was applied; only
its answer is lost, and the unit can send 「待办」 to see where things stand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import httpx

from bot.platforms.dingtalk.callback import SESSION_WEBHOOK_ORIGINS
from bot.platforms.feishu.api import TenantToken
from bot.platforms.feishu.callback import is_message_id
from bot.platforms.http import JSON_HEADERS, url_origin
from bot.replies.inbox import Handled

log = logging.getLogger("duban.replies")
TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class Responder(Protocol):
    def respond(self, handled: Handled, now: datetime) -> bool:
        """Sends the answer; True when the platform accepted it."""
        ...


class FeishuApi(Protocol):
    """The one Feishu open-API call duban makes (a test double stands in for it)."""

    def reply(self, message_id: str, text: str) -> bool: ...


class DingtalkResponder:
    """Posts to a message's session webhook, and only on `origins` (DingTalk's own hosts
    unless configured): the URL comes in the callback's body, which DingTalk does not sign."""

    def __init__(
        self, client: httpx.Client, origins: Collection[str] = SESSION_WEBHOOK_ORIGINS
    ) -> None:
        self.client, self.origins = client, frozenset(origins)

    def respond(self, handled: Handled, now: datetime) -> bool:
        url = handled.reply_to
        if not url or (handled.reply_expires is not None and handled.reply_expires <= now):
            log.warning(
                "dingtalk reply to event %s not sent: session webhook expired", handled.event
            )
            return False
        origin = url_origin(url)
        if origin not in self.origins:
            log.warning(
                "dingtalk reply to event %s not sent: session webhook on %s, not an allowed host",
                handled.event,
                origin or "no http(s) host",
            )
            return False
        body = {"msgtype": "text", "text": {"content": handled.reply}}
        return _post(self.client, url, body, "dingtalk", handled.event, _errcode_ok)


class FeishuResponder:
    def __init__(self, api: FeishuApi) -> None:
        self.api = api

    def respond(self, handled: Handled, now: datetime) -> bool:
        if not handled.reply_to:
            return False
        return self.api.reply(handled.reply_to, handled.reply)


class HttpFeishuApi:
    """Feishu's open API: a tenant access token (cached until shortly before it expires),
    then a reply to the message."""

    def __init__(self, token: TenantToken) -> None:
        self.client, self.base, self._token = token.client, token.base, token

    def reply(self, message_id: str, text: str) -> bool:
        if not is_message_id(message_id):  # the parser refuses these; never in a URL
            log.warning("feishu reply not sent: %r is not a message id", message_id[:80])
            return False
        token = self._token.get()
        if token is None:
            return False
        url = f"{self.base}/open-apis/im/v1/messages/{quote(message_id, safe='')}/reply"
        body = {"msg_type": "text", "content": json.dumps({"text": text}, ensure_ascii=False)}
        headers = {"Authorization": f"Bearer {token}"}
        return _post(self.client, url, body, "feishu", message_id, _code_ok, headers)


def _post(
    client: httpx.Client,
    url: str,
    body: Mapping[str, object],
    platform: str,
    event: object,
    ok: Callable[[object], bool],
    headers: dict[str, str] | None = None,
) -> bool:
    try:
        response = client.post(
            url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={**JSON_HEADERS, **(headers or {})},
            timeout=TIMEOUT,
        )
        answer: object = response.json()
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        log.warning("%s reply to %s failed: %s", platform, event, type(exc).__name__)
        return False
    if response.is_success and ok(answer):
        return True
    log.warning(
        "%s reply to %s refused: HTTP %s, %s",
        platform,
        event,
        response.status_code,
        _field(answer, "errcode") or _field(answer, "code"),
    )
    return False


def _field(answer: object, key: str) -> object:
    return answer.get(key) if isinstance(answer, dict) else None


def _errcode_ok(answer: object) -> bool:
    return _field(answer, "errcode") in (0, None) and isinstance(answer, dict)


def _code_ok(answer: object) -> bool:
    return _field(answer, "code") == 0
