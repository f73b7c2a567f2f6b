"""A Feishu app as a channel: a tenant token, then `im/v1/messages` to one chat, reminders
with report links as a card whose 收到 / 完成 buttons call back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.platforms import DeliveryError, Outgoing
from bot.platforms.feishu.app import FeishuAppChannel
from bot.platforms.feishu.cards import APP_ITEMS
from tests.support.cards import PAGE, reminder

BASE = "https://open.feishu.cn"
CHAT = "oc_5ce6d572455d361153b7cb51da133945"
TOKEN_ANSWER = {"code": 0, "msg": "ok", "tenant_access_token": "t-abc", "expire": 7200}
SENT = {"code": 0, "msg": "success", "data": {"message_id": "om_1"}}


class Api:
    """Feishu's open API: a token, then the answers given for the sends, in turn."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers, self.requests = list(answers), list[httpx.Request]()
        client = httpx.Client(transport=httpx.MockTransport(self._handle))
        self.channel = FeishuAppChannel(
            "lark", BASE, client, app_id="cli_1", app_secret="app-secret", chat_id=CHAT
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/tenant_access_token/internal"):
            return httpx.Response(200, json=TOKEN_ANSWER)
        status, answer = self.answers.pop(0) if self.answers else (200, SENT)
        return httpx.Response(status, json=answer)

    def sends(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if "/im/v1/messages" in str(r.url)]


def test_a_reminder_with_links_goes_to_the_chat_as_a_card_with_one_tap_buttons() -> None:
    api = Api()
    api.channel.send(reminder(1))
    [send] = api.sends()
    assert (send["receive_id"], send["msg_type"]) == (CHAT, "interactive")
    sent = api.requests[-1]
    assert str(sent.url) == f"{BASE}/open-apis/im/v1/messages?receive_id_type=chat_id"
    assert sent.headers["Authorization"] == "Bearer t-abc"
    card = json.loads(send["content"])
    [row] = [e for e in card["body"]["elements"] if e["tag"] == "column_set"]
    buttons = [column["elements"][0] for column in row["columns"]]
    assert [b["text"]["content"] for b in buttons] == ["#12 收到", "#12 完成", "填报"]
    assert [b["behaviors"] for b in buttons] == [
        [{"type": "callback", "value": {"command": "收到", "task": "12"}}],
        [{"type": "callback", "value": {"command": "完成", "task": "12"}}],
        [{"type": "open_url", "default_url": f"{PAGE}tok0"}],
    ]


def test_more_items_than_the_card_holds_get_the_link_buttons_only() -> None:
    api = Api()
    api.channel.send(reminder(APP_ITEMS + 1))
    card = json.loads(api.sends()[0]["content"])
    assert not [e for e in card["body"]["elements"] if e["tag"] == "column_set"]


def test_a_message_without_links_goes_as_text_with_its_mentions() -> None:
    api = Api()
    api.channel.send(Outgoing(1, "市住建局", "digest", "本周进展汇总。", (), ("ou_a",)))
    [send] = api.sends()
    assert send["msg_type"] == "text"
    assert json.loads(send["content"]) == {"text": '本周进展汇总。\n<at user_id="ou_a"></at>'}


def test_the_token_is_asked_for_once_and_asked_again_once_feishu_says_it_is_invalid() -> None:
    api = Api((200, SENT), (400, {"code": 99991663, "msg": "invalid access token"}))
    api.channel.send(reminder(1))
    with pytest.raises(DeliveryError) as caught:
        api.channel.send(reminder(1))
    assert not caught.value.permanent  # retried later, with a new token
    api.channel.send(reminder(1))
    tokens = [r for r in api.requests if r.url.path.endswith("/tenant_access_token/internal")]
    assert len(tokens) == 2


def test_a_chat_the_app_is_not_in_stops_the_message_without_showing_the_secret() -> None:
    api = Api((400, {"code": 230002, "msg": "Bot/User can NOT be out of the chat. app-secret"}))
    with pytest.raises(DeliveryError) as caught:
        api.channel.send(reminder(1))
    assert caught.value.permanent
    assert "app-secret" not in str(caught.value)


def test_a_card_feishu_refuses_fails_alone_without_stopping_the_channel() -> None:
    api = Api((400, {"code": 230099, "msg": "Failed to create card content"}))
    with pytest.raises(DeliveryError) as caught:
        api.channel.send(reminder(1))
    assert not caught.value.permanent
