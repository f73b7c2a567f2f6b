"""Signed links: who may open a report or review page, for what, and until when.

A token is `payload.signature`, both base64url without padding. The payload is compact JSON
`{"p": purpose, "s": subject, "x": expiry}` (subject: a few ids or names; expiry: Unix
seconds); the signature is HMAC-SHA256 over the purpose and the payload with the key from
`[report] secret`, cut to 128 bits. A token made for one purpose or subject does not verify
for another; comparison is constant-time; nothing in a token is secret, only unforgeable.

Pure: the caller gives the key and the time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

SIGNATURE_BYTES = 16
# A token longer than this is refused before anything is decoded (they are ~100 characters).
MAX_TOKEN = 512

Subject = tuple[int | str, ...]


class InvalidTokenError(ValueError):
    """The token is malformed, forged, for another purpose, or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    purpose: str
    subject: Subject
    expires: datetime


def sign(key: bytes, purpose: str, subject: Subject, expires: datetime) -> str:
    """A token for `purpose` and `subject`, good until `expires` (aware)."""
    if not key:
        raise ValueError("no signing key")
    payload = json.dumps(
        {"p": purpose, "s": list(subject), "x": int(expires.timestamp())},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    encoded = _b64(payload)
    return f"{encoded}.{_b64(_mac(key, purpose, encoded))}"


def verify(key: bytes, token: str, purpose: str, now: datetime) -> Claims:
    """The token's claims when it is `purpose`'s, signed with `key` and not expired; else
    `InvalidTokenError` with the reason (for logs and counters, not for the visitor)."""
    if not key:
        raise InvalidTokenError("no signing key")
    if len(token) > MAX_TOKEN or token.count(".") != 1 or not token.isascii():
        raise InvalidTokenError("malformed")
    encoded, signature = token.split(".")
    try:
        given = _unb64(signature)
    except ValueError:
        raise InvalidTokenError("malformed") from None
    if not hmac.compare_digest(given, _mac(key, purpose, encoded)):
        raise InvalidTokenError("bad signature")
    try:
        data = json.loads(_unb64(encoded))
        claims = Claims(
            str(data["p"]),
            tuple(_part(part) for part in data["s"]),
            datetime.fromtimestamp(int(data["x"]), UTC),
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        raise InvalidTokenError("malformed") from None
    if claims.purpose != purpose:
        raise InvalidTokenError("wrong purpose")
    if claims.expires <= now:
        raise InvalidTokenError("expired")
    return claims


def fingerprint(token: str) -> str:
    """A short stable name for a token (its signature's SHA-256, hex, 32 characters): what
    may be stored to make a token good once, without storing the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _mac(key: bytes, purpose: str, encoded: str) -> bytes:
    message = purpose.encode() + b"\x00" + encoded.encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def _part(value: object) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("subject parts are ids or names")
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
