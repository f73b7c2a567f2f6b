"""DingTalk (钉钉) app robot callback: the @-messages users send the robot (PROTOCOLS.md §4).

Headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=appSecret,
msg=f"{timestamp}\\n{appSecret}")). The JSON body carries a `sessionWebhook` to reply to
until `sessionWebhookExpiredTime`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from bot.app.errors import Rejected
from bot.platforms.inbound import (
    MILLISECOND,
    InboundMessage,
    check_fresh,
    from_epoch,
    json_object,
    object_field,
    required_text,
    same,
    text_field,
)

PLATFORM = "dingtalk"
WINDOW = timedelta(hours=1)


def sign(app_secret: str, timestamp_ms: str) -> str:
    """The `sign` header DingTalk sends with `timestamp_ms`."""
    message = f"{timestamp_ms}\n{app_secret}".encode()
    digest = hmac.new(app_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    app_secret: str,
    timestamp_header: str | None,
    sign_header: str | None,
    now: datetime,
    window: timedelta = WINDOW,
) -> None:
    """`Rejected(401)` for a missing or wrong sign, `Rejected(403)` for a stale timestamp."""
    if not timestamp_header or not sign_header:
        raise Rejected(401, "timestamp or sign header missing")
    if not (timestamp_header.isascii() and timestamp_header.isdigit()):
        raise Rejected(401, "timestamp header is not a number")
    if not same(sign(app_secret, timestamp_header), sign_header):
        raise Rejected(401, "bad sign")
    check_fresh(int(timestamp_header), MILLISECOND, now, window)


def parse_callback(body: bytes) -> InboundMessage:
    """The message in a callback body; call `verify` on its headers first."""
    event = json_object(body)
    msg_id = required_text(event, "msgId")
    sender = text_field(event, "senderStaffId") or required_text(event, "senderId")
    text = ""
    if event.get("msgtype") == "text":
        text = (text_field(object_field(event, "text"), "content") or "").strip()
    return InboundMessage(
        platform=PLATFORM,
        event_id=msg_id,
        sender=sender,
        text=text,
        sent_at=from_epoch(event.get("createAt"), "createAt"),
        conversation=text_field(event, "conversationId"),
        reply_to=text_field(event, "sessionWebhook"),
        reply_expires=from_epoch(
            event.get("sessionWebhookExpiredTime"), "sessionWebhookExpiredTime"
        ),
        raw=event,
    )
