"""Slow clients over real sockets: half-sent requests are closed by the server in time, the
concurrency limit answers 503 rather than running out of descriptors, and /healthz answers
again once they are gone."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.app.config import Settings, WebSettings

pytestmark = pytest.mark.slow  # the real clock: the server's deadlines pass

HALF_HEADERS = b"POST /hooks/generic/oa HTTP/1.1\r\nHost: duban\r\nContent-Ty"
HALF_BODY = (
    b"POST /hooks/generic/oa HTTP/1.1\r\nHost: duban\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"sender": '
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # max_body over the large body below: the server reads all of it before answering (a
    # server that answers 413 and closes with the body unread resets the connection, and the
    # client's kernel may drop the answer it had not read yet).
    web = WebSettings(header_seconds=1.0, body_seconds=1.0, max_connections=100, max_body=200_000)
    return settings.model_copy(update={"web": web})


def connect(client: httpx.Client) -> socket.socket:
    url = httpx.URL(str(client.base_url))
    assert url.port is not None
    return socket.create_connection((url.host, url.port), timeout=5)


def read_to_close(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (TimeoutError if it does not)."""
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    return answer


@pytest.fixture
def half_sent(client: httpx.Client) -> Iterator[list[socket.socket]]:
    """150 connections that stopped in their headers and 150 in their bodies."""
    sockets = []
    for n in range(300):
        sock = connect(client)
        sock.sendall(HALF_HEADERS if n % 2 else HALF_BODY)
        sockets.append(sock)
    yield sockets
    for sock in sockets:
        sock.close()


def test_half_sent_requests_are_closed_and_healthz_answers_again(
    client: httpx.Client, half_sent: list[socket.socket]
) -> None:
    # Over the limit of 100 connections: refused with 503, not left to exhaust the process.
    assert client.get("/healthz").status_code == 503
    time.sleep(1.5)
    for sock in half_sent:
        sock.settimeout(2)
        assert read_to_close(sock).count(b"HTTP/1.1") <= 1  # a 503 at most, then closed
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_request_sent_in_time_is_answered(client: httpx.Client) -> None:
    with connect(client) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: duban\r\n")
        time.sleep(0.5)
        sock.sendall(b"Connection: close\r\n\r\n")
        sock.settimeout(2)
        answer = read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 200")


def test_oversized_headers_close_the_connection(client: httpx.Client) -> None:
    with connect(client) as sock:
        sock.settimeout(2)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: duban\r\n")
            for _ in range(100):
                sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
            answer = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
    assert answer == b""
    assert client.get("/healthz").status_code == 200


def test_a_large_body_sent_with_its_headers_in_one_write_is_answered(client: httpx.Client) -> None:
    """One read can hold the headers and much of the body: only headers count toward their
    limit (a 100 kB body arriving with its headers got the connection closed unanswered). The
    unsigned request is refused, but answered."""
    body = b'{"text": "' + b"a" * 100_000 + b'"}'
    head = (
        b"POST /hooks/generic/oa HTTP/1.1\r\nHost: duban\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(client) as sock:
        sock.settimeout(2)
        sock.sendall(head + body)
        answer = read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 401")


def test_a_kept_alive_connections_next_request_has_its_own_deadline(client: httpx.Client) -> None:
    """One timer a connection, moved as requests come: a request answered in time leaves
    the next one on the same connection its full time, and no more."""
    with connect(client) as sock:
        sock.settimeout(2)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: duban\r\n")
        time.sleep(0.6)  # most of the first request's time
        sock.sendall(b"\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.6)  # the first request's deadline has passed by now: not this one's
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: duban\r\n")
        started = time.monotonic()
        assert read_to_close(sock) == b""
        waited = time.monotonic() - started
    assert 0.8 < waited < 1.8
