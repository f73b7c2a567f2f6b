"""What every platform's callback parser returns or raises, and the checks they share.

The parsers are pure: they read no clock (the caller passes `now`), touch no database and
send nothing. A request they refuse raises `Rejected` with the HTTP status to answer.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from bot.app.errors import Rejected

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
# Fields of a callback body that grant access (Feishu's verification token sits in
# `header.token`, or at the top in v1 events): never kept with the stored event.
SECRET_FIELDS = frozenset(
    {"token", "verification_token", "encrypt_key", "app_secret", "secret", "access_token"}
)
# hashlib and hmac let go of the interpreter lock to hash 2,048 bytes or more in one call;
# the web thread then waits to get it back behind the hooks' other threads (a switch
# interval, 5 ms, on each request). `hashed` feeds them less at a time.
UNLOCKED_BYTES = 2048
PIECE_BYTES = UNLOCKED_BYTES - 1


class Hash(Protocol):
    def update(self, data: memoryview, /) -> None: ...


H = TypeVar("H", bound=Hash)


def hashed(hasher: H, data: bytes) -> H:
    """`hasher` fed `data` in pieces short enough that it keeps the interpreter lock (a
    signature over a request's body is a few microseconds of work, not worth a wait)."""
    view = memoryview(data)
    for start in range(0, len(view), PIECE_BYTES):
        hasher.update(view[start : start + PIECE_BYTES])
    return hasher


@dataclass(frozen=True)
class Attachment:
    """A file or image sent with a message, as the platform names it: `kind` ("image" or
    "file"), the platform's `key` to download it by, and the name it was sent under (None
    for images). No secret: the download needs the app's own token."""

    kind: str
    key: str
    name: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One message a user sent the bot, as every platform's parser returns it."""

    platform: str
    event_id: str  # the platform's message or event id: dedupe on it
    sender: str  # the platform's user id
    text: str  # "" for messages that are not text: the caller answers with help
    sent_at: datetime | None
    conversation: str | None  # the chat id
    reply_to: str | None  # DingTalk sessionWebhook URL, Feishu message_id, WeCom None
    reply_expires: datetime | None
    raw: dict[str, object] = field(repr=False, compare=False)  # the decoded event, JSON-able
    # A signature that covers no body (DingTalk's timestamp and sign): kept once per source, so
    # that another message under it is dropped as received before, in any process.
    signature: str | None = None
    attachment: Attachment | None = None  # an image or a file: kept as evidence (佐证材料)


def without_secrets(event: Mapping[str, object]) -> dict[str, object]:
    """`event` without SECRET_FIELDS at the top or in the objects directly under it (where
    the platforms put them), for storing."""
    return {
        key: _without_secret_fields(value)
        for key, value in event.items()
        if key.lower() not in SECRET_FIELDS
    }


def _without_secret_fields(value: object) -> object:
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if str(k).lower() not in SECRET_FIELDS}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The header `name`, looked up without regard to case (a plain dict works too)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def same(expected: str, given: str) -> bool:
    """Whether two secrets or signatures are equal, in constant time."""
    return hmac.compare_digest(expected.encode(), given.encode())


def json_object(data: bytes | str) -> dict[str, object]:
    """`data` decoded as a JSON object; anything else is `Rejected(400)`, and so are numbers
    no database keeps (NaN, Infinity, or `1e999999`, which Python reads as infinity)."""
    try:
        # What json.loads does, with one decoder made once (with these hooks it makes one
        # a call, which was a tenth of a DingTalk acknowledgement's time).
        if isinstance(data, str):
            if data.startswith("\ufeff"):
                raise ValueError("a byte order mark")
        else:
            data = data.decode(json.detect_encoding(data), "surrogatepass")
        value = _DECODER.decode(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise Rejected(400, "body is not JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, "body is not a JSON object")
    return value


def epoch_number(value: object, what: str) -> int | None:
    """An epoch count sent as a number or a string of digits; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise Rejected(400, f"{what} is not an epoch number")


def from_epoch(value: object, what: str, *, unit: timedelta = MILLISECOND) -> datetime | None:
    """An aware UTC datetime from an epoch count in `unit`s (milliseconds by default)."""
    number = epoch_number(value, what)
    if number is None:
        return None
    try:
        return EPOCH + number * unit
    except OverflowError:
        raise Rejected(400, f"{what} is out of range") from None


def check_fresh(count: int, unit: timedelta, now: datetime, window: timedelta) -> None:
    """`Rejected(403)` unless `count` `unit`s after the epoch is within `window` of `now`."""
    now_count = (now - EPOCH) // unit
    if abs(count - now_count) > window // unit:
        raise Rejected(403, "timestamp outside the allowed window")


def text_field(event: Mapping[str, object], key: str) -> str | None:
    """`event[key]` when it is a non-empty string, None when absent; else `Rejected(400)`."""
    value = event.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Rejected(400, f"{key} is not a string")
    return value


def required_text(event: Mapping[str, object], key: str) -> str:
    """`event[key]`, which must be a non-empty string; else `Rejected(400)`."""
    value = text_field(event, key)
    if value is None:
        raise Rejected(400, f"{key} is missing")
    return value


def object_field(event: Mapping[str, object], key: str) -> dict[str, object]:
    """`event[key]` when it is a JSON object ({} when absent); else `Rejected(400)`."""
    value = event.get(key, {})
    if not isinstance(value, dict):
        raise Rejected(400, f"{key} is not an object")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
