"""The generic signed webhook: body, signature headers, the receiver's check, answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.platforms import DeliveryError, Outgoing
from bot.platforms.generic import PLATFORM as GENERIC
from bot.platforms.generic.robot import WebhookChannel, sign_webhook, verify_webhook

URL = "https://oa.example.gov.cn/hooks/duban?token=tk_5b7e2c"
SECRET = "whsec_9f3a1c7e5b"
NOW = 1700000000.0
REMINDER = Outgoing(
    7, "市住建局", "remind", "请于本周内报送进展。", ("13800000001",), ("zhangsan",), "催办"
)
Handler = Callable[[httpx.Request], httpx.Response]


def make_channel(handler: Handler, **options: Any) -> WebhookChannel:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WebhookChannel("oa", URL, client, secret=SECRET, now=lambda: NOW, **options)


def answering(
    status: int, headers: dict[str, str] | None = None
) -> tuple[WebhookChannel, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers=headers)

    return make_channel(handler), seen


def failure(channel: WebhookChannel) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(REMINDER)
    return caught.value


def test_it_signs_as_an_independent_computation_says() -> None:
    # printf '%s' '1700000000.{"id":1}' | openssl dgst -sha256 -hmac whsec_test
    expected = "sha256=2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8"
    assert sign_webhook("whsec_test", 1700000000, b'{"id":1}') == expected
    assert sign_webhook("whsec_test", "1700000000", b'{"id":1}') == expected


def test_it_posts_the_message_as_compact_utf8_json() -> None:
    channel, seen = answering(204)
    channel.send(REMINDER)
    [request] = seen
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert b", " not in request.content
    assert "市住建局".encode() in request.content
    assert json.loads(request.content) == {
        "id": 7,
        "recipient": "市住建局",
        "kind": "remind",
        "title": "催办",
        "text": "请于本周内报送进展。",
        "mobiles": ["13800000001"],
        "user_ids": ["zhangsan"],
    }


def test_it_signs_the_exact_body_it_sends() -> None:
    channel, seen = answering(200)
    channel.send(REMINDER)
    request = seen[0]
    assert request.headers["X-Duban-Timestamp"] == "1700000000"
    signature = request.headers["X-Duban-Signature"]
    assert signature == sign_webhook(SECRET, 1700000000, request.content)
    assert verify_webhook(SECRET, "1700000000", signature, request.content, NOW)


def test_it_computes_the_timestamp_for_each_request() -> None:
    clock = iter([NOW, NOW + 90])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    channel = WebhookChannel("oa", URL, client, secret=SECRET, now=lambda: next(clock))
    channel.send(REMINDER)
    channel.send(REMINDER)
    assert [r.headers["X-Duban-Timestamp"] for r in seen] == ["1700000000", "1700000090"]


def test_it_sets_explicit_timeouts_on_each_request() -> None:
    channel, seen = answering(200)
    channel.send(REMINDER)
    assert seen[0].extensions["timeout"]["connect"] == 5.0
    assert seen[0].extensions["timeout"]["read"] == 10.0


BODY = b'{"id":7,"text":"\xe8\xaf\xb7\xe6\x8a\xa5\xe9\x80\x81"}'
SIGNED = sign_webhook(SECRET, 1700000000, BODY)


def test_verify_accepts_what_was_signed_within_five_minutes() -> None:
    assert verify_webhook(SECRET, "1700000000", SIGNED, BODY, NOW + 300)
    assert verify_webhook(SECRET, 1700000000, SIGNED, BODY, NOW - 300)


def test_verify_rejects_a_tampered_body() -> None:
    assert not verify_webhook(SECRET, "1700000000", SIGNED, BODY.replace(b"7", b"8"), NOW)


def test_verify_rejects_the_wrong_secret() -> None:
    assert not verify_webhook("whsec_other", "1700000000", SIGNED, BODY, NOW)


def test_verify_rejects_a_stale_or_future_timestamp() -> None:
    assert not verify_webhook(SECRET, "1700000000", SIGNED, BODY, NOW + 301)
    assert not verify_webhook(SECRET, "1700000000", SIGNED, BODY, NOW - 301)
    assert verify_webhook(SECRET, "1700000000", SIGNED, BODY, NOW + 3000, tolerance=3600)


def test_verify_rejects_a_timestamp_other_than_the_signed_one() -> None:
    assert not verify_webhook(SECRET, "1700000001", SIGNED, BODY, NOW)


@pytest.mark.parametrize("timestamp", ["", "soon", "1700000000.0"])
def test_verify_rejects_a_timestamp_that_is_not_whole_seconds(timestamp: str) -> None:
    assert not verify_webhook(SECRET, timestamp, SIGNED, BODY, NOW)


@pytest.mark.parametrize("signature", ["", SIGNED[7:], SIGNED.upper(), "sha256=签名"])
def test_verify_rejects_a_malformed_signature(signature: str) -> None:
    assert not verify_webhook(SECRET, "1700000000", signature, BODY, NOW)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_answer_means_delivered(status: int) -> None:
    channel, _ = answering(status)
    assert channel.send(REMINDER).detail == {"status": status}
    assert GENERIC.budget("text") == 64_000


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "120"}, 120),
        ({}, 60),
        ({"Retry-After": "99999999"}, 3600),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 60),
        ({"Retry-After": "-5"}, 60),
    ],
)
def test_it_waits_as_a_429_answer_says(headers: dict[str, str], retry_after: float) -> None:
    error = failure(answering(429, headers)[0])
    assert error.retry_after == retry_after
    assert not error.permanent


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (404, True),
        (410, True),
        (500, False),
        (502, False),
        (503, False),
        (302, False),
    ],
)
def test_it_classifies_other_answers_by_status(status: int, permanent: bool) -> None:
    error = failure(answering(status)[0])
    assert error.permanent is permanent
    assert error.retry_after is None
    assert str(error) == f"webhook oa: HTTP {status}"


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("The read operation timed out"), httpx.ConnectError("Connection refused")],
)
def test_it_treats_timeouts_and_connection_errors_as_temporary(exc: Exception) -> None:
    error = failure(make_channel(raising(exc)))
    assert not error.permanent
    assert type(exc).__name__ in str(error)


def test_neither_the_url_token_nor_the_secret_appears_in_an_error_message() -> None:
    error = failure(make_channel(raising(httpx.ConnectError(f"{URL} with {SECRET}"))))
    assert "tk_5b7e2c" not in str(error)
    assert SECRET not in str(error)
