"""Feishu / Lark (飞书) event subscription: challenge, AES envelope, signature (PROTOCOLS.md §6).

With an encrypt key the body is `{"encrypt": base64(iv ‖ AES-256-CBC(key=sha256(encrypt_key)))}`
and `X-Lark-Signature` = sha256 hex of timestamp + nonce + encrypt_key + the raw body. The
url_verification request is not signed; its verification token is still checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.app.errors import Rejected
from bot.platforms.buttons import Tap, tap_of
from bot.platforms.inbound import (
    MILLISECOND,
    Attachment,
    InboundMessage,
    check_fresh,
    epoch_number,
    from_epoch,
    hashed,
    header,
    json_object,
    object_field,
    required_text,
    same,
    text_field,
)

PLATFORM = "feishu"
WINDOW = timedelta(hours=1)  # Feishu documents none
SECOND = timedelta(seconds=1)
TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"
MESSAGE_EVENT = "im.message.receive_v1"
CLICK_EVENT = "card.action.trigger"  # a card's callback button, from the app's callback URL
MICROSECONDS = 10**15  # a create_time this large counts microseconds (card callbacks)
PLACEHOLDER = re.compile(r"@_(?:user_\d+|all)")  # where a message mentioned someone
# A message id as Feishu writes it ("om_" and hex): it goes into the reply's URL path.
MESSAGE_ID = re.compile(r"om_[0-9A-Za-z_-]{1,128}")
# An image_key or file_key ("img_v3_…", "file_v3_…"): it too goes into a URL path.
RESOURCE_KEY = re.compile(r"[0-9A-Za-z_-]{1,200}")
# The message types that carry a file, and the field of their content that names it.
RESOURCE_TYPES = {"image": "image_key", "file": "file_key"}


@dataclass(frozen=True)
class Challenge:
    """A url_verification request: answer `{"challenge": challenge}`."""

    challenge: str


@dataclass(frozen=True)
class Ignored:
    """An authentic event that is not a message to the bot: acknowledge it, do nothing."""

    event_type: str
    event_id: str | None


@dataclass(frozen=True)
class Click:
    """A tap on a card's callback button (`card.action.trigger`): answer within 3 s with a
    toast and, when something was recorded, the updated card (bot/platforms/feishu/cards.py)."""

    message: InboundMessage
    tap: Tap


FeishuCallback: TypeAlias = Challenge | Ignored | InboundMessage | Click


def decrypt(encrypt_key: str, encrypt: str) -> str:
    """The plaintext of an `encrypt` field."""
    try:
        data = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(400, "ciphertext is not base64") from None
    if len(data) < 32 or len(data) % 16:
        raise Rejected(400, "ciphertext is not an IV and whole AES blocks")
    decryptor = _cipher(encrypt_key, data[:16]).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode()
    except ValueError:  # bad padding, or not UTF-8
        raise Rejected(400, "bad padding or encoding") from None


def encrypt(encrypt_key: str, plaintext: str, iv: bytes | None = None) -> str:
    """The `encrypt` field Feishu would send for `plaintext` (for tests and emulators)."""
    vector = os.urandom(16) if iv is None else iv
    if len(vector) != 16:
        raise ValueError("iv must be 16 bytes")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = _cipher(encrypt_key, vector).encryptor()
    return base64.b64encode(vector + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """The `X-Lark-Signature` of `body`: sha256 hex over the raw bytes."""
    return hashed(hashlib.sha256(), (timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def verify(
    encrypt_key: str,
    timestamp: str | None,
    nonce: str | None,
    signature_header: str | None,
    body: bytes,
    now: datetime,
    window: timedelta = WINDOW,
) -> None:
    """`Rejected(401)` for a missing or wrong signature, `Rejected(403)` when stale."""
    if not timestamp or nonce is None or not signature_header:
        raise Rejected(401, "signature headers missing")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Rejected(401, "timestamp header is not a number")
    if not same(signature(timestamp, nonce, encrypt_key, body), signature_header):
        raise Rejected(401, "bad signature")
    check_fresh(int(timestamp), SECOND, now, window)


def parse_callback(
    body: bytes,
    *,
    encrypt_key: str | None,
    verification_token: str | None,
    headers: Mapping[str, str],
    now: datetime,
    window: timedelta = WINDOW,
) -> FeishuCallback:
    """What a callback asks for: a challenge answer, a message, or nothing."""
    envelope = json_object(body)
    if encrypt_key is None:
        if "encrypt" in envelope:
            raise Rejected(400, "encrypted body but no encrypt key configured")
        event = envelope
    else:
        event = _opened(envelope, body, encrypt_key, headers, now, window)
    if event.get("type") == "url_verification":
        _check_token(event.get("token"), verification_token)
        return Challenge(required_text(event, "challenge"))
    if event.get("schema") != "2.0":  # a v1 event: the token and the type at the top
        _check_token(event.get("token"), verification_token)
        v1_type = text_field(object_field(event, "event"), "type")
        return Ignored(v1_type or text_field(event, "type") or "", text_field(event, "uuid"))
    head = object_field(event, "header")
    _check_token(head.get("token"), verification_token)
    if encrypt_key is None:  # unsigned: nothing but its own create_time says when it was sent
        check_fresh(_created(head), MILLISECOND, now, window)
    event_id = required_text(head, "event_id")
    event_type = required_text(head, "event_type")
    if event_type == CLICK_EVENT:
        return _click(event, head, event_id)
    if event_type != MESSAGE_EVENT:
        return Ignored(event_type, event_id)
    return _message(event, head, event_id)


def _opened(
    envelope: dict[str, object],
    body: bytes,
    encrypt_key: str,
    headers: Mapping[str, str],
    now: datetime,
    window: timedelta,
) -> dict[str, object]:
    """The decrypted event, once signed; unsigned, only a url_verification passes."""
    sealed = envelope.get("encrypt")
    if not isinstance(sealed, str):
        raise Rejected(400, "expected an encrypted body")
    try:
        verify(
            encrypt_key,
            header(headers, TIMESTAMP_HEADER),
            header(headers, NONCE_HEADER),
            header(headers, SIGNATURE_HEADER),
            body,
            now,
            window,
        )
    except Rejected as refused:
        # Any failure to open an unsigned body answers as the signature did: no oracle.
        try:
            event = json_object(decrypt(encrypt_key, sealed))
        except Rejected:
            raise refused from None
        if event.get("type") != "url_verification":
            raise refused from None
        return event
    return json_object(decrypt(encrypt_key, sealed))


def _created(head: Mapping[str, object]) -> int:
    """The header's create_time in milliseconds."""
    created = epoch_number(head.get("create_time"), "create_time")
    if created is None:
        raise Rejected(400, "create_time is missing")
    return created // 1000 if created >= MICROSECONDS else created


