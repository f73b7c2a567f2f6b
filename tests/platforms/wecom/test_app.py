"""A WeCom app as a channel: an access token, then `message/send` to the people a message
mentions, a reminder with report links as a card whose 收到 / 完成 buttons call back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.platforms import DeliveryError, Outgoing
from bot.platforms.wecom.app import WecomAppChannel
from bot.platforms.wecom.cards import APP_ITEMS
from tests.support.cards import reminder

BASE = "https://qyapi.weixin.qq.com"
TOKEN = {"errcode": 0, "errmsg": "ok", "access_token": "tok-1", "expires_in": 7200}
SENT = {"errcode": 0, "errmsg": "ok", "msgid": "m1"}
SECRET = "app-secret-9"


class Api:
    """WeCom's API: a token for gettoken, then the answers given for the sends, in turn."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers, self.requests = list(answers), list[httpx.Request]()
        client = httpx.Client(transport=httpx.MockTransport(self._handle))
        self.channel = WecomAppChannel(
            "qywx", BASE, client, corp_id="ww1", agent_id=1000002, secret=SECRET
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/cgi-bin/gettoken":
            return httpx.Response(200, json=TOKEN)
        return httpx.Response(200, json=self.answers.pop(0) if self.answers else SENT)

    def sends(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/send")]


def test_a_reminder_with_links_goes_to_the_people_it_mentions_as_a_button_card() -> None:
    api = Api()
    api.channel.send(reminder(2, user_ids=("zhangsan", "lisi")))
    token_request, send_request = api.requests
    assert token_request.url.params["corpid"] == "ww1"
    assert send_request.url.params["access_token"] == "tok-1"
    [send] = api.sends()
    assert (send["touser"], send["agentid"], send["msgtype"]) == (
        "zhangsan|lisi",
        1000002,
        "template_card",
    )
    card = send["template_card"]
    assert (card["card_type"], card["task_id"]) == ("button_interaction", "duban-7")
    assert [b["key"] for b in card["button_list"]] == [
        "duban:收到:12",
        "duban:完成:12",
        "duban:收到:13",
        "duban:完成:13",
    ]


def test_more_items_than_its_buttons_hold_go_as_text() -> None:
    api = Api()
    api.channel.send(reminder(APP_ITEMS + 1, user_ids=("zhangsan",)))
    assert api.sends()[0]["msgtype"] == "text"


def test_a_message_that_mentions_nobody_fails_alone_without_stopping_the_channel() -> None:
    api = Api()
    with pytest.raises(DeliveryError) as caught:
        api.channel.send(Outgoing(1, "市政府办公室", "digest", "本周汇总。"))
    assert not caught.value.permanent  # permanent would disable the channel for everyone
    assert "mentions nobody" in str(caught.value)
    assert api.requests == []


def test_an_expired_token_is_asked_for_again_and_a_refusal_hides_the_secret() -> None:
    api = Api(
        {"errcode": 42001, "errmsg": "access_token expired"},
        SENT,
        {"errcode": 60020, "errmsg": f"not allow to access from your ip {SECRET} tok-1"},
    )
    with pytest.raises(DeliveryError) as expired:
        api.channel.send(reminder(1, user_ids=("zhangsan",)))
    assert not expired.value.permanent
    api.channel.send(reminder(1, user_ids=("zhangsan",)))
    assert [r.url.path for r in api.requests].count("/cgi-bin/gettoken") == 2
    with pytest.raises(DeliveryError) as refused:
        api.channel.send(reminder(1, user_ids=("zhangsan",)))
    assert refused.value.permanent
    assert SECRET not in str(refused.value)
    assert "tok-1" not in str(refused.value)
