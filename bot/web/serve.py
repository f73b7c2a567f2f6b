"""Serving the web app with uvicorn: alone (`duban serve`) or beside the scheduler."""

from __future__ import annotations

import socket
import threading

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.errors import DubanError
from bot.web.app import create_app
from bot.web.context import WebContext
from bot.web.timeouts import timed_protocol


def web_context(settings: Settings, sessions: sessionmaker[Session]) -> WebContext:
    return WebContext(settings, sessions)


def make_server(ctx: WebContext, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the app; the address is checked first, so that a port in use is
    one clear line rather than uvicorn's exit."""
    _check_address(host, port)
    web = ctx.settings.web
    config = uvicorn.Config(
        create_app(ctx),
        host=host,
        port=port,
        http=timed_protocol(web.header_seconds, web.body_seconds),
        limit_concurrency=web.max_connections,
        timeout_keep_alive=web.keep_alive_seconds,
        # Uvicorn's own lines go to the root logger: its format and its redaction.
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def start_server(server: uvicorn.Server) -> threading.Thread:
    """Serves in a thread of its own (uvicorn leaves signals to the main thread then);
    `stop_server` ends it."""
    thread = threading.Thread(target=server.run, name="duban-web", daemon=True)
    thread.start()
    return thread


def stop_server(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)


def _check_address(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise DubanError(f"无法在 {host}:{port} 上提供服务：{exc.strerror or exc}") from None
