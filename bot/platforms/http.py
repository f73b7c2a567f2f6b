"""What the HTTP channels share: posting JSON with a timeout, keeping secrets out of errors,
and an app's access token kept until shortly before it expires.

A DeliveryError message ends up in the outbox and the logs, so it must never carry a webhook
key, an access token or a signing secret: `Scrubber` replaces every one it was given.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypedDict
from urllib.parse import parse_qsl, urlsplit

import httpx

from bot.app.errors import DeliveryError

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
PER_CLIENT = httpx.Limits(max_connections=4)  # a client is one caller's at a time
TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a robot's per request, unless its settings say


class ClientPerWorker(httpx.Client):
    """An httpx.Client whose every request goes through a client of its own caller's: one
    is checked out for the request (the one used last, its connections still open) and
    handed back after, so each concurrent caller — a dispatcher worker — has its own pool.
    One pool shared by 32 threads spent a third of the interpreter lock on httpcore's
    bookkeeping (every queued request scans every connection, under one lock).

    What httpx does per request and a robot never needs is left out: a webhook URL is
    parsed once (`parsed_url`), and the workers' clients keep no cookies (`_Worker`); the
    two were a fifth of a send's CPU."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._settings = {**settings, "limits": PER_CLIENT}
        self._idle: list[httpx.Client] = []
        self._every: list[httpx.Client] = []
        self._lock = threading.Lock()

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = _Worker(**self._settings)
            with self._lock:
                self._every.append(client)
        try:
            return client.request(method, parsed_url(url), **kwargs)
        finally:
            with self._lock:
                self._idle.append(client)

    @property
    def clients(self) -> list[httpx.Client]:
        """The clients made so far (as many as callers were ever at once)."""
        with self._lock:
            return list(self._every)

    def close(self) -> None:
        self._close_clients()
        super().close()

    def __exit__(self, *exc_info: Any) -> None:
        self._close_clients()
        super().__exit__(*exc_info)

    def _close_clients(self) -> None:
        with self._lock:
            every, self._every, self._idle = self._every, [], []
        for client in every:
            client.close()


URLS_KEPT = 4096  # parsed webhook URLs (signed ones change with every send and pass through)


@functools.lru_cache(maxsize=URLS_KEPT)
def _parse(url: str) -> httpx.URL:
    return httpx.URL(url)


