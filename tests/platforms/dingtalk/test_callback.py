"""DingTalk app robot callbacks: the PROTOCOLS.md §4 vector, the body, and what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given

from bot.app.errors import Rejected
from bot.platforms.dingtalk.callback import parse_callback, sign, verify
from tests.support.strategies import json_bytes, json_objects, only_rejected

SECRET = "this is a secret"
TIMESTAMP = "1577262236757"
VECTOR_SIGN = "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="
SENT = datetime(2019, 12, 25, 8, 23, 56, 757000, tzinfo=UTC)  # TIMESTAMP
WEBHOOK = "https://oapi.dingtalk.com/robot/sendBySession?session=c3f1b2"
EVENT: dict[str, object] = {
    "msgtype": "text",
    "text": {"content": " 进展 #12 60% 已完成立项 "},
    "msgId": "msgA1b2C3==",
    "createAt": 1577262236757,
    "conversationType": "2",
    "conversationId": "cidQ9x==",
    "conversationTitle": "重点任务督办群",
    "senderId": "$:LWCP_v1:$abc",
    "senderNick": "张三",
    "senderStaffId": "manager4321",
    "senderCorpId": "ding123",
    "chatbotUserId": "$:LWCP_v1:$bot",
    "isInAtList": True,
    "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
    "sessionWebhook": WEBHOOK,
    "sessionWebhookExpiredTime": 1577267636757,
}


def body_of(**changes: object) -> bytes:
    event = {**EVENT, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


def status_of_verify(timestamp: str | None, signature: str | None, now: datetime) -> int:
    with pytest.raises(Rejected) as caught:
        verify(SECRET, timestamp, signature, now)
    return caught.value.status


def status_of_parse(body: bytes) -> int:
    with pytest.raises(Rejected) as caught:
        parse_callback(body)
    return caught.value.status


def test_dingtalk_vector_signs_as_documented() -> None:
    assert sign(SECRET, TIMESTAMP) == VECTOR_SIGN


def test_dingtalk_vector_verifies_within_the_hour() -> None:
    verify(SECRET, TIMESTAMP, VECTOR_SIGN, SENT)
    verify(SECRET, TIMESTAMP, VECTOR_SIGN, SENT + timedelta(minutes=59))
    verify(SECRET, TIMESTAMP, VECTOR_SIGN, SENT - timedelta(minutes=59))


@pytest.mark.parametrize("offset", [timedelta(hours=1, seconds=1), -timedelta(hours=1, seconds=1)])
def test_dingtalk_stale_and_future_timestamps_are_rejected(offset: timedelta) -> None:
    assert status_of_verify(TIMESTAMP, VECTOR_SIGN, SENT + offset) == 403


def test_dingtalk_the_window_can_be_narrowed() -> None:
    with pytest.raises(Rejected) as caught:
        verify(SECRET, TIMESTAMP, VECTOR_SIGN, SENT + timedelta(minutes=6), timedelta(minutes=5))
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("timestamp", "signature"), [(None, VECTOR_SIGN), (TIMESTAMP, None), ("", ""), (None, None)]
)
def test_dingtalk_missing_headers_are_rejected(
    timestamp: str | None, signature: str | None
) -> None:
    assert status_of_verify(timestamp, signature, SENT) == 401


@pytest.mark.parametrize("timestamp", ["soon", "1577262236757.0", "-1577262236757", "١٢٣"])
def test_dingtalk_a_timestamp_that_is_not_a_number_is_rejected(timestamp: str) -> None:
    assert status_of_verify(timestamp, sign(SECRET, timestamp), SENT) == 401


@pytest.mark.parametrize(
    "signature",
    [
        sign("another secret", TIMESTAMP),
        sign(SECRET, "1577262236758"),
        VECTOR_SIGN.lower(),
        "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA",
        "签名",
    ],
)
def test_dingtalk_a_wrong_sign_is_rejected(signature: str) -> None:
    assert status_of_verify(TIMESTAMP, signature, SENT) == 401


def test_dingtalk_a_group_message_is_parsed() -> None:
    message = parse_callback(body_of())
    assert message.platform == "dingtalk"
    assert (message.event_id, message.sender, message.text) == (
        "msgA1b2C3==",
        "manager4321",
        "进展 #12 60% 已完成立项",
    )
    assert message.sent_at == SENT
    assert message.conversation == "cidQ9x=="
    assert message.reply_to == WEBHOOK
    assert message.reply_expires == SENT + timedelta(minutes=90)
    assert message.raw == EVENT
    assert message.signature is None


def test_dingtalk_a_message_keeps_the_signature_its_headers_were_verified_with() -> None:
    timestamp, sign = verify(SECRET, TIMESTAMP, VECTOR_SIGN, SENT)
    message = parse_callback(body_of(), signature=f"{timestamp}:{sign}")
    assert message.signature == f"{TIMESTAMP}:{VECTOR_SIGN}"


def test_dingtalk_without_a_staff_id_the_sender_id_is_used() -> None:
    assert parse_callback(body_of(senderStaffId=None)).sender == "$:LWCP_v1:$abc"
    assert parse_callback(body_of(senderStaffId="")).sender == "$:LWCP_v1:$abc"


def test_dingtalk_a_message_that_is_not_text_has_empty_text() -> None:
    picture = body_of(msgtype="picture", text=None, content={"downloadCode": "x"})
    assert parse_callback(picture).text == ""


def test_dingtalk_optional_fields_may_be_missing() -> None:
    minimal = json.dumps({"msgId": "m1", "senderId": "u1", "msgtype": "text"}).encode()
    message = parse_callback(minimal)
    assert (message.text, message.sent_at, message.conversation) == ("", None, None)
    assert (message.reply_to, message.reply_expires) == (None, None)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b"\xff",
        b'{"msgId": "m1", "senderId": "u1", "createAt": NaN}',
        body_of(msgId=None),
        body_of(msgId=12),
        body_of(senderStaffId=None, senderId=None),
        body_of(senderStaffId=["x"]),
        body_of(text="hello"),
        body_of(text={"content": 5}),
        body_of(createAt="yesterday"),
        body_of(createAt=1.5),
        body_of(sessionWebhookExpiredTime=10**30),
        body_of(sessionWebhook={"url": WEBHOOK}),
        body_of(conversationId=7),
    ],
)
def test_dingtalk_malformed_bodies_are_rejected(body: bytes) -> None:
    assert status_of_parse(body) == 400


KEYS = [
    "msgtype",
    "text",
    "msgId",
    "createAt",
    "conversationId",
    "senderId",
    "senderStaffId",
    "sessionWebhook",
    "sessionWebhookExpiredTime",
]


@given(json_bytes(json_objects(KEYS)))
def test_dingtalk_parse_callback_on_arbitrary_bytes_only_rejects(body: bytes) -> None:
    only_rejected(lambda: parse_callback(body))
