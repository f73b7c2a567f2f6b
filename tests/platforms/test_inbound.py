"""The helpers every callback parser shares: headers, JSON, epoch times, freshness."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.errors import Rejected
from bot.platforms.inbound import (
    UNLOCKED_BYTES,
    InboundMessage,
    check_fresh,
    from_epoch,
    hashed,
    header,
    json_object,
    required_text,
    text_field,
)

NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # epoch 1700000000
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


def status_of(call: object, *args: object) -> int:
    assert callable(call)
    with pytest.raises(Rejected) as caught:
        call(*args)
    return caught.value.status


def test_a_rejection_carries_its_status_and_reason() -> None:
    refused = Rejected(401, "bad signature")
    assert (refused.status, refused.reason, str(refused)) == (
        401,
        "bad signature",
        "401: bad signature",
    )


def test_headers_are_found_whatever_their_case() -> None:
    headers = {"x-lark-signature": "abc", "Timestamp": "1"}
    assert header(headers, "X-Lark-Signature") == "abc"
    assert header(headers, "timestamp") == "1"
    assert header(headers, "sign") is None


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000, b'{"a": NaN}'],
)
def test_json_that_is_not_a_plain_object_is_malformed(body: bytes) -> None:
    assert status_of(json_object, body) == 400


def test_a_json_object_is_decoded() -> None:
    assert json_object('{"a": [1, "二"]}'.encode()) == {"a": [1, "二"]}


def test_epoch_milliseconds_become_aware_utc_datetimes() -> None:
    assert from_epoch(1700000000123, "t") == NOW + timedelta(milliseconds=123)
    assert from_epoch("1700000000000", "t") == NOW
    assert from_epoch(1700000000, "t", unit=SECOND) == NOW
    assert from_epoch(None, "t") is None


@pytest.mark.parametrize("value", [True, 1.5, "12a", "-5", [1], 10**30])
def test_epoch_values_of_the_wrong_kind_or_range_are_malformed(value: object) -> None:
    assert status_of(from_epoch, value, "t") == 400


def test_a_timestamp_at_the_edge_of_the_window_is_fresh() -> None:
    check_fresh(1700000000 + 3600, SECOND, NOW, HOUR)
    check_fresh(1700000000 - 3600, SECOND, NOW, HOUR)


@pytest.mark.parametrize("seconds", [1700000000 + 3601, 1700000000 - 3601, 0, 10**40])
def test_a_timestamp_beyond_the_window_is_stale(seconds: int) -> None:
    assert status_of(check_fresh, seconds, SECOND, NOW, HOUR) == 403


def test_text_fields_must_be_strings_when_present() -> None:
    event: dict[str, object] = {"a": "x", "b": 3, "c": ""}
    assert text_field(event, "a") == "x"
    assert text_field(event, "c") is None
    assert text_field(event, "missing") is None
    assert status_of(text_field, event, "b") == 400
    assert status_of(required_text, event, "c") == 400


def test_messages_compare_without_their_raw_event() -> None:
    one = InboundMessage("wecom", "1", "u", "t", None, None, None, None, raw={"a": 1})
    other = InboundMessage("wecom", "1", "u", "t", None, None, None, None, raw={"b": 2})
    assert one == other
    assert hash(one) == hash(other)


class Pieces:
    """A hasher that keeps what it is fed, piece by piece."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def update(self, data: memoryview, /) -> None:
        self.pieces.append(bytes(data))


@pytest.mark.parametrize("size", [0, 1, UNLOCKED_BYTES - 1, UNLOCKED_BYTES, 5 * UNLOCKED_BYTES + 3])
def test_a_body_is_hashed_as_hashlib_and_hmac_hash_it_in_one_call(size: int) -> None:
    body = bytes(range(256)) * (size // 256 + 1)
    body = body[:size]
    assert hashed(hashlib.sha256(), body).hexdigest() == hashlib.sha256(body).hexdigest()
    assert hashed(hashlib.sha1(), body).hexdigest() == hashlib.sha1(body).hexdigest()
    mac = hashed(hmac.new(b"secret", digestmod=hashlib.sha256), body).hexdigest()
    assert mac == hmac.new(b"secret", body, hashlib.sha256).hexdigest()


def test_a_body_is_fed_in_pieces_short_enough_for_the_hasher_to_keep_the_lock() -> None:
    body = b"x" * (3 * UNLOCKED_BYTES)
    pieces = hashed(Pieces(), body).pieces
    assert b"".join(pieces) == body
    assert max(len(piece) for piece in pieces) < UNLOCKED_BYTES
