"""Slow clients are cut off: uvicorn's HTTP protocol with a deadline on reading a request.

Uvicorn times out an idle keep-alive connection, but not a request that is being sent: a
client that sends half its headers (or its body a byte a minute) holds a connection and a
file descriptor for ever, and a few hundred of them starve the process. Here a request's
headers must arrive within `header_seconds` of its first byte (or of the connection), and
its body within `body_seconds` of the headers; then the connection is closed. The app sees
a closed connection as the client going away (bot/web/app.py answers nothing, logs a line).
Headers are also limited to `max_header_bytes`.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("duban.web")


class TimedProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with read deadlines; `timed_protocol` sets the figures."""

    header_seconds: float = 10.0
    body_seconds: float = 30.0
    max_header_bytes: int = 65536

    _due: float | None = None  # loop time by which the part being read must have arrived
    _what = ""  # that part: "headers" or "body"
    _timer: asyncio.TimerHandle | None = None
    _timer_at = 0.0
    _header_bytes: int = 0
    _reading_body: bool = False
    _headers_ended: bool = False  # in the read being parsed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        in_headers = idle and not self._reading_body
        if in_headers and self._due is None:
            # The first bytes of a new request (after a keep-alive pause, uvicorn's own
            # timer is off now): its headers are due in time.
            self._arm(self.header_seconds, "headers")
        self._headers_ended = False
        super().data_received(data)
        # Only bytes of headers that have not ended count: one read often holds the headers
        # and much of the body (a large body's first read is no header flood).
        if in_headers and not self._headers_ended:
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._close("headers over the size limit")

    def on_headers_complete(self) -> None:
        self._header_bytes, self._reading_body, self._headers_ended = 0, True, True
        self._arm(self.body_seconds, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_body = False
        super().on_message_complete()

    def _arm(self, seconds: float, what: str) -> None:
        """`what` is due within `seconds`. A connection has one timer, moved only to an
        earlier deadline: one that fires early is set again for the deadline then (two
        timers made and cancelled a request cost 5 µs of the hooks' 0.2 ms on uvloop)."""
        self._due, self._what = self.loop.time() + seconds, what
        if self._timer is None or self._due < self._timer_at:
            self._set_timer(self._due)

    def _disarm(self) -> None:
        self._due = None

    def _set_timer(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = self.loop.call_at(when, self._expired), when

    def _expired(self) -> None:
        self._timer = None
        if self._due is None:
            return
        if self._due > self.loop.time():
            self._set_timer(self._due)
        else:
            self._close(f"{self._what} not sent in time")

    def _close(self, reason: str) -> None:
        self._due = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            # DEBUG: a flood of slow clients must not become a flood of log lines.
            log.debug("connection from %s closed: %s", client, reason)
            self.transport.close()


def timed_protocol(
    header_seconds: float, body_seconds: float, max_header_bytes: int = 65536
) -> type[TimedProtocol]:
    """The protocol class for uvicorn's `http=`, with these deadlines."""
    return type(
        "TimedProtocol",
        (TimedProtocol,),
        {
            "header_seconds": header_seconds,
            "body_seconds": body_seconds,
            "max_header_bytes": max_header_bytes,
        },
    )
