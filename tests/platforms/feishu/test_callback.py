"""Feishu event subscription: PROTOCOLS.md §6 vectors, events, and what is refused."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from bot.app.errors import Rejected
from bot.platforms.feishu.callback import (
    MESSAGE_EVENT,
    Challenge,
    FeishuCallback,
    Ignored,
    decrypt,
    encrypt,
    parse_callback,
    signature,
    verify,
)
from bot.platforms.inbound import Attachment, InboundMessage
from tests.support.strategies import json_bytes, json_objects, json_values, only_rejected

VECTOR_KEY = "test key"
VECTOR_ENCRYPT = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
VECTOR_BODY = b'{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}'
VECTOR_SIGNATURE = "69c61fa99760d59824d588297c0036194769fb54331682c9cbcd93e85b9a8aad"
KEY = "kFq3vX9rT2"
TOKEN = "vt_8HkP2mZ"
NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
TIMESTAMP = "1700000000"
NONCE = "abc123"
IV = bytes(range(16))
CHALLENGE: dict[str, object] = {
    "challenge": "ajls384kdjx98XX",
    "token": TOKEN,
    "type": "url_verification",
}
MESSAGE: dict[str, object] = {
    "schema": "2.0",
    "header": {
        "event_id": "5e3702a84e847582be8db7fb73283c02",
        "event_type": MESSAGE_EVENT,
        "create_time": "1700000000000",
        "token": TOKEN,
        "app_id": "cli_9f5343c580712013",
        "tenant_key": "2ca1d211f64f6438",
    },
    "event": {
        "sender": {
            "sender_id": {"union_id": "on_8ed6", "user_id": "zhangsan", "open_id": "ou_84aad3"},
            "sender_type": "user",
            "tenant_key": "2ca1d211f64f6438",
        },
        "message": {
            "message_id": "om_5ce6d572455d361153b7cb51da133945",
            "root_id": "",
            "parent_id": "",
            "create_time": "1700000000123",
            "chat_id": "oc_5ce6d572455d361153b7cb51da133945",
            "chat_type": "group",
            "message_type": "text",
            "content": json.dumps({"text": "@_user_1 进展 #12  60%  @_user_2 已完成立项 "}),
            "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "督办助手"}],
        },
    },
}


def sealed(event: Mapping[str, object], key: str = KEY) -> bytes:
    """The body Feishu sends for `event` with an encrypt key."""
    return json.dumps({"encrypt": encrypt(key, json.dumps(event), IV)}).encode()


def signed_headers(body: bytes, key: str = KEY, timestamp: str = TIMESTAMP) -> dict[str, str]:
    return {
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": NONCE,
        "X-Lark-Signature": signature(timestamp, NONCE, key, body),
    }


def parse(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    key: str | None = KEY,
    token: str | None = TOKEN,
    now: datetime = NOW,
) -> FeishuCallback:
    return parse_callback(
        body,
        encrypt_key=key,
        verification_token=token,
        headers=signed_headers(body) if headers is None else headers,
        now=now,
    )


def rejected(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    key: str | None = KEY,
    token: str | None = TOKEN,
    now: datetime = NOW,
) -> int:
    with pytest.raises(Rejected) as caught:
        parse(body, headers, key=key, token=token, now=now)
    return caught.value.status


def with_changes(event: dict[str, object], part: str, **changes: object) -> dict[str, object]:
    inner = event[part]
    assert isinstance(inner, dict)
    return {**event, part: {**inner, **changes}}


def with_message(**changes: object) -> dict[str, object]:
    body = MESSAGE["event"]
    assert isinstance(body, dict)
    return {**MESSAGE, "event": {**body, "message": {**body["message"], **changes}}}


def test_feishu_vector_decrypts_to_hello_world() -> None:
    assert decrypt(VECTOR_KEY, VECTOR_ENCRYPT) == "hello world"


def test_feishu_vector_signature_is_computed_over_the_raw_body() -> None:
    assert signature(TIMESTAMP, NONCE, VECTOR_KEY, VECTOR_BODY) == VECTOR_SIGNATURE


def test_feishu_vector_signature_verifies() -> None:
    verify(VECTOR_KEY, TIMESTAMP, NONCE, VECTOR_SIGNATURE, VECTOR_BODY, NOW)


def test_feishu_vector_body_passes_the_signature_check_but_holds_no_event() -> None:
    headers = {
        "X-Lark-Request-Timestamp": TIMESTAMP,
        "X-Lark-Request-Nonce": NONCE,
        "X-Lark-Signature": VECTOR_SIGNATURE,
    }
    assert rejected(VECTOR_BODY, headers, key=VECTOR_KEY) == 400  # "hello world" is no event


@given(st.text(), st.binary(min_size=16, max_size=16), st.text(min_size=1, max_size=20))
def test_feishu_encrypt_then_decrypt_gives_the_plaintext_back(
    text: str, iv: bytes, key: str
) -> None:
    sealed_text = encrypt(key, text, iv)
    assert base64.b64decode(sealed_text)[:16] == iv
    assert decrypt(key, sealed_text) == text


def test_feishu_encryption_is_fresh_each_time_unless_the_iv_is_given() -> None:
    assert encrypt(KEY, "x") != encrypt(KEY, "x")
    assert encrypt(KEY, "x", IV) == encrypt(KEY, "x", IV)
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt(KEY, "x", b"short")


@pytest.mark.parametrize(
    "sealed_text",
    [
        "not base64!",
        "",
        base64.b64encode(IV).decode(),  # an IV and no block
        base64.b64encode(bytes(40)).decode(),  # not whole blocks
    ],
)
def test_feishu_ciphertext_that_is_not_base64_blocks_is_malformed(sealed_text: str) -> None:
    with pytest.raises(Rejected) as caught:
        decrypt(KEY, sealed_text)
    assert caught.value.status == 400


@pytest.mark.parametrize("last", [0, 5, 17, 255])
def test_feishu_ciphertext_with_bad_padding_is_malformed(last: int) -> None:
    key = hashlib.sha256(KEY.encode()).digest()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(IV)).encryptor()
    block = b"x" * 31 + bytes([last])
    sealed_text = base64.b64encode(IV + encryptor.update(block) + encryptor.finalize()).decode()
    with pytest.raises(Rejected) as caught:
        decrypt(KEY, sealed_text)
    assert caught.value.status == 400


def test_feishu_a_plain_url_verification_is_answered() -> None:
    body = json.dumps(CHALLENGE).encode()
    assert parse(body, {}, key=None) == Challenge("ajls384kdjx98XX")
    assert parse(body, {}, key=None, token=None) == Challenge("ajls384kdjx98XX")


def test_feishu_an_encrypted_url_verification_is_answered_without_a_signature() -> None:
    assert parse(sealed(CHALLENGE), {}) == Challenge("ajls384kdjx98XX")
    stale = signed_headers(sealed(CHALLENGE), timestamp="1600000000")
    assert parse(sealed(CHALLENGE), stale) == Challenge("ajls384kdjx98XX")


@pytest.mark.parametrize("key", [None, KEY])
def test_feishu_a_url_verification_with_the_wrong_token_is_rejected(key: str | None) -> None:
    event = {**CHALLENGE, "token": "guessed"}
    body = sealed(event) if key else json.dumps(event).encode()
    assert rejected(body, {}, key=key) == 403
    without = {k: v for k, v in CHALLENGE.items() if k != "token"}
    assert rejected(json.dumps(without).encode(), {}, key=None) == 403


def test_feishu_a_url_verification_without_a_challenge_is_malformed() -> None:
    event = {"type": "url_verification", "token": TOKEN}
    assert rejected(json.dumps(event).encode(), {}, key=None) == 400


def test_feishu_a_signed_message_event_is_parsed() -> None:
    message = parse(sealed(MESSAGE))
    assert isinstance(message, InboundMessage)
    assert message.platform == "feishu"
    assert (message.event_id, message.sender, message.text) == (
        "5e3702a84e847582be8db7fb73283c02",
        "ou_84aad3",
        "进展 #12  60%   已完成立项",
    )
    assert message.reply_to == "om_5ce6d572455d361153b7cb51da133945"
    assert message.conversation == "oc_5ce6d572455d361153b7cb51da133945"
    assert message.sent_at == NOW + timedelta(milliseconds=123)
    assert message.reply_expires is None
    assert message.raw == MESSAGE


def test_feishu_a_plain_message_event_is_parsed_without_an_encrypt_key() -> None:
    message = parse(json.dumps(MESSAGE).encode(), {}, key=None)
    assert isinstance(message, InboundMessage)
    assert message.sender == "ou_84aad3"


def test_feishu_headers_are_matched_whatever_their_case() -> None:
    body = sealed(MESSAGE)
    headers = {name.lower(): value for name, value in signed_headers(body).items()}
    assert isinstance(parse(body, headers), InboundMessage)


def test_feishu_without_an_open_id_the_user_id_is_the_sender() -> None:
    event = json.loads(json.dumps(MESSAGE))
    del event["event"]["sender"]["sender_id"]["open_id"]
    message = parse(sealed(event))
    assert isinstance(message, InboundMessage)
    assert message.sender == "zhangsan"


def test_feishu_a_message_time_falls_back_to_the_event_time() -> None:
    message = parse(sealed(with_message(create_time=None)))
    assert isinstance(message, InboundMessage)
    assert message.sent_at == NOW


def test_feishu_mention_placeholders_are_removed() -> None:
    content = json.dumps({"text": "@_all @_user_12 帮助"})
    message = parse(sealed(with_message(content=content)))
    assert isinstance(message, InboundMessage)
    assert message.text == "帮助"


def test_feishu_a_message_that_is_not_text_has_empty_text() -> None:
    image = with_message(message_type="image", content='{"image_key": "img_x"}')
    message = parse(sealed(image))
    assert isinstance(message, InboundMessage)
    assert message.text == ""


def test_feishu_an_image_or_a_file_carries_its_key_and_name() -> None:
    image = parse(sealed(with_message(message_type="image", content='{"image_key": "img_x"}')))
    content = json.dumps({"file_key": "file_v3_y", "file_name": "报告.pdf"}, ensure_ascii=False)
    file = parse(sealed(with_message(message_type="file", content=content)))
    assert isinstance(image, InboundMessage)
    assert isinstance(file, InboundMessage)
    assert image.attachment == Attachment("image", "img_x", None)
    assert file.attachment == Attachment("file", "file_v3_y", "报告.pdf")


@pytest.mark.parametrize(
    "content",
    ['{"image_key": "../../auth"}', '{"image_key": "img x"}', '{"image_key": 7}', "{}", "[]"],
)
def test_feishu_an_image_whose_key_is_not_feishus_is_malformed(content: str) -> None:
    assert rejected(sealed(with_message(message_type="image", content=content))) == 400


def test_feishu_other_v2_events_are_acknowledged_and_ignored() -> None:
    event = with_changes(MESSAGE, "header", event_type="im.chat.member.bot.added_v1")
    event["event"] = {"chat_id": "oc_1"}
    assert parse(sealed(event)) == Ignored(
        "im.chat.member.bot.added_v1", "5e3702a84e847582be8db7fb73283c02"
    )


def test_feishu_v1_events_are_acknowledged_and_ignored() -> None:
    event = {"uuid": "41b5f371", "token": TOKEN, "ts": "1700000000.0", "type": "event_callback"}
    event_with_body = {**event, "event": {"type": "message", "text": "hi"}}
    assert parse(sealed(event_with_body)) == Ignored("message", "41b5f371")
    forged = {**event_with_body, "token": "guessed"}
    assert rejected(sealed(forged)) == 403


def test_feishu_a_message_event_with_the_wrong_token_is_rejected() -> None:
    assert rejected(sealed(with_changes(MESSAGE, "header", token="guessed"))) == 403
    assert rejected(sealed(with_changes(MESSAGE, "header", token=None))) == 403
    assert rejected(json.dumps(with_changes(MESSAGE, "header", token=7)).encode(), key=None) == 403


def test_feishu_without_a_configured_token_any_token_passes() -> None:
    event = with_changes(MESSAGE, "header", token="anything")
    assert isinstance(parse(sealed(event), token=None), InboundMessage)


@pytest.mark.parametrize("offset", [timedelta(hours=2), -timedelta(hours=2)])
def test_feishu_stale_and_future_timestamps_are_rejected(offset: timedelta) -> None:
    assert rejected(sealed(MESSAGE), now=NOW + offset) == 403
    assert isinstance(parse(sealed(MESSAGE), now=NOW + offset / 2.1), InboundMessage)


def test_feishu_a_tampered_body_is_rejected() -> None:
    body = sealed(MESSAGE)
    tampered = sealed(with_changes(MESSAGE, "header", event_id="replayed"))
    assert rejected(tampered, signed_headers(body)) == 401


@pytest.mark.parametrize(
    "missing", ["X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature"]
)
def test_feishu_a_message_without_signature_headers_is_rejected(missing: str) -> None:
    body = sealed(MESSAGE)
    headers = {k: v for k, v in signed_headers(body).items() if k != missing}
    assert rejected(body, headers) == 401


def test_feishu_a_signature_made_with_another_key_is_rejected() -> None:
    body = sealed(MESSAGE)
    assert rejected(body, signed_headers(body, key="another")) == 401
    assert rejected(body, signed_headers(body, timestamp="17e8")) == 401


def test_feishu_an_unsigned_body_that_does_not_decrypt_answers_as_unsigned() -> None:
    garbage = json.dumps({"encrypt": base64.b64encode(bytes(48)).decode()}).encode()
    assert rejected(garbage, {}) == 401
    assert rejected(b'{"encrypt": "not base64!"}', {}) == 401


def test_feishu_an_encrypted_body_without_a_configured_key_is_malformed() -> None:
    assert rejected(sealed(MESSAGE), key=None) == 400


def test_feishu_a_plain_body_when_a_key_is_configured_is_malformed() -> None:
    assert rejected(json.dumps(MESSAGE).encode()) == 400
    assert rejected(json.dumps({"encrypt": 5}).encode()) == 400


@pytest.mark.parametrize(
    "event",
    [
        with_changes(MESSAGE, "header", event_id=None),
        with_changes(MESSAGE, "header", event_type=None),
        {**MESSAGE, "header": "h"},
        {**MESSAGE, "event": []},
        with_message(content="not json"),
        with_message(content={"text": "hi"}),
        with_message(content='{"text": 5}'),
        with_message(message_id=None),
        with_message(create_time="yesterday"),
        with_message(chat_id=5),
        with_changes(MESSAGE, "event", sender={"sender_id": {}}),
    ],
)
def test_feishu_malformed_events_are_rejected(event: dict[str, object]) -> None:
    assert rejected(sealed(event)) == 400


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"\xff", b'{"encrypt": NaN}'])
def test_feishu_malformed_json_is_rejected(body: bytes) -> None:
    assert rejected(body, key=None) == 400
    assert rejected(body) == 400


KEYS = ["encrypt", "type", "token", "challenge", "schema", "header", "event", "uuid"]


@given(json_bytes(json_objects(KEYS)))
def test_feishu_parse_callback_on_arbitrary_plain_bytes_only_rejects(body: bytes) -> None:
    only_rejected(lambda: parse(body, {}, key=None))


@given(json_bytes(json_objects(KEYS)))
def test_feishu_parse_callback_on_arbitrary_signed_bytes_only_rejects(body: bytes) -> None:
    only_rejected(lambda: parse(body))


def maybe(value: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return value | json_values


texts = st.text(max_size=12)
near_messages = st.fixed_dictionaries(
    {
        "schema": maybe(st.just("2.0")),
        "header": maybe(
            st.fixed_dictionaries(
                {
                    "event_id": maybe(texts),
                    "event_type": maybe(st.just(MESSAGE_EVENT)),
                    "token": maybe(st.just(TOKEN)),
                    "create_time": maybe(st.integers(min_value=0).map(str)),
                }
            )
        ),
        "event": maybe(
            st.fixed_dictionaries(
                {
                    "sender": maybe(
                        st.fixed_dictionaries(
                            {"sender_id": maybe(st.fixed_dictionaries({"open_id": maybe(texts)}))}
                        )
                    ),
                    "message": maybe(
                        st.fixed_dictionaries(
                            {
                                "message_id": maybe(texts),
                                "chat_id": maybe(texts),
                                "message_type": maybe(st.just("text")),
                                "create_time": maybe(texts),
                                "content": maybe(
                                    st.fixed_dictionaries({"text": maybe(st.text())}).map(
                                        json.dumps
                                    )
                                    | st.text()
                                ),
                            }
                        )
                    ),
                }
            )
        ),
    }
)


@given(near_messages)
def test_feishu_parse_callback_on_near_valid_signed_events_only_rejects(
    event: dict[str, object],
) -> None:
    only_rejected(lambda: parse(sealed(event)))
    only_rejected(lambda: parse(json.dumps(event).encode(), {}, key=None))
