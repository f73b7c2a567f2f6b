"""A local emulator of the chat platforms' group-robot endpoints, for tests and benchmarks.

One real HTTP server on 127.0.0.1 (a free port) answers like WeCom, DingTalk and Feishu
(PROTOCOLS.md §1, §3, §5) and like duban's generic webhook: registered keys, signatures,
UTF-8 byte limits, rolling rate limits and their error codes. The clock is injected, so a
test drives rate windows, penalties and signature freshness with a `VirtualClock`. Faults
(HTTP 500/502, slow answers, hung requests, dropped connections, rate-limit answers) are
programmable per
platform, per key or globally, and every request is recorded. For chaos runs, a fault rate
can spare each message after a number of faults (`marker`, `max_per_marker`), and `tally`
counts how often each message arrived.

    with PlatformEmulator(clock=VirtualClock(1599360473)) as emu:
        url = emu.add_wecom("k1")
        httpx.post(url, json={"msgtype": "text", "text": {"content": "hi"}})
        assert emu.max_in_window("k1", 60) <= 20
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast, get_args
from urllib.parse import parse_qs, quote, unquote, urlsplit

Platform = Literal["wecom", "dingtalk", "feishu", "webhook"]
# "slow": the message is taken and the answer comes `slow_seconds` late (a sender that times
# out cannot know it arrived); "hang": the request is not taken and a 504 comes as late.
FaultKind = Literal["http500", "http502", "slow", "hang", "drop", "rate_limit"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)

MINUTE = 60.0
SIGN_WINDOW = 3600.0  # DingTalk and Feishu accept timestamps within one hour
BODY_LIMIT = 20_000  # DingTalk 460101, Feishu 9499: bytes of the serialized body
DINGTALK_PENALTY = 600.0
WECOM_CONTENT_LIMITS = {"text": 2048, "markdown": 4096, "markdown_v2": 4096}

FAILED_STATUS: dict[FaultKind, int] = {"drop": 0, "http500": 500, "http502": 502, "hang": 504}
RATE_LIMITED: dict[Platform, tuple[int, dict[str, Any]]] = {
    "wecom": (200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
    "dingtalk": (200, {"errcode": 130101, "errmsg": "send too fast"}),
    "feishu": (400, {"code": 9499, "msg": "too many request"}),
    "webhook": (429, {"ok": False, "error": "too many requests"}),
}


def dingtalk_sign(secret: str, ms: int | str) -> str:
    """DingTalk's `sign` for a millisecond timestamp, before URL encoding."""
    digest = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp: int | str) -> str:
    """Feishu's body `sign` for a timestamp in seconds (the key is the string, msg empty)."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Duban-Signature` header value for a generic-webhook request body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@dataclass(frozen=True)
class Received:
    """One request the emulator answered (or dropped), as the platform saw it."""

    platform: Platform
    key: str
    body: dict[str, Any]
    raw: bytes
    at: float
    accepted: bool
    answer: dict[str, Any]
    mention_shown: bool | None = None
    status: int = 200  # 0 when the connection was dropped
    fault: FaultKind | None = None


class VirtualClock:
    """A settable clock for `PlatformEmulator(clock=...)`; thread-safe."""

    def __init__(self, now: float = 0.0) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = now


@dataclass
class _Robot:
    secret: str | None = None
    sent: deque[float] = field(default_factory=deque)
    penalty_until: float = float("-inf")

    def count(self, now: float, seconds: float) -> int:
        return sum(1 for t in self.sent if now - seconds < t <= now)

    def note_sent(self, now: float) -> None:
        self.sent.append(now)
        while self.sent and self.sent[0] <= now - SIGN_WINDOW:
            self.sent.popleft()


@dataclass
class _Outcome:
    status: int
    answer: dict[str, Any]
    accepted: bool = False
    mention_shown: bool | None = None


@dataclass
class _Queued:
    kind: FaultKind
    remaining: int
    platform: Platform | None
    key: str | None

    def matches(self, platform: Platform, key: str) -> bool:
        return self.platform in (None, platform) and self.key in (None, key)


@dataclass
class _Rate:
    rate: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    marker: re.Pattern[bytes] | None = None
    cap: int | None = None
    faulted: Counter[bytes] = field(default_factory=Counter)

    def draw(self, raw: bytes) -> FaultKind | None:
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        found = self.marker.search(raw) if self.marker is not None else None
        if found is not None and self.cap is not None:
            if self.faulted[found.group()] >= self.cap:
                return None  # this message has had its share of faults
            self.faulted[found.group()] += 1
        return kind


@dataclass(frozen=True)
class _Request:
    platform: Platform
    key: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    raw: bytes
    body: dict[str, Any] | None  # None: not a JSON object


class PlatformEmulator:
    """WeCom, DingTalk, Feishu and generic-webhook endpoints on a local HTTP server.

    Use as a context manager; `base_url` is valid inside it. Register robots with
    `add_wecom`/`add_dingtalk`/`add_feishu`/`add_webhook` (each returns the robot's URL);
    unregistered keys get the platform's "invalid key" answer.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        latency: float = 0.0,
        slow_seconds: float = 3.0,
        webhook_tolerance: float = 300.0,
        retry_after: int | None = None,
    ) -> None:
        self.clock = clock
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.webhook_tolerance = webhook_tolerance
        self.retry_after = retry_after  # seconds: a `Retry-After` header on HTTP 429 answers
        self._cond = threading.Condition()
        self._robots: dict[tuple[Platform, str], _Robot] = {}
        self._received: list[Received] = []
        self._queued: list[_Queued] = []
        self._rates: dict[tuple[Platform | None, str | None], _Rate] = {}
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # bounds how long close() waits
            name="platform-emulator",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stops serving and cuts open keep-alive connections, so nothing answers after."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        with self._cond:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> PlatformEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- robots and URLs ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wecom_url(self, key: str) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={quote(key, safe='')}"

    def dingtalk_url(self, token: str) -> str:
        return f"{self.base_url}/robot/send?access_token={quote(token, safe='')}"

    def feishu_url(self, token: str) -> str:
        return f"{self.base_url}/open-apis/bot/v2/hook/{quote(token, safe='')}"

    def webhook_url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{quote(name, safe='')}"

    def add_wecom(self, key: str) -> str:
        self._register("wecom", key, None)
        return self.wecom_url(key)

    def add_dingtalk(self, token: str, secret: str | None = None) -> str:
        self._register("dingtalk", token, secret)
        return self.dingtalk_url(token)

    def add_feishu(self, token: str, secret: str | None = None) -> str:
        self._register("feishu", token, secret)
        return self.feishu_url(token)

    def add_webhook(self, name: str, secret: str | None = None) -> str:
        self._register("webhook", name, secret)
        return self.webhook_url(name)

    def _register(self, platform: Platform, key: str, secret: str | None) -> None:
        with self._cond:
            self._robots[(platform, key)] = _Robot(secret=secret)

    # -- faults ---------------------------------------------------------------------------

    def fail_next(
        self, n: int, kind: FaultKind, *, platform: Platform | None = None, key: str | None = None
    ) -> None:
        """The next `n` requests matching platform/key (None: any) fail with `kind`.

        Queued faults are consumed first-in first-out and take precedence over fault rates.
        """
        _check_kinds([kind])
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n:
            with self._cond:
                self._queued.append(_Queued(kind, n, platform, key))

    def set_fault_rate(
        self,
        rate: float,
        kinds: Sequence[FaultKind],
        seed: int = 0,
        *,
        platform: Platform | None = None,
        key: str | None = None,
        marker: re.Pattern[bytes] | None = None,
        max_per_marker: int | None = None,
    ) -> None:
        """Each matching request fails with probability `rate`, kind drawn from `kinds`.

        Deterministic for a seed (for one order of requests). One rate per scope (rate 0
        removes it); the most specific scope wins: platform+key, key, platform, global.
        With `marker` and `max_per_marker`, a message (the first match of `marker` in the
        raw body) fails at most `max_per_marker` times, then always goes through: a chaos
        run whose every message eventually arrives, within the sender's attempts.
        """
        _check_kinds(kinds)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], got {rate}")
        if max_per_marker is not None and (marker is None or max_per_marker < 0):
            raise ValueError("max_per_marker needs a marker and must be >= 0")
        with self._cond:
            if rate == 0.0:
                self._rates.pop((platform, key), None)
            else:
                self._rates[(platform, key)] = _Rate(
                    rate, tuple(kinds), random.Random(seed), marker, max_per_marker
                )

    def clear_faults(self) -> None:
        with self._cond:
            self._queued.clear()
            self._rates.clear()

    def _draw_fault(self, platform: Platform, key: str, raw: bytes = b"") -> FaultKind | None:
        with self._cond:
            for queued in self._queued:
                if queued.matches(platform, key):
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        self._queued.remove(queued)
                    return queued.kind
            for scope in ((platform, key), (None, key), (platform, None), (None, None)):
                if scope in self._rates:
                    return self._rates[scope].draw(raw)
        return None

    # -- records --------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """A snapshot of every recorded request, in arrival order."""
        with self._cond:
            return list(self._received)

    def accepted(self, platform: Platform | None = None, key: str | None = None) -> list[Received]:
        return [r for r in self.received if r.accepted and _matches(r, platform, key)]

    def tally(
        self, pattern: re.Pattern[str], *, where: Callable[[Received], bool] | None = None
    ) -> Counter[str]:
        """How many recorded requests carried each message: the first match of `pattern` in
        the body (decoded as UTF-8). By default the accepted ones (delivered); `where`
        chooses others, e.g. the slow answers a sender timed out on."""
        chosen = where or (lambda record: record.accepted)
        counts: Counter[str] = Counter()
        for record in self.received:
            found = pattern.search(record.raw.decode("utf-8", "replace"))
            if found is not None and chosen(record):
                counts[found.group()] += 1
        return counts

    def max_in_window(self, key: str, seconds: float, platform: Platform | None = None) -> int:
        """The most accepted messages for `key` within any rolling window of `seconds`."""
        times = sorted(r.at for r in self.accepted(platform, key))
        best = start = 0
        for end, at in enumerate(times):
            while at - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def wait_for(
        self,
        count: int,
        timeout: float = 5.0,
        *,
        platform: Platform | None = None,
        key: str | None = None,
    ) -> list[Received]:
        """Blocks until `count` matching messages were accepted; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(
                lambda: len(self.accepted(platform, key)) >= count, timeout=timeout
            ):
                raise TimeoutError(f"fewer than {count} messages accepted within {timeout} s")
            return self.accepted(platform, key)

    def clear(self) -> None:
        """Forgets the records (not the robots' rate windows or penalties)."""
        with self._cond:
            self._received.clear()

    def _record(
        self, request: _Request, outcome: _Outcome, at: float, fault: FaultKind | None
    ) -> None:
        record = Received(
            platform=request.platform,
            key=request.key,
            body=request.body or {},
            raw=request.raw,
            at=at,
            accepted=outcome.accepted,
            answer=outcome.answer,
            mention_shown=outcome.mention_shown,
            status=outcome.status,
            fault=fault,
        )
        with self._cond:
            self._received.append(record)
            self._cond.notify_all()

    # -- serving --------------------------------------------------------------------------

    def _serve(self, request: _Request) -> _Outcome | None:
        """Answers one request (None: drop the connection); sleeps for latency and faults."""
        fault = self._draw_fault(request.platform, request.key, request.raw)
        if fault is not None and fault in FAILED_STATUS:
            outcome = _Outcome(FAILED_STATUS[fault], {})
            self._record(request, outcome, self.clock(), fault)
        else:
            with self._cond:  # one robot's window is read and written atomically
                now = self.clock()
                outcome = self._answer(request, now, fault)
                self._record(request, outcome, now, fault)
        delay = self.latency + (self.slow_seconds if fault in ("slow", "hang") else 0.0)
        if delay > 0:
            # Slow answers are recorded first: the platform took the message, the caller
            # may time out before it hears so (the ambiguous-delivery case).
            time.sleep(delay)
        return None if fault == "drop" else outcome

    def _answer(self, request: _Request, now: float, fault: FaultKind | None) -> _Outcome:
        if fault == "rate_limit":
            return _Outcome(*RATE_LIMITED[request.platform])
        robot = self._robots.get((request.platform, request.key))
        handlers = {
            "wecom": self._wecom,
            "dingtalk": self._dingtalk,
            "feishu": self._feishu,
            "webhook": self._webhook,
        }
        outcome = handlers[request.platform](request, robot, now)
        if outcome.accepted and robot is not None:
            robot.note_sent(now)
        return outcome

    def _wecom(self, request: _Request, robot: _Robot | None, now: float) -> _Outcome:
        if robot is None:
            return _Outcome(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        body = request.body
        if body is None:
            return _Outcome(200, {"errcode": 40035, "errmsg": "invalid json"})
        msgtype = body.get("msgtype")
        limit = WECOM_CONTENT_LIMITS.get(str(msgtype))
        if limit is not None and len(str(_dig(body, msgtype, "content")).encode()) > limit:
            message = f"{msgtype}.content exceed max length {limit}"
            return _Outcome(200, {"errcode": 40058, "errmsg": message})
        if robot.count(now, MINUTE) >= 20:
            return _Outcome(*RATE_LIMITED["wecom"])
        return _Outcome(200, {"errcode": 0, "errmsg": "ok"}, accepted=True)

    def _dingtalk(self, request: _Request, robot: _Robot | None, now: float) -> _Outcome:
        if robot is None:
            return _Outcome(200, {"errcode": 300001, "errmsg": "token is not exist"})
        if now < robot.penalty_until:
            return _Outcome(*RATE_LIMITED["dingtalk"])
        problem = _dingtalk_sign_problem(robot.secret, request.query, now)
        if problem:
            return _Outcome(200, {"errcode": 310000, "errmsg": problem})
        if len(request.raw) > BODY_LIMIT:
            message = f"message too long, exceeds {BODY_LIMIT} bytes"
            return _Outcome(200, {"errcode": 460101, "errmsg": message})
        if request.body is None:
            return _Outcome(200, {"errcode": 40035, "errmsg": "缺少参数 json"})
        if robot.count(now, MINUTE) >= 20:
            robot.penalty_until = now + DINGTALK_PENALTY
            return _Outcome(*RATE_LIMITED["dingtalk"])
        shown = _dingtalk_mention_shown(request.body)
        return _Outcome(200, {"errcode": 0, "errmsg": "ok"}, True, shown)

    def _feishu(self, request: _Request, robot: _Robot | None, now: float) -> _Outcome:
        if robot is None:
            message = "param invalid: incoming webhook access token invalid"
            return _Outcome(200, {"code": 19001, "msg": message})
        body = request.body
        if len(request.raw) > BODY_LIMIT or body is None:
            return _Outcome(400, {"code": 9499, "msg": "Bad Request"})
        if robot.secret is not None and not _feishu_signed(robot.secret, body, now):
            message = "sign match fail or timestamp is not within one hour from current time"
            return _Outcome(200, {"code": 19021, "msg": message})
        if robot.count(now, 1.0) >= 5 or robot.count(now, MINUTE) >= 100:
            return _Outcome(*RATE_LIMITED["feishu"])
        return _Outcome(200, {"code": 0, "msg": "success", "data": {}}, accepted=True)

    def _webhook(self, request: _Request, robot: _Robot | None, now: float) -> _Outcome:
        if robot is None:
            return _Outcome(404, {"ok": False, "error": "unknown hook"})
        if robot.secret is not None:
            problem = _webhook_sign_problem(robot.secret, request, now, self.webhook_tolerance)
            if problem:
                return _Outcome(401, {"ok": False, "error": problem})
        if request.body is None:
            return _Outcome(400, {"ok": False, "error": "body is not a JSON object"})
        return _Outcome(200, {"ok": True}, accepted=True)


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"fault kinds must be some of {FAULT_KINDS}, got {list(kinds)}")


def _matches(record: Received, platform: Platform | None, key: str | None) -> bool:
    return platform in (None, record.platform) and key in (None, record.key)


def _dig(body: Any, *keys: Any) -> Any:
    for key in keys:
        body = body.get(key) if isinstance(body, dict) else None
    return "" if body is None else body


def _first(query: Mapping[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


def _dingtalk_sign_problem(
    secret: str | None, query: Mapping[str, list[str]], now: float
) -> str | None:
    if secret is None:
        return None
    timestamp, sign = _first(query, "timestamp"), _first(query, "sign")
    if not timestamp.isdigit() or not sign:
        return "sign not match"
    if abs(now * 1000 - int(timestamp)) > SIGN_WINDOW * 1000:
        return "invalid timestamp"
    if not hmac.compare_digest(sign.encode(), dingtalk_sign(secret, timestamp).encode()):
        return "sign not match"
    return None


def _dingtalk_mention_shown(body: dict[str, Any]) -> bool | None:
    """Whether every @-mentioned mobile/user id also appears as `@id` in the text."""
    at = body.get("at")
    field_name = {"text": "content", "markdown": "text"}.get(str(body.get("msgtype")))
    if not isinstance(at, dict) or field_name is None:
        return None
    ids = [str(i) for name in ("atMobiles", "atUserIds") for i in at.get(name) or []]
    if not ids:
        return None
    text = str(_dig(body, body["msgtype"], field_name))
    return all(f"@{i}" in text for i in ids)


def _feishu_signed(secret: str, body: dict[str, Any], now: float) -> bool:
    timestamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
    if not timestamp.isdigit() or abs(now - int(timestamp)) > SIGN_WINDOW:
        return False
    return hmac.compare_digest(sign.encode(), feishu_sign(secret, timestamp).encode())


def _webhook_sign_problem(
    secret: str, request: _Request, now: float, tolerance: float
) -> str | None:
    timestamp = request.headers.get("x-duban-timestamp", "")
    signature = request.headers.get("x-duban-signature", "")
    expected = webhook_signature(secret, timestamp, request.raw)
    if not timestamp or not hmac.compare_digest(signature.encode(), expected.encode()):
        return "bad signature"
    try:
        stale = abs(now - float(timestamp)) > tolerance
    except ValueError:
        stale = True
    return "stale timestamp" if stale else None


def _route(target: str) -> tuple[Platform, str, dict[str, list[str]]] | None:
    parts = urlsplit(target)
    # parse_qs decodes exactly once, as the platforms do: a double-encoded sign fails.
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.path == "/cgi-bin/webhook/send":
        return "wecom", _first(query, "key"), query
    if parts.path == "/robot/send":
        return "dingtalk", _first(query, "access_token"), query
    prefixes: tuple[tuple[str, Platform], ...] = (
        ("/open-apis/bot/v2/hook/", "feishu"),
        ("/hooks/", "webhook"),
    )
    for prefix, platform in prefixes:
        if parts.path.startswith(prefix) and len(parts.path) > len(prefix):
            return platform, unquote(parts.path[len(prefix) :]), query
    return None


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open many connections at once

    def __init__(self, emulator: PlatformEmulator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.emulator = emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up are part of the game; stay quiet about them.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real platforms allow
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    @property
    def emulator(self) -> PlatformEmulator:
        return cast(_Server, self.server).emulator

    def setup(self) -> None:
        super().setup()
        with self.emulator._cond:
            self.emulator._connections.add(self.connection)

    def finish(self) -> None:
        with self.emulator._cond:
            self.emulator._connections.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = _route(self.path)
        if route is None:
            self._reply(404, {"error": f"no such endpoint: {urlsplit(self.path).path}"})
            return
        platform, key, query = route
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = _Request(platform, key, query, headers, raw, _parse(raw))
        outcome = self.emulator._serve(request)
        if outcome is None:
            self.close_connection = True
        elif outcome.status >= 500:
            self._reply(outcome.status, None)
        else:
            wait = self.emulator.retry_after
            extra = {"Retry-After": str(wait)} if outcome.status == 429 and wait is not None else {}
            self._reply(outcome.status, outcome.answer, extra)

    def _reply(
        self, status: int, answer: dict[str, Any] | None, headers: Mapping[str, str] | None = None
    ) -> None:
        if answer is None:
            data, content_type = f"<html>{status}</html>".encode(), "text/html"
        else:
            data, content_type = json.dumps(answer).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
