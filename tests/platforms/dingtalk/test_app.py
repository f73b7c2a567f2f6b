"""A DingTalk app robot as a channel: an access token, then an interactive card to one group
whose 收到 / 完成 buttons call back, or the robot's markdown message for anything else."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.app.runtime import make_channel
from bot.app.sections import ChannelSettings
from bot.platforms import DeliveryError, Outgoing
from bot.platforms.dingtalk.app import DingtalkAppChannel
from bot.platforms.dingtalk.cards import parse_tap
from tests.support.cards import PAGE, reminder

BASE = "https://api.dingtalk.com"
GROUP = "cidAbC123=="
TOKEN = {"accessToken": "tok-abc", "expireIn": 7200}
SENT = {"processQueryKey": "pqk-1"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """DingTalk's open API: a token, then the answers given for the sends, in turn."""

    def __init__(self, *answers: tuple[int, dict[str, Any]], route: str | None = None) -> None:
        self.answers, self.requests = list(answers), list[httpx.Request]()
        self.token: tuple[int, dict[str, Any]] = (200, TOKEN)
        self.clock = Clock()
        client = httpx.Client(transport=httpx.MockTransport(self.handle))
        self.channel = DingtalkAppChannel(
            "office",
            BASE,
            client,
            app_key="dingkey",
            app_secret="app-secret",
            robot_code="dingrobot",
            conversation=GROUP,
            template="tmpl.schema",
            route_key=route,
            clock=self.clock,
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1.0/oauth2/accessToken":
            return httpx.Response(self.token[0], json=self.token[1])
        status, answer = self.answers.pop(0) if self.answers else (200, SENT)
        return httpx.Response(status, json=answer)

    def tokens(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if "oauth2" in r.url.path]

    def sends(self) -> list[httpx.Request]:
        return [r for r in self.requests if "oauth2" not in r.url.path]


def test_a_reminder_with_links_goes_to_the_group_as_the_templates_interactive_card() -> None:
    api = Api(route="duban-cards")
    api.channel.send(reminder(2))
    [send] = api.sends()
    assert str(send.url) == f"{BASE}/v1.0/im/interactiveCards/send"
    assert send.headers["x-acs-dingtalk-access-token"] == "tok-abc"
    items = [
        {"task": "12", "text": "推进重点项目第1批开工", "url": f"{PAGE}tok0"},
        {"task": "13", "text": "推进重点项目第2批开工", "url": f"{PAGE}tok1"},
    ]
    body = json.loads(send.content)
    params = body["cardData"]["cardParamMap"]
    assert json.loads(params.pop("items")) == items
    assert body == {
        "robotCode": "dingrobot",
        "openConversationId": GROUP,
        "cardTemplateId": "tmpl.schema",
        "conversationType": 1,
        "outTrackId": "duban-7",
        "cardData": {"cardParamMap": params},
        "callbackRouteKey": "duban-cards",
    }
    assert params == {
        "title": "【督办提醒】",
        "text": "**【督办提醒】**\n市住建局：请于12月31日前报送进展。\n",
        "task": "12",
        "link": f"{PAGE}tok0",
        "status": "",
        "recorded": "false",
    }
    assert all(isinstance(value, str) for value in params.values())


def test_a_resend_names_the_same_card_and_no_route_key_is_sent_when_none_is_set() -> None:
    api = Api()
    api.channel.send(reminder(1))
    api.channel.send(reminder(1))
    first, second = (json.loads(r.content) for r in api.sends())
    assert first["outTrackId"] == second["outTrackId"] == "duban-7"
    assert "callbackRouteKey" not in first


def test_a_message_without_links_goes_as_the_robots_markdown_message() -> None:
    api = Api()
    api.channel.send(Outgoing(3, "市住建局", "digest", "### 本周进展\n已办结 3 项。"))
    [send] = api.sends()
    assert str(send.url) == f"{BASE}/v1.0/robot/groupMessages/send"
    body = json.loads(send.content)
    assert body.pop("msgParam") == json.dumps(
        {"title": "本周进展", "text": "### 本周进展\n已办结 3 项。"}, ensure_ascii=False
    )
    assert body == {
        "robotCode": "dingrobot",
        "openConversationId": GROUP,
        "msgKey": "sampleMarkdown",
    }


def test_the_token_is_asked_for_with_the_app_key_and_kept_until_shortly_before_it_expires() -> None:
    api = Api()
    api.channel.send(reminder(1))
    api.clock.now += 7200 - 301
    api.channel.send(reminder(1))
    assert api.tokens() == [{"appKey": "dingkey", "appSecret": "app-secret"}]
    api.clock.now += 2
    api.channel.send(reminder(1))
    assert len(api.tokens()) == 2


def test_a_send_refused_for_the_token_forgets_it_and_the_retry_asks_again() -> None:
    refused = {"code": "InvalidAuthentication", "message": "不合法的access_token tok-abc"}
    api = Api((401, refused))
    with pytest.raises(DeliveryError) as error:
        api.channel.send(reminder(1))
    assert not error.value.permanent
    assert "tok-abc" not in str(error.value)
    api.channel.send(reminder(1))
    assert len(api.tokens()) == 2


def test_the_channels_own_refusal_disables_it_and_a_messages_refusal_does_not() -> None:
    api = Api(
        (400, {"code": "chatbotNotInstall", "message": "机器人未安装"}),
        (400, {"code": "contentSecurityChckFailed", "message": "卡片内容不符合安全规范"}),
    )
    with pytest.raises(DeliveryError) as own:
        api.channel.send(reminder(1))
    assert own.value.permanent
    assert "chatbotNotInstall" in str(own.value)
    with pytest.raises(DeliveryError) as message:
        api.channel.send(reminder(1))
    assert not message.value.permanent


def test_a_rate_limit_asks_to_wait() -> None:
    api = Api((403, {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "qps"}))
    with pytest.raises(DeliveryError) as error:
        api.channel.send(reminder(1))
    assert error.value.retry_after == 60.0
    api = Api((429, {}))
    with pytest.raises(DeliveryError) as error:
        api.channel.send(reminder(1))
    assert error.value.retry_after == 60.0


def test_a_wrong_app_key_or_secret_stops_the_channel_without_naming_the_secret() -> None:
    api = Api()
    api.token = (400, {"code": "invalidClientIdOrSecret", "message": "app-secret 无效"})
    with pytest.raises(DeliveryError) as error:
        api.channel.send(reminder(1))
    assert error.value.permanent
    assert "app-secret" not in str(error.value)
    assert not api.sends()


def test_a_transport_failure_is_retried_later() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(fail))
    channel = DingtalkAppChannel(
        "office",
        BASE,
        client,
        app_key="k",
        app_secret="s3cret",
        robot_code="r",
        conversation=GROUP,
        template="t",
    )
    with pytest.raises(DeliveryError) as error:
        channel.send(reminder(1))
    assert not error.value.permanent
    assert "s3cret" not in str(error.value)


