"""Replies from the generic signed webhook: the outbound scheme of `bot.channels.webhook`, inbound.

`POST` a compact JSON object `{"sender", "text", "message_id"}` with the same two headers
the outbound webhook sends:

    X-Duban-Timestamp: <epoch seconds>
    X-Duban-Signature: sha256=<hex HMAC-SHA256(key=secret, msg=b"<timestamp>." + body)>

The signature covers the raw body bytes; timestamps more than five minutes from our clock
are refused (replays).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.app.errors import Rejected
from bot.platforms.generic.robot import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook
from bot.platforms.inbound import (
    InboundMessage,
    check_fresh,
    from_epoch,
    header,
    json_object,
    required_text,
    same,
)

PLATFORM = "generic"
WINDOW = timedelta(minutes=5)  # `verify_webhook`'s tolerance
SECOND = timedelta(seconds=1)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    window: timedelta = WINDOW,
) -> int:
    """The signed timestamp; `Rejected(401)` for a bad signature, `Rejected(403)` if stale."""
    timestamp = header(headers, TIMESTAMP_HEADER)
    signature = header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise Rejected(401, "signature headers missing")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Rejected(401, "timestamp header is not a number")
    if not same(sign_webhook(secret, timestamp, body), signature):
        raise Rejected(401, "bad signature")
    check_fresh(int(timestamp), SECOND, now, window)
    return int(timestamp)


def parse_callback(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    now: datetime,
    window: timedelta = WINDOW,
) -> InboundMessage:
    """The message in a signed POST."""
    sent = verify(headers, body, secret, now, window)
    event = json_object(body)
    text = event.get("text")
    if not isinstance(text, str):
        raise Rejected(400, "text is not a string")
    return InboundMessage(
        platform=PLATFORM,
        event_id=required_text(event, "message_id"),
        sender=required_text(event, "sender"),
        text=text.strip(),
        sent_at=from_epoch(sent, "timestamp", unit=SECOND),
        conversation=None,
        reply_to=None,
        reply_expires=None,
        raw=event,
    )