def _check_token(token: object, verification_token: str | None) -> None:
    if verification_token is None:
        return
    if not isinstance(token, str) or not same(verification_token, token):
        raise Rejected(403, "wrong verification token")


def _message(event: dict[str, object], head: dict[str, object], event_id: str) -> InboundMessage:
    body = object_field(event, "event")
    sender_id = object_field(object_field(body, "sender"), "sender_id")
    sender = text_field(sender_id, "open_id") or required_text(sender_id, "user_id")
    message = object_field(body, "message")
    text = ""
    if message.get("message_type") == "text":
        content = json_object(required_text(message, "content"))
        text = PLACEHOLDER.sub("", text_field(content, "text") or "").strip()
    created = message.get("create_time") or head.get("create_time")
    return InboundMessage(
        attachment=attachment_of(event),
        platform=PLATFORM,
        event_id=event_id,
        sender=sender,
        text=text,
        sent_at=from_epoch(created, "create_time", unit=MILLISECOND),
        conversation=text_field(message, "chat_id"),
        reply_to=_message_id(message),
        reply_expires=None,
        raw=event,
    )


def attachment_of(event: Mapping[str, object]) -> Attachment | None:
    """The image or file an `im.message.receive_v1` event (as received, or as kept in
    the inbound table) carries: its key and name; None for other messages."""
    message = object_field(object_field(event, "event"), "message")
    kind = message.get("message_type")
    if not isinstance(kind, str) or kind not in RESOURCE_TYPES:
        return None
    content = json_object(required_text(message, "content"))
    key = required_text(content, RESOURCE_TYPES[kind])
    if not RESOURCE_KEY.fullmatch(key):
        raise Rejected(400, f"{RESOURCE_TYPES[kind]} is not a Feishu resource key")
    return Attachment(kind, key, text_field(content, "file_name"))


def _click(event: dict[str, object], head: dict[str, object], event_id: str) -> Click:
    """The tap as the reply it stands for (「收到 #12」), from the tapper (`operator`), in
    the conversation of the card's message."""
    body = object_field(event, "event")
    operator = object_field(body, "operator")
    sender = text_field(operator, "open_id") or required_text(operator, "user_id")
    value = object_field(object_field(body, "action"), "value")
    tap = tap_of(value.get("command"), value.get("task"))
    context = object_field(body, "context")
    message = InboundMessage(
        platform=PLATFORM,
        event_id=event_id,
        sender=sender,
        text=tap.text,
        sent_at=from_epoch(_created(head), "create_time", unit=MILLISECOND),
        conversation=text_field(context, "open_chat_id"),
        reply_to=_message_id(context, "open_message_id"),
        reply_expires=None,
        raw=event,
    )
    return Click(message, tap)


def is_message_id(value: str) -> bool:
    """Whether `value` is shaped like a Feishu message id (and so safe in a URL path)."""
    return MESSAGE_ID.fullmatch(value) is not None


def _message_id(message: Mapping[str, object], key: str = "message_id") -> str:
    value = required_text(message, key)
    if not is_message_id(value):
        raise Rejected(400, "message_id is not a Feishu message id")
    return value


def _cipher(encrypt_key: str, iv: bytes) -> Cipher[modes.CBC]:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    return Cipher(algorithms.AES(key), modes.CBC(iv))