def test_a_dingtalk_app_section_builds_the_channel_with_its_settings() -> None:
    settings = ChannelSettings(
        platform="dingtalk_app",
        webhook=BASE,
        app_id="dingkey",
        secret="app-secret",
        chat_id=GROUP,
        robot_code="dingrobot",
        card_template_id="tmpl.schema",
        callback_route_key="duban",
    )
    api = Api()
    client = httpx.Client(transport=httpx.MockTransport(api.handle))
    make_channel("office", settings, client).send(reminder(1))
    assert api.tokens() == [{"appKey": "dingkey", "appSecret": "app-secret"}]
    body = json.loads(api.sends()[0].content)
    assert (body["robotCode"], body["openConversationId"]) == ("dingrobot", GROUP)
    assert (body["cardTemplateId"], body["callbackRouteKey"]) == ("tmpl.schema", "duban")


def test_a_tap_on_the_sent_cards_button_reads_back_as_the_units_reply() -> None:
    api = Api()
    api.channel.send(reminder(2))
    body = json.loads(api.sends()[0].content)
    second = json.loads(body["cardData"]["cardParamMap"]["items"])[1]
    params = {"command": "完成", "task": second["task"]}  # the template's 完成 in its loop
    content = json.dumps({"cardPrivateData": {"actionIds": ["done"], "params": params}})
    tap = {
        "type": "actionCallback",
        "outTrackId": body["outTrackId"],
        "corpId": "ding-corp",
        "userId": "zhangsan",
        "content": content,
    }
    message, _ = parse_tap(json.dumps(tap).encode(), corp_id="ding-corp")
    assert (message.text, message.sender) == ("完成 #13", "zhangsan")
    assert message.event_id == "card:duban-7:zhangsan:完成:13"
