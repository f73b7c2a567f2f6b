"""The WeCom group robot channel, against recorded answers of the webhook (PROTOCOLS.md §1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.platforms import DeliveryError, Outgoing
from bot.platforms.wecom.robot import MARKDOWN_LIMIT, TEXT_LIMIT, WecomChannel

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
WEBHOOK = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
OK = {"errcode": 0, "errmsg": "ok"}
REMINDER = Outgoing(
    7, "市住建局", "remind", "请于本周内报送进展。", ("13800000001",), ("zhangsan", "lisi")
)
Handler = Callable[[httpx.Request], httpx.Response]


def make_channel(handler: Handler, webhook: str = WEBHOOK, **options: Any) -> WecomChannel:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WecomChannel("ops", webhook, client, **options)


def answering(
    answer: object, status: int = 200, **options: Any
) -> tuple[WecomChannel, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=answer)

    return make_channel(handler, **options), seen


def failure(channel: WecomChannel, message: Outgoing = REMINDER) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    return caught.value


def test_it_posts_text_with_mentions_by_user_id_and_by_mobile() -> None:
    channel, seen = answering(OK, msgtype="text")
    channel.send(REMINDER)
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == WEBHOOK
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == {
        "msgtype": "text",
        "text": {
            "content": "请于本周内报送进展。",
            "mentioned_list": ["zhangsan", "lisi"],
            "mentioned_mobile_list": ["13800000001"],
        },
    }


def test_it_appends_user_id_mentions_to_markdown_and_drops_mobiles() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    assert json.loads(seen[0].content) == {
        "msgtype": "markdown",
        "markdown": {"content": "请于本周内报送进展。\n<@zhangsan> <@lisi>"},
    }


def test_it_sends_markdown_without_mentions_as_it_is() -> None:
    channel, seen = answering(OK)
    channel.send(Outgoing(8, "赵华", "escalate", "**逾期** 3 个工作日", ("13800000002",)))
    assert json.loads(seen[0].content)["markdown"] == {"content": "**逾期** 3 个工作日"}


def test_it_sends_chinese_as_utf8_rather_than_escapes() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    assert "请于本周内报送进展。".encode() in seen[0].content


def test_it_sets_explicit_timeouts_on_each_request() -> None:
    channel, seen = answering(OK)
    channel.send(REMINDER)
    assert seen[0].extensions["timeout"] == {
        "connect": 5.0,
        "read": 10.0,
        "write": 10.0,
        "pool": 10.0,
    }


def test_it_posts_to_another_base_when_given_another_url() -> None:
    webhook = "http://127.0.0.1:8080/cgi-bin/webhook/send?key=local"
    channel, seen = answering(OK, webhook=webhook)
    channel.send(REMINDER)
    assert str(seen[0].url) == webhook


def test_it_returns_the_answer_as_the_receipt() -> None:
    channel, _ = answering(OK)
    assert channel.send(REMINDER).detail == OK
    assert channel.name == "ops"


def test_its_byte_budget_follows_the_msgtype() -> None:
    assert (TEXT_LIMIT, MARKDOWN_LIMIT) == (2048, 4096)
    assert answering(OK, msgtype="text")[0].max_bytes == 2048
    assert answering(OK)[0].max_bytes == 4096


def test_it_sends_content_of_exactly_the_limit() -> None:
    channel, seen = answering(OK, msgtype="text")
    channel.send(Outgoing(1, "市住建局", "remind", "督" * 682 + "ok"))  # 2048 bytes
    assert len(seen) == 1


def test_it_refuses_content_over_the_limit_without_posting() -> None:
    channel, seen = answering(OK, msgtype="text")
    error = failure(channel, Outgoing(1, "市住建局", "remind", "督" * 683))  # 2049 bytes
    assert error.too_long
    assert not error.permanent
    assert seen == []


def test_it_counts_markdown_mentions_against_the_limit() -> None:
    channel, seen = answering(OK)
    error = failure(channel, Outgoing(1, "市住建局", "remind", "a" * 4090, user_ids=("zhangsan",)))
    assert error.too_long
    assert seen == []


def test_it_rejects_an_unknown_msgtype() -> None:
    with pytest.raises(ValueError, match="msgtype"):
        answering(OK, msgtype="news")


@pytest.mark.parametrize(
    ("errcode", "errmsg", "permanent", "too_long", "retry_after"),
    [
        (93000, "invalid webhook url, hint: [1700000000_abc]", True, False, None),
        (40058, "content exceed max length 2048", False, True, None),
        (45009, "api freq out of limit", False, False, 60),
        (45033, "api concurrent out of limit", False, False, 60),
        (-1, "system busy", False, False, None),
        (44004, "empty content", False, False, None),
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
    assert error.answer == {"errcode": errcode, "errmsg": errmsg}


@pytest.mark.parametrize(
    ("status", "permanent", "retry_after"),
    [
        (500, False, None),
        (502, False, None),
        (503, False, None),
        (400, True, None),
        (403, True, None),
        (404, True, None),
        (429, False, 60),
    ],
)
def test_it_classifies_http_errors_by_status(
    status: int, permanent: bool, retry_after: float | None
) -> None:
    channel, _ = answering({"errcode": 0}, status=status)
    error = failure(channel)
    assert (error.permanent, error.retry_after, error.too_long) == (permanent, retry_after, False)
    assert f"HTTP {status}" in str(error)


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("The read operation timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_it_treats_timeouts_and_connection_errors_as_temporary(exc: Exception) -> None:
    error = failure(make_channel(raising(exc)))
    assert not error.permanent
    assert error.retry_after is None
    assert type(exc).__name__ in str(error)


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b"[0]"])
def test_it_treats_an_answer_that_is_not_a_json_object_as_temporary(body: bytes) -> None:
    error = failure(make_channel(lambda request: httpx.Response(200, content=body)))
    assert not error.permanent
    assert "not JSON" in str(error)


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ConnectError(f"cannot reach {WEBHOOK}")),
        raising(httpx.ReadTimeout(f"timed out: key={KEY}")),
        lambda request: httpx.Response(200, json={"errcode": 93000, "errmsg": f"bad key {KEY}"}),
        lambda request: httpx.Response(200, json={"errcode": -1, "errmsg": str(request.url)}),
        lambda request: httpx.Response(404, text=str(request.url)),
    ],
)
def test_the_key_never_appears_in_an_error_message(handler: Handler) -> None:
    error = failure(make_channel(handler))
    assert KEY not in str(error)
    assert "***" in str(error) or "HTTP 404" in str(error)
