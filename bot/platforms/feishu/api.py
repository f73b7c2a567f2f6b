"""Feishu's open API as an app calls it: the tenant access token, cached until shortly
before it expires (`auth/v3/tenant_access_token/internal`). The app's answers to replies
(bot/replies/respond.py) and its channel (bot/platforms/feishu/app.py) share it. Files and
images sent to the app are read back with it (`im/v1/messages/{id}/resources/{key}`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx

from bot.platforms.http import CachedToken

log = logging.getLogger("duban.platforms")
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
RESOURCE_PATH = "/open-apis/im/v1/messages/{message}/resources/{key}"
# A download may take longer than an answer, but not forever: 30 s between bytes.
DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
CHUNK = 64 * 1024


class ResourceUnavailable(Exception):  # noqa: N818 -- a verdict, like Rejected
    """Feishu did not hand the file over (no token, an HTTP error, a refusal): why, in
    words without the token."""


class TenantToken:
    def __init__(
        self,
        client: httpx.Client,
        app_id: str,
        app_secret: str,
        base: str = "https://open.feishu.cn",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.app_id, self.app_secret = client, app_id, app_secret
        self.base, self.clock = base.rstrip("/"), clock
        self._cache = CachedToken(self._fetch, clock)

    def get(self) -> str | None:
        """The token, asked for when none is cached or it is about to expire; None (and a
        warning without the secret) when Feishu does not give one."""
        try:
            return self._cache.get()
        except _NoTokenError:
            return None

    def forget(self) -> None:
        """Drops the cached token (Feishu said it is no longer valid)."""
        self._cache.forget()

    def _fetch(self) -> tuple[str, object]:
        body = {"app_id": self.app_id, "app_secret": self.app_secret}
        try:
            answer = self.client.post(f"{self.base}{TOKEN_PATH}", json=body, timeout=TIMEOUT)
            found: object = answer.json()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            log.warning("feishu token request failed: %s", type(exc).__name__)
            raise _NoTokenError from None
        fields = found if isinstance(found, dict) else {}
        token = fields.get("tenant_access_token")
        if not isinstance(token, str) or fields.get("code") != 0:
            log.warning("feishu token refused: code %s", fields.get("code"))
            raise _NoTokenError
        return token, fields.get("expire")


class _NoTokenError(Exception):
    """Feishu gave no token (logged where it was asked for)."""


class MessageResources:
    """The files and images of messages sent to the app, streamed from `base` only (the
    configured api_base) with the tenant token; the caller stops reading at its limit."""

    def __init__(self, client: httpx.Client, token: TenantToken) -> None:
        self.client, self.token = client, token

    @contextmanager
    def open(self, message_id: str, kind: str, key: str) -> Iterator[Iterator[bytes]]:
        """The resource's bytes, in chunks; ResourceUnavailable when Feishu refuses.
        `message_id` and `key` were checked by the callback's parser; quoted all the same."""
        token = self.token.get()
        if token is None:
            raise ResourceUnavailable("no tenant token")
        path = RESOURCE_PATH.format(message=quote(message_id, safe=""), key=quote(key, safe=""))
        request = self.client.build_request(
            "GET",
            f"{self.token.base}{path}",
            params={"type": kind},
            headers={"Authorization": f"Bearer {token}"},
            timeout=DOWNLOAD_TIMEOUT,
        )
        try:
            response = self.client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ResourceUnavailable(type(exc).__name__) from None
        try:
            if not response.is_success:
                if response.status_code in (401, 403):
                    self.token.forget()
                raise ResourceUnavailable(f"HTTP {response.status_code}")
            yield _chunks(response)
        finally:
            response.close()


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(CHUNK)
    except httpx.HTTPError as exc:
        raise ResourceUnavailable(type(exc).__name__) from None
