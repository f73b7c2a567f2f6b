"""The Feishu custom bot channel: signing in the body, mentions, answers (PROTOCOLS.md §5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.platforms import DeliveryError, Outgoing
from bot.platforms.feishu import PLATFORM as FEISHU
from bot.platforms.feishu.robot import BODY_LIMIT, FeishuChannel, sign_feishu

TOKEN = "2d6c2f0e-8b1a-4c3d-9e5f-7a6b5c4d3e2f"
WEBHOOK = f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}"
SECRET = "qZ8kR2mW5xT9vN4b"
OK = {"code": 0, "data": {}, "msg": "success"}
OPEN_ID = "ou_7d8a6e6df7621556ce0d21922b676706ccs"
REMINDER = Outgoing(7, "市住建局", "remind", "请于本周内报送进展。", ("13800000001",), (OPEN_ID,))
Handler = Callable[[httpx.Request], httpx.Response]


def make_channel(handler: Handler, webhook: str = WEBHOOK, **options: Any) -> FeishuChannel:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return FeishuChannel("ops", webhook, client, **options)


def answering(
    answer: object, status: int = 200, **options: Any
) -> tuple[FeishuChannel, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=answer)

    return make_channel(handler, **options), seen


def failure(channel: FeishuChannel, message: Outgoing = REMINDER) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    return caught.value


def test_it_signs_as_the_protocol_vector_says() -> None:
    assert sign_feishu("demo", 1599360473) == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="


def test_it_puts_the_timestamp_in_seconds_and_the_sign_in_the_body() -> None:
    channel, seen = answering(OK, secret="demo", now=lambda: 1599360473.9)
    channel.send(Outgoing(1, "市住建局", "remind", "请报送。"))
    assert str(seen[0].url) == WEBHOOK
    assert json.loads(seen[0].content) == {
        "timestamp": "1599360473",
        "sign": "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=",
        "msg_type": "text",
        "content": {"text": "请报送。"},
    }


def test_it_computes_the_timestamp_for_each_request() -> None:
    clock = iter([1599360473.0, 1599364073.0])
    channel, seen = answering(OK, secret=SECRET, now=lambda: next(clock))
    channel.send(REMINDER)
    channel.send(REMINDER)
    bodies = [json.loads(request.content) for request in seen]
    assert [body["timestamp"] for body in bodies] == ["1599360473", "1599364073"]
    assert bodies[1]["sign"] == sign_feishu(SECRET, 1599364073)


def test_it_sends_neither_timestamp_nor_sign_without_a_secret() -> None:
    channel, seen = answering(OK)
    channel.send(Outgoing(1, "市住建局", "remind", "请报送。"))
    assert json.loads(seen[0].content) == {"msg_type": "text", "content": {"text": "请报送。"}}
    assert seen[0].headers["content-type"] == "application/json; charset=utf-8"


def test_it_mentions_user_ids_with_at_tags_and_ignores_mobiles() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    text = json.loads(seen[0].content)["content"]["text"]
    assert text == f'请于本周内报送进展。\n<at user_id="{OPEN_ID}">{OPEN_ID}</at>'
    assert "13800000001" not in text


def test_it_names_everyone_when_mentioning_all() -> None:
    channel, seen = answering(OK)
    channel.send(Outgoing(1, "全体", "digest", "本周汇总", user_ids=("all",)))
    text = json.loads(seen[0].content)["content"]["text"]
    assert text == '本周汇总\n<at user_id="all">所有人</at>'


def test_it_sets_explicit_timeouts_on_each_request() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    assert seen[0].extensions["timeout"]["connect"] == 5.0
    assert seen[0].extensions["timeout"]["read"] == 10.0


def test_it_accepts_the_new_and_the_legacy_success_answer() -> None:
    legacy = {"Extra": None, "StatusCode": 0, "StatusMessage": "success"}
    assert answering(OK)[0].send(REMINDER).detail == OK
    assert answering(legacy)[0].send(REMINDER).detail == legacy


def test_it_refuses_a_body_over_twenty_kilobytes_without_posting() -> None:
    channel, seen = answering(OK)
    assert FEISHU.budget("text") < BODY_LIMIT == 20_000
    channel.send(Outgoing(1, "市住建局", "remind", "督" * (FEISHU.budget("text") // 3)))
    error = failure(channel, Outgoing(2, "市住建局", "remind", "督" * 6700))
    assert error.too_long
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("status", "code", "msg", "permanent", "retry_after"),
    [
        (400, 9499, "too many request", False, 60),
        (200, 9499, "Too Many Request", False, 60),
        (400, 9499, "Bad Request", True, None),
        (200, 11232, "frequency limited psm[lark.oapi.app_platform_runtime]", False, 60),
        (400, 11232, "frequency limited", False, 60),
        (200, 19021, "sign match fail or timestamp is not within one hour", True, None),
        (200, 19022, "Ip Not Allowed", True, None),
        (200, 19024, "Key Words Not Found", True, None),
        (200, 10001, "internal error", False, None),
    ],
)
def test_it_classifies_each_code(
    status: int, code: int, msg: str, permanent: bool, retry_after: float | None
) -> None:
    channel, _ = answering({"code": code, "data": {}, "msg": msg}, status=status)
    error = failure(channel)
    assert (error.permanent, error.retry_after, error.too_long) == (permanent, retry_after, False)
    assert f"code {code}: {msg}" in str(error)
    assert error.answer["code"] == code


@pytest.mark.parametrize(
    ("status", "body", "permanent", "retry_after"),
    [
        (400, b"<html>400 Bad Request</html>", True, None),
        (403, b'{"code": 19022, "msg": "Ip Not Allowed"}', True, None),
        (404, b"404 page not found", True, None),
        (429, b"", False, 60),
        (500, b'{"code": 0}', False, None),
        (503, b"Service Unavailable", False, None),
    ],
)
def test_it_classifies_http_errors_by_status(
    status: int, body: bytes, permanent: bool, retry_after: float | None
) -> None:
    error = failure(make_channel(lambda request: httpx.Response(status, content=body)))
    assert (error.permanent, error.retry_after) == (permanent, retry_after)
    assert f"HTTP {status}" in str(error)


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ReadTimeout("The read operation timed out")),
        raising(httpx.ConnectError("[Errno 111] Connection refused")),
        lambda request: httpx.Response(200, text="<html>bad gateway</html>"),
        lambda request: httpx.Response(200, json=["not", "an", "object"]),
    ],
)
def test_it_treats_timeouts_connection_errors_and_non_json_answers_as_temporary(
    handler: Handler,
) -> None:
    error = failure(make_channel(handler))
    assert not error.permanent
    assert error.retry_after is None


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ConnectError(f"cannot reach {WEBHOOK}")),
        raising(httpx.ReadTimeout(f"timed out on hook {TOKEN}")),
        lambda request: httpx.Response(200, json={"code": 19021, "msg": str(request.url)}),
        lambda request: httpx.Response(200, json={"code": 19021, "msg": f"bad secret {SECRET}"}),
    ],
)
def test_neither_the_token_nor_the_secret_appears_in_an_error_message(handler: Handler) -> None:
    error = failure(make_channel(handler, secret=SECRET))
    assert TOKEN not in str(error)
    assert SECRET not in str(error)
