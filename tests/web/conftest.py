"""The web app served for real: uvicorn on a free port of 127.0.0.1, the database of the
`sessions` fixture (both backends) holding the sample plan, a fixed clock, a sink standing
in for DingTalk's session webhook and a fake Feishu API."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import DirectorySettings, Settings
from bot.intake.directory import load_directory
from bot.web.context import WebContext
from bot.web.serve import make_server
from tests.support.processes import free_port
from tests.support.snapshot import Snapshot
from tests.support.web import (
    HOOKS,
    Clock,
    FakeFeishuApi,
    Sink,
    answering_to,
    import_cut_plan,
    write_directory,
)


@pytest.fixture
def sink() -> Iterator[Sink]:
    sink = Sink()
    sink.thread.start()
    yield sink
    sink.gate.set()
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def directory_file(tmp_path: Path) -> Path:
    return write_directory(tmp_path)


@pytest.fixture
def settings(directory_file: Path, monkeypatch: pytest.MonkeyPatch, sink: Sink) -> Settings:
    for name in list(os.environ):
        if name.upper().startswith("DUBAN_"):
            monkeypatch.delenv(name)
    inbound = answering_to(sink, HOOKS)
    return Settings(directory=DirectorySettings(path=directory_file), inbound=inbound)


@pytest.fixture
def planned(
    engine: Engine,
    sessions: sessionmaker[Session],
    directory_file: Path,
    tmp_path: Path,
    snapshots: dict[tuple[str, str], Snapshot],
) -> sessionmaker[Session]:
    """The database of the `sessions` fixture, holding (part of) the sample plan. Tests of
    what is refused before anything is kept go without: importing is what takes time (and
    so it happens once per backend, later tests getting its rows: see import_cut_plan)."""
    import_cut_plan(engine, sessions, tmp_path, load_directory(directory_file), snapshots)
    return sessions


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def feishu_api() -> FakeFeishuApi:
    return FakeFeishuApi()


@pytest.fixture
def ctx(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    feishu_api: FakeFeishuApi,
) -> Iterator[WebContext]:
    context = WebContext(  # its answers go through the daemon's client, to local sinks
        settings, sessions, clock=clock, feishu_api=lambda config, client: feishu_api
    )
    yield context
    context.http.close()


@pytest.fixture(scope="session")
def stopping() -> Iterator[list[threading.Thread]]:
    """Servers told to stop. Uvicorn takes a fifth of a second to wind down; they do so
    while the next tests run, and are all joined at the end."""
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "a server did not stop"


@pytest.fixture
def client(ctx: WebContext, stopping: list[threading.Thread]) -> Iterator[httpx.Client]:
    """An HTTP client of the app, served by uvicorn until the test ends."""
    port = free_port()
    server = make_server(ctx, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0)
    deadline = time.monotonic() + 10
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield client
    client.close()
    server.should_exit = True
    stopping.append(thread)
