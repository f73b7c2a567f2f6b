"""DingTalk (钉钉) app robot callback: the @-messages users send the robot (PROTOCOLS.md §4).

Headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=appSecret,
msg=f"{timestamp}\\n{appSecret}")). The JSON body carries a `sessionWebhook` to reply to
until `sessionWebhookExpiredTime`. The sign covers the timestamp only, not the body: the
web app accepts each (timestamp, sign) pair for one message (bot/web/replay.py), and a
reply goes to a `sessionWebhook` only on DingTalk's own hosts (or those configured).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from bot.app.errors import Rejected
from bot.platforms.inbound import (
    EPOCH,
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
WINDOW = timedelta(hours=1)  # what DingTalk documents for the timestamp
# Where DingTalk's session webhooks live; a private deployment configures its own.
SESSION_WEBHOOK_ORIGINS = ("https://oapi.dingtalk.com", "https://api.dingtalk.com")


def sign(app_secret: str, timestamp_ms: str) -> str:
    """The `sign` header DingTalk sends with `timestamp_ms`."""
    message = f"{timestamp_ms}\n{app_secret}".encode()
    # Not `hmac.digest`: that one-shot call lets go of the interpreter lock, and the web
    # thread then waits for it behind the hooks' other threads (a switch interval, 5 ms) on
    # every request; `hmac.new` keeps it for a message this short (about 3 µs).
    digest = hmac.new(app_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    app_secret: str,
    timestamp_header: str | None,
    sign_header: str | None,
    now: datetime,
    window: timedelta = WINDOW,
) -> tuple[str, str]:
    """The verified (timestamp, sign) pair; `Rejected(401)` for a missing or wrong sign,
    `Rejected(403)` for a stale timestamp."""
    if not timestamp_header or not sign_header:
        raise Rejected(401, "timestamp or sign header missing")
    if not (timestamp_header.isascii() and timestamp_header.isdigit()):
        raise Rejected(401, "timestamp header is not a number")
    if not same(sign(app_secret, timestamp_header), sign_header):
        raise Rejected(401, "bad sign")
    check_fresh(int(timestamp_header), MILLISECOND, now, window)
    return timestamp_header, sign_header


def signed_until(timestamp_header: str) -> datetime:
    """When a verified `timestamp` header stops being fresh: its sign is void after that."""
    return EPOCH + int(timestamp_header) * MILLISECOND + WINDOW


def parse_callback(
    body: bytes,
    *,
    corp_id: str | None = None,
    robot_code: str | None = None,
    signature: str | None = None,
) -> InboundMessage:
    """The message in a callback body; call `verify` on its headers first and pass what it
    verified as `signature` (the message keeps it). With `corp_id` or `robot_code`, a body
    addressed to another organisation or robot is `Rejected(403)`."""
    event = json_object(body)
    for key, expected in (("chatbotCorpId", corp_id), ("robotCode", robot_code)):
        if expected is not None and not same(expected, text_field(event, key) or ""):
            raise Rejected(403, f"{key} is not this app's")
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
        signature=signature,
    )
