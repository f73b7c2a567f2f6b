"""Logging for the daemon and the web app: text or JSON lines, secrets redacted.

Every configured webhook URL (and its key or token query values), signing secret, app
secret, token and database password is replaced by *** in every line, whatever logged it
and however the secret got into the message (an exception text, a URL, a repr), also
URL-encoded or escaped in a JSON string.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from sqlalchemy.engine import make_url

from bot.app.config import Settings

MIN_SECRET = 4  # shorter values would redact ordinary words


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the settings hold, longest first (a secret inside a URL goes with it)."""
    found: list[str | None] = []
    for channel in settings.channels.values():
        found += [channel.webhook, channel.secret]
        if channel.webhook:
            found += [value for _, value in parse_qsl(urlsplit(channel.webhook).query)]
            found += [urlsplit(channel.webhook).path.rsplit("/", 1)[-1]]  # Feishu's hook id
    for hook in settings.inbound.values():
        found += [
            hook.token,
            hook.encoding_aes_key,
            hook.app_secret,
            hook.encrypt_key,
            hook.verification_token,
            hook.secret,
        ]
    found.append(settings.web.token)
    with contextlib.suppress(Exception):  # an unparsable URL has no password to hide
        password = make_url(settings.database.url).password
        found.append(str(password) if password else None)
    unique = {str(s) for s in found if s and len(str(s)) >= MIN_SECRET}
    return sorted(unique, key=len, reverse=True)


def written_forms(secret: str) -> set[str]:
    """How `secret` may appear in a line: as is or URL-encoded (in a path, a query or a form
    body, either case of hex digits), each also escaped in a repr, a JSON string or both."""
    encoded = {encode(secret, safe=safe) for encode in (quote, quote_plus) for safe in ("", "/")}
    encoded |= {_PERCENT.sub(lambda m: m.group(0).lower(), form) for form in encoded}
    forms = {secret} | encoded
    forms |= {repr(form)[1:-1] for form in forms}
    return forms | {json.dumps(form, ensure_ascii=False)[1:-1] for form in forms}


_PERCENT = re.compile(r"%[0-9A-F]{2}")


class Redacting(logging.Formatter):
    """Formats with `inner`, then replaces every secret, in every written form, with ***."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        forms = {form for secret in secrets for form in written_forms(secret)}
        longest = sorted(forms, key=len, reverse=True)  # a secret inside a URL goes with it
        self.pattern = re.compile("|".join(map(re.escape, longest))) if longest else None

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        return self.pattern.sub("***", text) if self.pattern is not None else text


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(settings: Settings | None = None, *, stream: object = None) -> None:
    """Configures the root logger once for the process (text or JSON, redacted)."""
    fmt = settings.log.format if settings is not None else "text"
    level = settings.log.level if settings is not None else "INFO"
    inner: logging.Formatter = JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(Redacting(inner, secrets_of(settings) if settings else []))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job run at INFO, httpx and urllib3 (the robots' posts) every
    # request: the daemon's own lines say what matters.
    for chatty in ("apscheduler", "httpx", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Uvicorn's lines go through this handler (its format, its redaction) even where a server
    # with uvicorn's own logging configuration ran in this process before.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        for old in list(server_logger.handlers):
            server_logger.removeHandler(old)
        server_logger.propagate = True
