"""A generic signed JSON webhook, for systems that are not chat robots (an OA system, a relay).

The body is the message as compact UTF-8 JSON:
`{"id", "recipient", "kind", "title", "text", "mobiles", "user_ids"}`. Two headers sign it:

    X-Duban-Timestamp: <epoch seconds>
    X-Duban-Signature: sha256=<hex HMAC-SHA256(key=secret, msg=b"<timestamp>." + body)>

Receivers recompute the signature over the raw body bytes exactly as received, compare it
in constant time and reject timestamps more than five minutes from their clock (replays):
`verify_webhook` does all three. Any 2xx answer means delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Unpack

import httpx

from bot.app.errors import DeliveryError
from bot.platforms.base import Outgoing, Receipt
from bot.platforms.http import Robot, RobotOptions
from bot.platforms.inbound import hashed

MAX_BYTES = 64_000
RATE_LIMIT_WAIT = 60.0
LONGEST_WAIT = 3600.0  # a receiver's Retry-After must not park a message for days
TIMESTAMP_HEADER = "X-Duban-Timestamp"
SIGNATURE_HEADER = "X-Duban-Signature"


def sign_webhook(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Duban-Signature` value for `body` sent at `timestamp`: `sha256=<hex>`."""
    signed = f"{timestamp}.".encode() + body
    mac = hashed(hmac.new(secret.encode(), digestmod=hashlib.sha256), signed)
    return "sha256=" + mac.hexdigest()


def verify_webhook(
    secret: str,
    timestamp: int | str,
    signature: str,
    body: bytes,
    now: float,
    tolerance: float = 300,
) -> bool:
    """Whether `signature` signs `body` at `timestamp`, within `tolerance` seconds of `now`.

    For receivers: pass the two headers as received, the raw body bytes and the epoch time.
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance:
        return False
    expected = sign_webhook(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.encode())


class WebhookChannel(Robot):
    """POSTs each message, signed with `secret`, to `url`."""

    platform = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.Client,
        *,
        secret: str,
        **options: Unpack[RobotOptions],
    ) -> None:
        super().__init__(name, url, client, secret=secret, **options)
        self._key = secret  # every request is signed

    def send(self, message: Outgoing) -> Receipt:
        body = _encode(message)
        timestamp = int(self._now())
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(self._key, timestamp, body),
        }
        return self._receipt(self._post(body, headers=headers.items()))

    def _receipt(self, response: httpx.Response) -> Receipt:
        status = response.status_code
        if 200 <= status < 300:
            return Receipt({"status": status})
        problem = f"{self.label}: HTTP {status}"
        if status == 429:
            raise DeliveryError(problem, retry_after=_retry_after(response))
        raise DeliveryError(problem, permanent=400 <= status < 500)


def _encode(message: Outgoing) -> bytes:
    fields = {
        "id": message.message_id,
        "recipient": message.recipient,
        "kind": message.kind,
        "title": message.title,
        "text": message.text,
        "mobiles": list(message.mobiles),
        "user_ids": list(message.user_ids),
    }
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def _retry_after(response: httpx.Response) -> float:
    """Retry-After when it is a number of seconds (at most an hour); else (a date) 60."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        return min(float(value), LONGEST_WAIT)
    return RATE_LIMIT_WAIT
