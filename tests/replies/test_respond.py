"""Answering in the conversation after the callback: DingTalk's session webhook (a local HTTP
server here) and Feishu's open API (an httpx mock transport). Failures return False and are
never raised."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest

from bot.platforms.feishu.api import TenantToken
from bot.replies.inbox import Handled
from bot.replies.respond import DingtalkResponder, FeishuResponder, HttpFeishuApi
from tests.support.web import NOW, FakeFeishuApi, Sink

ANSWER = "已收到第1项进展（60%），谢谢。"
FEISHU = "https://open.feishu.test"
SESSION_WEBHOOK = "https://oapi.dingtalk.com/robot/sendBySession?session=c3f1b2"


def handled(reply_to: str | None, expires: datetime | None = None) -> Handled:
    return Handled(7, "dingtalk", "ding", ANSWER, reply_to, expires, True)


@pytest.fixture
def sink() -> Iterator[Sink]:
    sink = Sink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


# DingTalk


def test_dingtalk_the_answer_is_posted_as_text_to_the_session_webhook(
    sink: Sink, http: httpx.Client
) -> None:
    url = sink.url("/robot/sendBySession?session=c3f1b2")
    responder = DingtalkResponder(http, [sink.origin])
    sent = responder.respond(handled(url, NOW + timedelta(hours=1)), NOW)
    assert sent is True
    [posted] = sink.wait(1)
    assert posted.path == "/robot/sendBySession?session=c3f1b2"
    assert posted.body == {"msgtype": "text", "text": {"content": ANSWER}}


@pytest.mark.parametrize("expires", [NOW, NOW - timedelta(minutes=1)])
def test_dingtalk_an_expired_session_webhook_is_not_called(
    sink: Sink, http: httpx.Client, expires: datetime
) -> None:
    url = sink.url("/robot/sendBySession?session=c3f1b2")
    assert DingtalkResponder(http, [sink.origin]).respond(handled(url, expires), NOW) is False
    assert sink.posted == []


def test_dingtalk_a_session_webhook_without_an_expiry_is_called(
    sink: Sink, http: httpx.Client
) -> None:
    responder = DingtalkResponder(http, [sink.origin])
    assert responder.respond(handled(sink.url("/s"), None), NOW) is True
    assert len(sink.wait(1)) == 1


def test_dingtalk_without_a_session_webhook_nothing_is_sent(http: httpx.Client) -> None:
    assert DingtalkResponder(http).respond(handled(None), NOW) is False


def mock_client(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"errcode": 300001, "errmsg": "session expired"}),
        httpx.Response(500, json={"errcode": 0}),
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
)
def test_dingtalk_a_refused_answer_is_false(response: httpx.Response) -> None:
    with mock_client(lambda _: response) as client:
        assert DingtalkResponder(client).respond(handled(SESSION_WEBHOOK), NOW) is False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/robot",  # nothing listens
        "http://[::1",  # not a URL
        "https://" + "a" * 70_000,  # too long to be one
        "ftp://oapi.dingtalk.com/robot",
        "robot/sendBySession",
    ],
)
def test_dingtalk_a_session_webhook_that_cannot_be_reached_is_false_not_an_error(
    http: httpx.Client, url: str
) -> None:
    responder = DingtalkResponder(http, ["http://127.0.0.1:1"])
    assert responder.respond(handled(url), NOW) is False


def recording_client(requests: list[httpx.Request]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    return mock_client(answer)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks/generic/oa",
        "http://169.254.169.254/latest/meta-data/",
        "https://collector.example.com/robot/sendBySession?session=c3f1b2",
        "http://oapi.dingtalk.com/robot/sendBySession?session=c3f1b2",  # not https
        "https://oapi.dingtalk.com.example.com/robot/sendBySession",
        "https://oapi.dingtalk.com@collector.example.com/robot/sendBySession",
        "https://oapi.dingtalk.com:8443/robot/sendBySession",
        "//oapi.dingtalk.com/robot/sendBySession",
    ],
)
def test_dingtalk_a_session_webhook_off_dingtalks_hosts_gets_no_request_and_a_warning(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    requests: list[httpx.Request] = []
    with recording_client(requests) as client, caplog.at_level(logging.WARNING):
        assert DingtalkResponder(client).respond(handled(url), NOW) is False
    assert requests == []
    [warning] = caplog.records
    assert "not an allowed host" in warning.getMessage()
    assert "session=" not in warning.getMessage()


@pytest.mark.parametrize(
    "url",
    [SESSION_WEBHOOK, "https://api.dingtalk.com/v1.0/robot/sendBySession?session=c3f1b2"],
)
def test_dingtalk_a_session_webhook_on_dingtalks_hosts_is_called(url: str) -> None:
    requests: list[httpx.Request] = []
    with recording_client(requests) as client:
        assert DingtalkResponder(client).respond(handled(url), NOW) is True
    assert [str(request.url) for request in requests] == [url]


def test_dingtalk_a_private_deployments_host_is_allowed_when_configured() -> None:
    requests: list[httpx.Request] = []
    url = "https://oapi.zj.gov.example/robot/sendBySession?session=c3f1b2"
    with recording_client(requests) as client:
        responder = DingtalkResponder(client, ["https://oapi.zj.gov.example"])
        assert responder.respond(handled(url), NOW) is True
        assert responder.respond(handled(SESSION_WEBHOOK), NOW) is False
    assert [str(request.url) for request in requests] == [url]


# Feishu


@dataclass
class FeishuServer:
    """Feishu's open API, recording the requests: tokens `t-1`, `t-2` … valid `expire` s."""

    expire: int = 7200
    token_code: int = 0
    reply_code: int = 0
    requests: list[httpx.Request] = field(default_factory=list)
    tokens: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/open-apis/auth/v3/tenant_access_token/internal":
            self.tokens += 1
            return httpx.Response(
                200,
                json={
                    "code": self.token_code,
                    "msg": "ok",
                    "tenant_access_token": f"t-{self.tokens}",
                    "expire": self.expire,
                },
            )
        return httpx.Response(200, json={"code": self.reply_code, "msg": "success", "data": {}})

    def replies(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/reply")]


@dataclass
class Ticker:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def feishu_api(server: FeishuServer, clock: Ticker | None = None) -> HttpFeishuApi:
    client = mock_client(server)
    return HttpFeishuApi(
        TenantToken(client, "cli_app", "app-secret", FEISHU + "/", clock or Ticker())
    )


def test_feishu_the_answer_is_a_reply_to_the_message_with_a_tenant_token() -> None:
    server = FeishuServer()
    assert feishu_api(server).reply("om_5ce6d572", ANSWER) is True
    token, message = server.requests
    assert token.method == "POST"
    assert str(token.url) == f"{FEISHU}/open-apis/auth/v3/tenant_access_token/internal"
    assert json.loads(token.content) == {"app_id": "cli_app", "app_secret": "app-secret"}
    assert str(message.url) == f"{FEISHU}/open-apis/im/v1/messages/om_5ce6d572/reply"
    assert message.headers["Authorization"] == "Bearer t-1"
    assert message.headers["Content-Type"].startswith("application/json")
    body = json.loads(message.content)
    assert body["msg_type"] == "text"
    assert json.loads(body["content"]) == {"text": ANSWER}


@pytest.mark.parametrize(
    "message_id", ["../../open-apis/contact/v3/users/batch_delete?x=", "om_1/../x", "om_1?x=", ""]
)
def test_feishu_an_id_that_is_not_a_message_id_gets_no_request(message_id: str) -> None:
    server = FeishuServer()
    assert feishu_api(server).reply(message_id, ANSWER) is False
    assert server.requests == []


def test_feishu_the_tenant_token_is_fetched_once_and_reused() -> None:
    server = FeishuServer()
    api = feishu_api(server)
    assert api.reply("om_1", ANSWER)
    assert api.reply("om_2", ANSWER)
    assert server.tokens == 1
    assert [r.headers["Authorization"] for r in server.replies()] == ["Bearer t-1"] * 2


def test_feishu_the_tenant_token_is_renewed_shortly_before_it_expires() -> None:
    server, clock = FeishuServer(expire=7200), Ticker()
    api = feishu_api(server, clock)
    api.reply("om_1", ANSWER)
    clock.now += 7200 - 300 - 1
    api.reply("om_2", ANSWER)
    clock.now += 2
    api.reply("om_3", ANSWER)
    assert [r.headers["Authorization"] for r in server.replies()] == [
        "Bearer t-1",
        "Bearer t-1",
        "Bearer t-2",
    ]


def test_feishu_a_refused_token_means_no_reply_is_attempted() -> None:
    server = FeishuServer(token_code=99991663)
    api = feishu_api(server)
    assert api.reply("om_1", ANSWER) is False
    assert server.replies() == []
    assert api.reply("om_2", ANSWER) is False
    assert server.tokens == 2  # a refusal is not cached


def test_feishu_a_refused_reply_is_false() -> None:
    assert feishu_api(FeishuServer(reply_code=230002)).reply("om_1", ANSWER) is False


def test_feishu_an_unreachable_api_is_false_not_an_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = HttpFeishuApi(TenantToken(mock_client(refuse), "cli_app", "app-secret", FEISHU))
    assert api.reply("om_1", ANSWER) is False


def test_feishu_the_responder_replies_to_the_message_the_answer_is_for() -> None:
    api = FakeFeishuApi()
    answer = Handled(7, "feishu", "lark", ANSWER, "om_5ce6d572", None, True)
    assert FeishuResponder(api).respond(answer, NOW) is True
    assert api.replies == [("om_5ce6d572", ANSWER)]


def test_feishu_without_a_message_id_nothing_is_sent() -> None:
    api = FakeFeishuApi()
    answer = Handled(7, "feishu", "lark", ANSWER, None, None, True)
    assert FeishuResponder(api).respond(answer, NOW) is False
    assert api.replies == []
