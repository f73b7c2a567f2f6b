"""The DingTalk custom robot channel: signing, mentions, limits, answers (PROTOCOLS.md §3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.platforms import DeliveryError, Outgoing
from bot.platforms.dingtalk import PLATFORM as DINGTALK
from bot.platforms.dingtalk.robot import BODY_LIMIT, DingtalkChannel, sign_dingtalk

TOKEN = "0b1c9a7e5d3f4e2a8c6b0d9e7f5a3c1b2d4e6f8a0c2e4b6d8f0a2c4e6b8d0f2a"
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
SECRET = "SEC1234567890abcdef"
OK = {"errcode": 0, "errmsg": "ok"}
REMINDER = Outgoing(
    7, "市住建局", "remind", "请于本周内报送进展。", ("13800000001",), ("manager01",)
)
Handler = Callable[[httpx.Request], httpx.Response]


def make_channel(handler: Handler, webhook: str = WEBHOOK, **options: Any) -> DingtalkChannel:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return DingtalkChannel("ops", webhook, client, **options)


def answering(
    answer: object, status: int = 200, **options: Any
) -> tuple[DingtalkChannel, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=answer)

    return make_channel(handler, **options), seen


def failure(channel: DingtalkChannel, message: Outgoing = REMINDER) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    return caught.value


@pytest.mark.parametrize(
    ("secret", "ms", "sign"),
    [
        ("this is secret", 1599360473000, "hXZTWifRGHclNuZSKxoXc//sh51SWfVfRIhcdeKs63I="),
        ("SEC1234567890abcdef", 1577262236757, "f7qQ1A8KagEZ45y1gasTtKsEq5ERTeDXP9T+WkIqzDk="),
        ("this is secret", 1577262236757, "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="),
    ],
)
def test_it_signs_as_the_protocol_vectors_say(secret: str, ms: int, sign: str) -> None:
    assert sign_dingtalk(secret, ms) == sign


@pytest.mark.parametrize(
    ("secret", "now", "encoded"),
    [
        ("this is secret", 1599360473.0, "hXZTWifRGHclNuZSKxoXc%2F%2Fsh51SWfVfRIhcdeKs63I%3D"),
        ("this is secret", 1577262236.757, "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"),
        ("SEC1234567890abcdef", 1577262236.757, "f7qQ1A8KagEZ45y1gasTtKsEq5ERTeDXP9T%2BWkIqzDk%3D"),
    ],
)
def test_it_url_encodes_the_sign_exactly_once(secret: str, now: float, encoded: str) -> None:
    channel, seen = answering(OK, secret=secret, now=lambda: now)
    channel.send(REMINDER)
    query = seen[0].url.query.decode()
    ms = int(now * 1000)
    assert query == f"access_token={TOKEN}&timestamp={ms}&sign={encoded}"
    assert "%25" not in query  # a second encoding would turn %2F into %252F


def test_it_computes_the_timestamp_for_each_request() -> None:
    clock = iter([1599360473.0, 1599360533.5])
    channel, seen = answering(OK, secret=SECRET, now=lambda: next(clock))
    channel.send(REMINDER)
    channel.send(REMINDER)
    stamps = [dict(request.url.params)["timestamp"] for request in seen]
    assert stamps == ["1599360473000", "1599360533500"]
    signs = [dict(request.url.params)["sign"] for request in seen]
    assert signs == [sign_dingtalk(SECRET, 1599360473000), sign_dingtalk(SECRET, 1599360533500)]


def test_it_leaves_the_url_alone_without_a_secret() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    assert str(seen[0].url) == WEBHOOK


def test_it_posts_to_a_private_deployment_given_its_url() -> None:
    webhook = "https://oapi.dingtalk.gov.example/robot/send?access_token=abc"
    channel, seen = answering(OK, webhook=webhook, secret=SECRET, now=lambda: 1.0)
    channel.send(REMINDER)
    assert seen[0].url.host == "oapi.dingtalk.gov.example"
    assert seen[0].url.query.decode().startswith("access_token=abc&timestamp=1000&sign=")


def test_it_posts_text_mentioning_by_mobile_and_user_id_in_the_at_object_and_the_text() -> None:
    channel, seen = answering(OK, msgtype="text")
    channel.send(REMINDER)
    assert seen[0].headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(seen[0].content) == {
        "msgtype": "text",
        "text": {"content": "请于本周内报送进展。\n@13800000001 @manager01"},
        "at": {"atMobiles": ["13800000001"], "atUserIds": ["manager01"], "isAtAll": False},
    }


def test_it_does_not_repeat_a_mention_the_text_already_shows() -> None:
    channel, seen = answering(OK, msgtype="text")
    message = Outgoing(1, "市住建局", "remind", "@13800000001 请报送。", ("13800000001",))
    channel.send(message)
    assert json.loads(seen[0].content)["text"] == {"content": "@13800000001 请报送。"}


def test_it_posts_markdown_with_the_title_and_the_mentions_in_the_text() -> None:
    channel, seen = answering(OK)
    channel.send(
        Outgoing(7, "市住建局", "remind", "### 催办\n请报送。", ("13800000001",), title="催办")
    )
    assert json.loads(seen[0].content) == {
        "msgtype": "markdown",
        "markdown": {"title": "催办", "text": "### 催办\n请报送。\n@13800000001"},
        "at": {"atMobiles": ["13800000001"], "atUserIds": [], "isAtAll": False},
    }


def test_it_titles_markdown_with_the_first_line_when_the_message_has_no_title() -> None:
    channel, seen = answering(OK)
    channel.send(Outgoing(7, "市住建局", "remind", "### 【催办通知】停车位\n请报送。"))
    assert json.loads(seen[0].content)["markdown"]["title"] == "【催办通知】停车位"


def test_it_sets_explicit_timeouts_on_each_request() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    assert seen[0].extensions["timeout"]["connect"] == 5.0
    assert seen[0].extensions["timeout"]["read"] == 10.0


def test_it_returns_the_answer_as_the_receipt() -> None:
    channel, _ = answering(OK)
    assert channel.send(REMINDER).detail == OK


def test_it_refuses_a_body_over_twenty_thousand_bytes_without_posting() -> None:
    channel, seen = answering(OK)
    assert DINGTALK.budget(channel.msgtype) < BODY_LIMIT == 20_000
    assert channel.send(
        Outgoing(1, "市住建局", "remind", "督" * (DINGTALK.budget(channel.msgtype) // 3))
    )
    error = failure(channel, Outgoing(2, "市住建局", "remind", "督" * 6700))
    assert error.too_long
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("errcode", "errmsg", "permanent", "too_long", "retry_after"),
    [
        (130101, "send too fast, exceed 20 times per minute", False, False, 600),
        (310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc]", True, False, None),
        (310000, "keywords not in content", True, False, None),
        (310000, "ip 203.0.113.9 not in whitelist", True, False, None),
        (310000, "invalid timestamp", False, False, None),
        (310000, "timestamp expired", False, False, None),
        (300001, "token is not exist", True, False, None),
        (460101, "message too large", False, True, None),
        (-1, "系统繁忙", False, False, None),
    ],
)
def test_it_classifies_each_errcode(
    errcode: int, errmsg: str, permanent: bool, too_long: bool, retry_after: float | None
) -> None:
    channel, _ = answering({"errcode": errcode, "errmsg": errmsg})
    error = failure(channel)
    assert (error.permanent, error.too_long, error.retry_after) == (
        permanent,
        too_long,
        retry_after,
    )
    assert f"errcode {errcode}: {errmsg}" in str(error)
    assert error.answer["errcode"] == errcode


@pytest.mark.parametrize(
    ("status", "permanent", "retry_after"),
    [
        (500, False, None),
        (503, False, None),
        (400, True, None),
        (404, True, None),
        (429, False, 60),
    ],
)
def test_it_classifies_http_errors_by_status(
    status: int, permanent: bool, retry_after: float | None
) -> None:
    error = failure(answering({"errcode": 0}, status=status)[0])
    assert (error.permanent, error.retry_after) == (permanent, retry_after)


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ReadTimeout("The read operation timed out")),
        raising(httpx.ConnectError("[Errno -2] Name or service not known")),
        lambda request: httpx.Response(200, text="<html>bad gateway</html>"),
    ],
)
def test_it_treats_timeouts_connection_errors_and_non_json_answers_as_temporary(
    handler: Handler,
) -> None:
    error = failure(make_channel(handler))
    assert not error.permanent
    assert not error.too_long


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ConnectError(f"cannot reach {WEBHOOK}")),
        lambda request: httpx.Response(200, json={"errcode": -1, "errmsg": str(request.url)}),
        lambda request: httpx.Response(200, json={"errcode": 310000, "errmsg": SECRET}),
    ],
)
def test_neither_the_token_nor_the_secret_appears_in_an_error_message(handler: Handler) -> None:
    error = failure(make_channel(handler, secret=SECRET))
    assert TOKEN not in str(error)
    assert SECRET not in str(error)


def test_it_rejects_an_unknown_msgtype() -> None:
    with pytest.raises(ValueError, match="msgtype"):
        answering(OK, msgtype="actionCard")


def test_it_shortens_a_long_first_line_used_as_the_title() -> None:
    channel, seen = answering(OK)
    channel.send(Outgoing(7, "市住建局", "remind", "督" * 100))
    assert json.loads(seen[0].content)["markdown"]["title"] == "督" * 64
