"""The daemon's HTTP client: a robot's POST of a prepared body goes through urllib3's pool,
everything else through httpx (`ClientPerWorker`).

A send is one POST of bytes already encoded, and httpx's sync client spent about 1 ms of the
dispatcher's CPU on each (its request and response models, httpcore's pool and h11's
parser), most of what a message cost. urllib3 sends the same request for a fraction of it.
What the robots see does not change: `post` answers an httpx.Response (status, headers,
body), a transport failure raises httpx's exception of the same kind (ConnectError,
ReadTimeout…: post_json turns it into a retryable DeliveryError with secrets scrubbed), the
per-request timeout holds (connect and read), redirects are not followed and nothing is
retried here (the dispatcher retries). Anything else — a JSON body, a GET, a request with
a proxy configured in the environment (httpx honours HTTP(S)_PROXY; this pool does not) —
goes through httpx as before. Tests inject an httpx.Client on a MockTransport instead.

A robot's URL is looked up once: its host's connection pool and the path to ask for are kept
(at most TARGETS URLs; the robots' are a few, the answers' session webhooks come and go),
and each post goes to that pool directly. Through the pool manager every post parsed its
URL again and built the manager's key for its host, a sixth of the dispatcher's interpreter
time (`py-spy --gil`, 128 workers).
"""

from __future__ import annotations

import functools
import urllib.request
from typing import Any

import httpx
import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import parse_url

from bot.platforms.http import ClientPerWorker

CONNECTIONS = 64  # kept open to one host (the dispatcher's workers at once, by default)
# Hosts whose pools the manager keeps: the platforms' and those of the webhooks and answer
# origins the operator configured, far fewer. Past it the manager lets go of the least used
# one; a URL kept below may still post through it (it is closed once no URL refers to it).
HOSTS = 64
TARGETS = 4096  # URLs whose pool and path are kept


def _transport_error(exc: urllib3.exceptions.HTTPError, request: httpx.Request) -> httpx.HTTPError:
    """urllib3's failure as the httpx exception a robot already handles."""
    kind: type[httpx.TransportError] = httpx.TransportError
    if isinstance(exc, NewConnectionError):  # before ConnectTimeoutError, its base
        kind = httpx.ConnectError
    elif isinstance(exc, ConnectTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, ReadTimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, ProtocolError):
        kind = httpx.RemoteProtocolError
    return kind(str(exc), request=request)


def _proxied() -> bool:
    """A proxy in the environment (httpx's `trust_env`): those requests stay with httpx."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


class PooledClient(ClientPerWorker):
    """`ClientPerWorker` whose posts of bytes go through one urllib3 pool (`connections` kept
    open to each host; more at once are opened and closed after)."""

    def __init__(self, connections: int = CONNECTIONS) -> None:
        ssl_context = httpx.create_ssl_context()  # httpx's certificates, made once
        super().__init__(verify=ssl_context)
        self._pool: urllib3.PoolManager | None = None
        if not _proxied():
            self._pool = urllib3.PoolManager(
                num_pools=HOSTS, maxsize=connections, ssl_context=ssl_context, retries=False
            )
        self._target = functools.lru_cache(maxsize=TARGETS)(self._find)

    def post(  # type: ignore[override]
        self,
        url: httpx.URL | str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        pool = None if kwargs or not isinstance(content, bytes) else self._pool
        if pool is None or not isinstance(timeout, httpx.Timeout):
            options: dict[str, Any] = {"content": content, "headers": headers, **kwargs}
            if timeout is not None:
                options["timeout"] = timeout
            return super().post(url, **options)
        target = str(url)
        try:
            try:
                answer = self._post(target, content, headers, timeout)
            except ClosedPoolError:  # the manager let go of the host's pool meanwhile
                self._target.cache_clear()
                answer = self._post(target, content, headers, timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise _transport_error(exc, httpx.Request("POST", target)) from None
        return httpx.Response(
            answer.status, headers=list(answer.headers.items()), content=answer.data
        )

    def _post(
        self,
        target: str,
        content: bytes | None,
        headers: dict[str, str] | None,
        timeout: httpx.Timeout,
    ) -> urllib3.BaseHTTPResponse:
        pool, path = self._target(target)
        return pool.urlopen(
            "POST",
            path,
            body=content,
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout.connect, read=timeout.read),
            redirect=False,
            retries=False,
            assert_same_host=False,
        )

    def _find(self, target: str) -> tuple[HTTPConnectionPool, str]:
        """The pool of `target`'s host, and the path (with the query) to ask it for."""
        assert self._pool is not None
        parts = parse_url(target)
        pool = self._pool.connection_from_host(parts.host, parts.port, parts.scheme)
        return pool, parts.request_uri

    def _close_clients(self) -> None:
        self._target.cache_clear()
        if self._pool is not None:
            self._pool.clear()
        super()._close_clients()