def parsed_url(url: httpx.URL | str) -> httpx.URL:
    """`url` as httpx.URL; a webhook's is parsed once (httpx parses a string URL on every
    request, and an httpx.URL not again). Parsing fails as httpx would, uncached."""
    return url if isinstance(url, httpx.URL) else _parse(url)


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: a robot's answer sets no state the next send needs."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Worker(httpx.Client):
    """One worker's client: keeps no cookies (httpx rebuilds each answer as a urllib
    request and response to look for them)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise AttributeError("a worker's client keeps no cookies")


_NO_COOKIES = _NoCookies()


def url_origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL as httpx will send it (the default port left
    out), or None for anything else, a URL carrying user info included."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.userinfo:
        return None
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = "" if parsed.port is None else f":{parsed.port}"
    return f"{parsed.scheme}://{host}{port}"


class Scrubber:
    """Replaces the given secrets (and a URL's query values) with *** in any text."""

    def __init__(self, url: str, *extra: str | None) -> None:
        query = (value for _, value in parse_qsl(urlsplit(url).query))
        self._secrets = [s for s in (url, *query, *extra) if s]

    def __call__(self, text: object) -> str:
        scrubbed = str(text)
        for secret in self._secrets:
            scrubbed = scrubbed.replace(secret, "***")
        return scrubbed


def compact_json(body: dict[str, object], *, limit: int | None = None, label: str = "") -> bytes:
    """The body as compact UTF-8 JSON; over `limit` bytes it is too long to send as one."""
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    if limit is not None and len(payload) > limit:
        raise DeliveryError(f"{label}: body is {len(payload)} bytes, over {limit}", too_long=True)
    return payload


def json_answer(
    response: httpx.Response, label: str, *, wait: float, coded_400: bool = False
) -> dict[str, Any]:
    """A robot's answer as a JSON object. HTTP 429 asks to wait `wait` seconds; another
    4xx stops (unless `coded_400`: a 400 whose JSON carries the platform's own code, which
    the caller classifies); a 5xx or an answer that is not JSON may pass on a retry."""
    status = response.status_code
    if status == 429:
        raise DeliveryError(f"{label}: HTTP 429", retry_after=wait)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if status >= 400 and not (coded_400 and status == 400 and isinstance(answer, dict)):
        raise DeliveryError(f"{label}: HTTP {status}", permanent=status < 500)
    if not isinstance(answer, dict):
        raise DeliveryError(f"{label}: HTTP {status}, the answer is not JSON")
    return answer


def post_json(
    client: httpx.Client,
    url: str,
    body: bytes,
    *,
    timeout: httpx.Timeout,
    label: str,
    scrub: Scrubber,
    headers: Iterable[tuple[str, str]] = (),
) -> httpx.Response:
    """POSTs `body`; a transport failure (timeout, refused, dropped) is a retryable error."""
    try:
        return client.post(
            url, content=body, headers={**JSON_HEADERS, **dict(headers)}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        # `from None`: the original exception's text may hold the URL and its key.
        raise DeliveryError(f"{label}: {type(exc).__name__}: {scrub(exc)}") from None


class RobotOptions(TypedDict, total=False):
    """What a robot may be built with beyond its name, webhook, client and secret."""

    msgtype: str
    now: Callable[[], float]
    timeout: httpx.Timeout
    cards: bool


class Robot:
    """What every HTTP robot is built from, and how it posts. `platform` names it in errors;
    `msgtypes`, for a robot that has a choice, the message types it can be told to send (the
    first is its default). The timeout is per request (`[channels.NAME] timeout`); every
    secret it holds is scrubbed from its errors."""

    platform: ClassVar[str]
    msgtypes: ClassVar[tuple[str, ...]] = ("text",)

    def __init__(
        self,
        name: str,
        webhook: str,
        client: httpx.Client,
        *,
        secret: str | None = None,
        msgtype: str | None = None,
        now: Callable[[], float] = time.time,
        timeout: httpx.Timeout = TIMEOUT,
        cards: bool = False,
    ) -> None:
        msgtype = msgtype or self.msgtypes[0]
        if msgtype not in self.msgtypes:
            choices = " or ".join(repr(m) for m in sorted(self.msgtypes))
            raise ValueError(f"{self.platform} msgtype must be {choices}, not {msgtype!r}")
        self.name, self.msgtype = name, msgtype
        self._webhook, self._client, self._secret = webhook, client, secret
        self._now, self._timeout = now, timeout
        self._cards = cards  # `[channels.NAME] cards`: reminders with links as a card
        self._scrub = Scrubber(webhook, secret, *self._hidden())

    @property
    def label(self) -> str:
        return f"{self.platform} {self.name}"

    def _hidden(self) -> Iterable[str]:
        """More of the webhook to keep out of errors than its query and the secret."""
        return ()

    def _post(
        self, body: bytes, *, url: str | None = None, headers: Iterable[tuple[str, str]] = ()
    ) -> httpx.Response:
        return post_json(
            self._client,
            url or self._webhook,
            body,
            timeout=self._timeout,
            label=self.label,
            scrub=self._scrub,
            headers=headers,
        )


TOKEN_EARLY = 300  # seconds before its expiry an app's access token is renewed
TOKEN_EXPIRE = 7200  # what a token lives when the platform does not say


class Forgetful(Protocol):
    def forget(self) -> None: ...


@dataclass(frozen=True)
class AppCodes:
    """How an app API's error codes read: its token is no longer valid (dropped, and the
    send tried again), its rate limit (tried again after `wait`), and the refusals that are
    about the channel itself (no permission, IP not allowed…: the channel disables itself);
    any other code fails that message alone."""

    token_invalid: Collection[object]
    rate_limited: Collection[object]
    refused: Collection[object]
    wait: float = 60.0

    def refusal(
        self, problem: str, code: object, answer: dict[str, Any], token: Forgetful
    ) -> DeliveryError:
        if code in self.token_invalid:
            token.forget()
            return DeliveryError(problem, answer=answer)
        if code in self.rate_limited:
            return DeliveryError(problem, retry_after=self.wait, answer=answer)
        return DeliveryError(problem, permanent=code in self.refused, answer=answer)


class CachedToken:
    """An app's access token (Feishu's tenant token, WeCom's and DingTalk's access token):
    fetched when none is kept or it is within TOKEN_EARLY seconds of expiring, dropped when
    the platform says it is no longer valid. `fetch` asks the platform, answering the token
    and its lifetime in seconds (None: TOKEN_EXPIRE), and raises when it gets none; one
    caller fetches at a time."""

    def __init__(
        self,
        fetch: Callable[[], tuple[str, object]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch, self._clock = fetch, clock
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._token is not None and self._token[1] > self._clock():
                return self._token[0]
            token, lifetime = self._fetch()
            seconds = lifetime if isinstance(lifetime, int) else TOKEN_EXPIRE
            self._token = (token, self._clock() + max(seconds - TOKEN_EARLY, 60))
            return token

    def forget(self) -> None:
        with self._lock:
            self._token = None
