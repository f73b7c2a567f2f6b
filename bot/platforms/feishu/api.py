"""Feishu's open API as an app calls it: the tenant access token, cached until shortly
before it expires (`auth/v3/tenant_access_token/internal`). The app's answers to replies
(bot/replies/respond.py) and its channel (bot/platforms/feishu/app.py) share it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

log = logging.getLogger("duban.platforms")
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
DEFAULT_EXPIRE = 7200
EARLY = 300  # seconds before its expiry a token is renewed


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
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def get(self) -> str | None:
        """The token, asked for when none is cached or it is about to expire; None (and a
        warning without the secret) when Feishu does not give one."""
        with self._lock:
            if self._token is not None and self._token[1] > self.clock():
                return self._token[0]
            body = {"app_id": self.app_id, "app_secret": self.app_secret}
            try:
                answer = self.client.post(f"{self.base}{TOKEN_PATH}", json=body, timeout=TIMEOUT)
                found: object = answer.json()
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
                log.warning("feishu token request failed: %s", type(exc).__name__)
                return None
            fields = found if isinstance(found, dict) else {}
            token = fields.get("tenant_access_token")
            if not isinstance(token, str) or fields.get("code") != 0:
                log.warning("feishu token refused: code %s", fields.get("code"))
                return None
            expire = fields.get("expire")
            seconds = expire if isinstance(expire, int) else DEFAULT_EXPIRE
            self._token = (token, self.clock() + max(seconds - EARLY, 60))
            return token

    def forget(self) -> None:
        """Drops the cached token (Feishu said it is no longer valid)."""
        with self._lock:
            self._token = None
