"""Generic webhook replies: signed as the outbound webhook signs, and what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app.errors import Rejected
from bot.platforms.generic.callback import parse_callback
from bot.platforms.generic.robot import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_webhook,
    verify_webhook,
)
from tests.support.strategies import json_bytes, json_objects, only_rejected

SECRET = "whsec_9f3a1c7e5b"
NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
TIMESTAMP = "1700000000"
REPLY = {"sender": "zhangsan", "text": " 进展 #12 60% 已完成立项\n", "message_id": "oa-7301"}
BODY = json.dumps(REPLY, ensure_ascii=False).encode()


def signed(body: bytes, timestamp: str = TIMESTAMP, secret: str = SECRET) -> dict[str, str]:
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign_webhook(secret, timestamp, body)}


def rejected(body: bytes, headers: dict[str, str], now: datetime = NOW) -> int:
    with pytest.raises(Rejected) as caught:
        parse_callback(body, headers, SECRET, now)
    return caught.value.status


def test_generic_a_signed_reply_is_parsed() -> None:
    message = parse_callback(BODY, signed(BODY), SECRET, NOW)
    assert message.platform == "generic"
    assert (message.event_id, message.sender, message.text) == (
        "oa-7301",
        "zhangsan",
        "进展 #12 60% 已完成立项",
    )
    assert message.sent_at == NOW
    assert (message.conversation, message.reply_to, message.reply_expires) == (None, None, None)
    assert message.raw == REPLY


def test_generic_signs_as_an_independent_computation_says() -> None:
    # printf '%s' '1700000000.{"id":1}' | openssl dgst -sha256 -hmac whsec_test
    expected = "sha256=2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8"
    headers = {TIMESTAMP_HEADER: TIMESTAMP, SIGNATURE_HEADER: expected}
    with pytest.raises(Rejected) as caught:
        parse_callback(b'{"id":1}', headers, "whsec_test", NOW)
    assert caught.value.status == 400  # signed and fresh, but not a reply


def test_generic_what_the_outbound_check_accepts_is_accepted_inbound() -> None:
    headers = signed(BODY)
    assert verify_webhook(SECRET, TIMESTAMP, headers[SIGNATURE_HEADER], BODY, NOW.timestamp())
    parse_callback(BODY, headers, SECRET, NOW)


def test_generic_headers_are_matched_whatever_their_case() -> None:
    headers = {name.lower(): value for name, value in signed(BODY).items()}
    assert parse_callback(BODY, headers, SECRET, NOW).event_id == "oa-7301"


def test_generic_the_window_is_five_minutes_by_default() -> None:
    parse_callback(BODY, signed(BODY), SECRET, NOW + timedelta(minutes=5))
    parse_callback(BODY, signed(BODY), SECRET, NOW - timedelta(minutes=5))
    parse_callback(BODY, signed(BODY), SECRET, NOW + timedelta(hours=1), timedelta(hours=1))


@pytest.mark.parametrize("offset", [timedelta(minutes=5, seconds=1), -timedelta(minutes=6)])
def test_generic_stale_and_future_timestamps_are_rejected(offset: timedelta) -> None:
    assert rejected(BODY, signed(BODY), NOW + offset) == 403


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_generic_missing_headers_are_rejected(missing: str) -> None:
    headers = {k: v for k, v in signed(BODY).items() if k != missing}
    assert rejected(BODY, headers) == 401


@pytest.mark.parametrize("timestamp", ["soon", "1700000000.5", "+1700000000", " 1700000000"])
def test_generic_a_timestamp_that_is_not_a_number_is_rejected(timestamp: str) -> None:
    assert rejected(BODY, signed(BODY, timestamp)) == 401


def test_generic_a_wrong_signature_is_rejected() -> None:
    assert rejected(BODY, signed(BODY, secret="another")) == 401
    assert rejected(BODY + b" ", signed(BODY)) == 401
    bare = signed(BODY)[SIGNATURE_HEADER].removeprefix("sha256=")
    assert rejected(BODY, {TIMESTAMP_HEADER: TIMESTAMP, SIGNATURE_HEADER: bare}) == 401


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b"\xff",
        json.dumps({**REPLY, "message_id": None}).encode(),
        json.dumps({**REPLY, "message_id": 7301}).encode(),
        json.dumps({**REPLY, "sender": ""}).encode(),
        json.dumps({**REPLY, "text": None}).encode(),
        json.dumps({"sender": "zhangsan", "message_id": "m"}).encode(),
    ],
)
def test_generic_malformed_signed_bodies_are_rejected(body: bytes) -> None:
    assert rejected(body, signed(body)) == 400


@given(json_bytes(json_objects(["sender", "text", "message_id"])))
def test_generic_parse_callback_on_arbitrary_signed_bytes_only_rejects(body: bytes) -> None:
    only_rejected(lambda: parse_callback(body, signed(body), SECRET, NOW))


@given(
    st.binary(), st.dictionaries(st.sampled_from([TIMESTAMP_HEADER, SIGNATURE_HEADER]), st.text())
)
def test_generic_parse_callback_on_arbitrary_headers_only_rejects(
    body: bytes, headers: dict[str, str]
) -> None:
    only_rejected(lambda: parse_callback(body, headers, SECRET, NOW))
