"""What an audit found at the edge, over real HTTP: numbers no database keeps, clients that
leave mid-body, uvicorn's own log lines."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.logs import setup_logging
from tests.support.logs import root_logging_restored
from tests.support.web import NOW, generic_headers, generic_reply, inbound_events


def connect(client: httpx.Client) -> socket.socket:
    url = httpx.URL(str(client.base_url))
    assert url.port is not None
    return socket.create_connection((url.host, url.port), timeout=5)


def counted(client: httpx.Client, platform: str, outcome: str) -> float:
    wanted = f'duban_inbound_requests_total{{outcome="{outcome}",platform="{platform}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(wanted):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("number", ["1e999999", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_a_number_no_database_keeps_is_refused_at_parse(
    client: httpx.Client, planned: sessionmaker[Session], number: str
) -> None:
    fields = '"sender": "liaison2", "text": "收到 #1", "message_id": "oa-1"'
    body = f'{{{fields}, "extra": {number}}}'.encode()
    response = client.post("/hooks/generic/oa", content=body, headers=generic_headers(body, NOW))
    assert response.status_code == 400
    assert response.json() == {"error": "body is not JSON"}
    assert inbound_events(planned) == []
    assert generic_reply(client, "liaison2", "收到 #1", "oa-2", NOW).startswith("已确认收到第1项")


def test_a_client_leaving_mid_body_is_one_log_line_and_no_500(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    failed = counted(client, "generic", "failed_500")
    rejected = counted(client, "generic", "rejected_400")
    caplog.set_level(logging.INFO)
    with connect(client) as sock:
        sock.sendall(
            b"POST /hooks/generic/oa HTTP/1.1\r\nHost: duban\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            b'{"sender": "liai'
        )
        time.sleep(0.2)
    deadline = time.monotonic() + 5
    while counted(client, "generic", "rejected_400") == rejected:
        assert time.monotonic() < deadline, "the server did not notice the client leave"
        time.sleep(0.05)
    assert counted(client, "generic", "failed_500") == failed
    assert any("left before its body ended" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.fixture
def json_logs(settings: Settings) -> Iterator[io.StringIO]:
    """The process logs JSON lines (as under `[log] format = "json"`) into a buffer."""
    with root_logging_restored():
        stream = io.StringIO()
        json_settings = {**settings.model_dump(), "log": {"format": "json"}}
        setup_logging(Settings.model_validate(json_settings), stream=stream)
        yield stream


def test_uvicorns_own_lines_are_json_lines(client: httpx.Client, json_logs: io.StringIO) -> None:
    with connect(client) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.settimeout(2)
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    deadline = time.monotonic() + 5
    while "uvicorn" not in json_logs.getvalue():
        assert time.monotonic() < deadline, "uvicorn's line did not reach duban's handler"
        time.sleep(0.05)
    entries = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert any(e["logger"].startswith("uvicorn") and e["level"] == "WARNING" for e in entries)
