"""The web app: the chat platforms' reply callbacks, health and metrics, the dashboard.

Every callback goes: verify (signature, freshness, receiver) → dedupe on the platform's
message id and persist the raw event → acknowledge within the platform's deadline → act on
it → answer in the conversation. WeCom and the generic hook answer inside the response (the
work is a few milliseconds; WeCom allows 5 s), DingTalk and Feishu after it, from a
background thread (bot/web/workers.py). A tap on an app card's button is answered inside
the response on every platform, so that the card changes at once (bot/web/cards.py). A
refused request changes nothing but a counter; no input gives a 500.
"""

from __future__ import annotations

import gc
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from bot.app.config import InboundSettings
from bot.app.errors import NoSuchHook, Rejected, TooLarge
from bot.platforms.buttons import DONE
from bot.platforms.dingtalk import callback as dingtalk
from bot.platforms.feishu import callback as feishu
from bot.platforms.feishu import cards as feishu_cards
from bot.platforms.generic import callback as generic
from bot.platforms.inbound import InboundMessage
from bot.platforms.registry import INBOUND
from bot.platforms.wecom.callback import WecomCrypto
from bot.platforms.wecom.callback import tap_in as wecom_tap
from bot.web.cards import add_cards, answer_tap
from bot.web.context import WebContext
from bot.web.dashboard import add_dashboard
from bot.web.observability import add_observability
from bot.web.report import add_report
from bot.web.review import add_review

log = logging.getLogger("duban.web")
EMPTY_JSON = Response(b"{}", media_type="application/json")
Endpoint = Callable[[Request], Awaitable[Response]]


class DubanApp(FastAPI):
    """FastAPI, with the chat platforms' hooks served ahead of its middleware: a POST to
    /hooks/{platform}/{name} goes straight to its endpoint (`hooks`), a refusal through the
    app's own exception handlers, as the middleware would. On the acknowledgement path the
    stack of middleware (telemetry, body limits, exception and exit-stack layers, routing)
    cost a third of the web thread's time; the hooks use none of it. Anything else, and a
    hook's path with another method or a root path, goes through FastAPI."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hooks: dict[str, Endpoint] = {}  # platform → its POST endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            parts = scope["path"].split("/")
            if len(parts) == 4 and parts[1] == "hooks" and parts[3] and parts[2] in self.hooks:
                scope["app"], scope["path_params"] = self, {"name": parts[3]}
                await self._hook(self.hooks[parts[2]], scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _hook(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handlers = self.exception_handlers
            handler = next(handlers[kind] for kind in type(exc).__mro__ if kind in handlers)
            answer = handler(request, exc)  # the app's are coroutines (`_errors`)
            await (await answer if inspect.isawaitable(answer) else answer)(scope, receive, send)
            if handler is handlers[Exception]:
                raise  # as Starlette's ServerErrorMiddleware: the server logs the traceback
            return
        await response(scope, receive, send)


def create_app(ctx: WebContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.start()
        # What is loaded by now (code, settings, the ORM's mappers) lives as long as the
        # process: out of the collector's sight, its full collections stay short.
        gc.freeze()
        try:
            yield
        finally:
            await run_in_threadpool(ctx.stop)

    app = DubanApp(
        title="duban", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.ctx = ctx
    _errors(app, ctx)

    _hooks(app, ctx)
    add_cards(app, ctx, lambda request: _body(request, ctx.settings.web.max_body))
    add_observability(app, ctx)
    add_dashboard(app, ctx)
    add_report(app, ctx)
    add_review(app, ctx)
    return app


def _hooks(app: DubanApp, ctx: WebContext) -> None:
    """The hooks are plain endpoints answering bytes, served ahead of FastAPI's middleware
    (`DubanApp`): its parameter and response machinery cost as much again as the work
    itself on the acknowledgement path. They are routes as well (what the app lists)."""

    async def wecom_verify(request: Request) -> Response:
        config = _hook(ctx, request.path_params["name"], "wecom")
        query = request.query_params
        signature, timestamp, nonce, echostr = (
            _param(query.get(key), key)
            for key in ("msg_signature", "timestamp", "nonce", "echostr")
        )
        plain = _crypto(config).verify_url(signature, timestamp, nonce, echostr)
        ctx.count("wecom", "verified")
        return PlainTextResponse(plain)

    async def arrival(request: Request, platform: str) -> Arrival:
        """The hook's name and settings, and the request's body (404 and 413 first)."""
        name = request.path_params["name"]
        config = _hook(ctx, name, platform)
        return Arrival(name, config, await _body(request, ctx.settings.web.max_body))

    async def wecom_message(request: Request) -> Response:
        name, config, body = await arrival(request, "wecom")
        query = request.query_params
        signature, timestamp, nonce = (
            _param(query.get(key), key) for key in ("msg_signature", "timestamp", "nonce")
        )
        if not (nonce.isascii() and nonce.isprintable()):  # the passive reply echoes it
            raise Rejected(400, "nonce is not printable ASCII")
        now = ctx.clock()
        crypto = _crypto(config)
        message = crypto.parse_callback(signature, timestamp, nonce, body, now=now)
        own = str(message.raw.get("ToUserName") or config.corp_id or "")
        tap = wecom_tap(message.raw)
        if tap is not None:  # recorded: the button says so; else the answer, as text
            answer = await answer_tap(ctx, name, message, now)
            if answer.recorded:
                xml = crypto.passive_button(
                    message.sender, own, DONE[tap.command], timestamp, nonce
                )
                return Response(xml, media_type="application/xml")
            reply: str | None = answer.reply or None
        else:
            reply = (await ctx.answer_now(name, message, now)).reply
        if reply is None:
            return Response(status_code=200)  # an empty answer: nothing more to say
        xml = crypto.passive_reply(message.sender, own, reply, timestamp, nonce)
        return Response(xml, media_type="application/xml")

    async def dingtalk_message(request: Request) -> Response:
        name, config, body = await arrival(request, "dingtalk")
        now = ctx.clock()
        headers = request.headers
        timestamp, sign = dingtalk.verify(
            config.app_secret or "", headers.get("timestamp"), headers.get("sign"), now
        )
        message = dingtalk.parse_callback(
            body,
            corp_id=config.corp_id,
            robot_code=config.robot_code,
            signature=f"{timestamp}:{sign}",
        )
        until = dingtalk.signed_until(timestamp)
        ctx.signatures.admit((name, timestamp, sign), message.event_id, until, now)
        await _accept_later(ctx, name, message, now)
        return EMPTY_JSON

    async def feishu_event(request: Request) -> Response:
        name, config, body = await arrival(request, "feishu")
        now = ctx.clock()
        result = feishu.parse_callback(
            body,
            encrypt_key=config.encrypt_key,
            verification_token=config.verification_token,
            headers=request.headers,
            now=now,
        )
        if isinstance(result, feishu.Challenge):
            ctx.count("feishu", "verified")
            return JSONResponse({"challenge": result.challenge})
        if isinstance(result, feishu.Ignored):
            ctx.count("feishu", "ignored")
            return EMPTY_JSON
        if isinstance(result, feishu.Click):  # answered within Feishu's 3 s, with the card
            answer = await answer_tap(ctx, name, result.message, now)
            return JSONResponse(feishu_cards.tap_answer(result.tap, *answer))
        await _accept_later(ctx, name, result, now)
        return EMPTY_JSON

    async def generic_message(request: Request) -> Response:
        name, config, body = await arrival(request, "generic")
        now = ctx.clock()
        message = generic.parse_callback(body, request.headers, config.secret or "", now)
        answered = await ctx.answer_now(name, message, now)
        return JSONResponse({"ok": True, "duplicate": answered.duplicate, "reply": answered.reply})

    app.add_route("/hooks/wecom/{name}", wecom_verify, methods=["GET"])
    app.hooks.update(
        wecom=wecom_message,
        dingtalk=dingtalk_message,
        feishu=feishu_event,
        generic=generic_message,
    )
    for platform, endpoint in app.hooks.items():
        app.add_route(f"/hooks/{platform}/{{name}}", endpoint, methods=["POST"])


async def _accept_later(
    ctx: WebContext, source: str, message: InboundMessage, now: datetime
) -> None:
    """DingTalk and Feishu: keep it and acknowledge; act and answer after the response."""
    new = await ctx.keep(source, message, now)
    if new is None:
        ctx.count(message.platform, "duplicate")
        return
    ctx.count(message.platform, "accepted")
    ctx.act_later(new)


class Arrival(NamedTuple):
    name: str
    config: InboundSettings
    body: bytes


def _hook(ctx: WebContext, name: str, platform: str) -> InboundSettings:
    config = ctx.inbound(name, platform)
    if config is None:
        raise NoSuchHook(f"no {platform} hook named {name!r}")
    return config


def _crypto(config: InboundSettings) -> WecomCrypto:
    return WecomCrypto(config.token or "", config.encoding_aes_key or "", config.corp_id or "")


def _param(value: str | None, key: str) -> str:
    if not value:
        raise Rejected(400, f"query parameter {key} is missing")
    return value


async def _body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body over {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"body over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # Gone before the body ended (or cut off as too slow, bot/web/timeouts.py): nobody
        # reads the answer; one line, no traceback.
        log.info("%s %s: the client left before its body ended", request.method, request.url.path)
        raise Rejected(400, "the body ended early") from None
    return b"".join(chunks)


def _platform(request: Request) -> str:
    """The metric label of a refused request: one of a fixed few, whatever the path says
    (anyone can ask for /hooks/anything; each new label would be a new series)."""
    parts = request.url.path.split("/")
    if len(parts) < 3 or parts[1] != "hooks":
        return "web"
    return parts[2] if parts[2] in INBOUND else "unknown"


def _errors(app: FastAPI, ctx: WebContext) -> None:
    """Every refusal is a short JSON answer with its status; nothing shows a traceback."""

    def answer(status: int, outcome: str) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            if isinstance(exc, Rejected):
                code, reason = exc.status, exc.reason
            elif isinstance(exc, StarletteHTTPException):
                code, reason = exc.status_code, str(exc.detail)
            else:
                code, reason = status, str(exc) if status < 500 else "internal error"
            ctx.count(_platform(request), f"{outcome}_{code}")
            if code >= 500:
                log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
            return JSONResponse({"error": reason}, status_code=code)

        return handler

    app.add_exception_handler(Rejected, answer(400, "rejected"))
    app.add_exception_handler(TooLarge, answer(413, "rejected"))
    app.add_exception_handler(NoSuchHook, answer(404, "rejected"))
    app.add_exception_handler(RequestValidationError, answer(400, "rejected"))
    app.add_exception_handler(StarletteHTTPException, answer(404, "rejected"))
    # The database is down or busy: the platform retries later; the body was fine.
    app.add_exception_handler(SQLAlchemyError, answer(503, "unavailable"))
    app.add_exception_handler(Exception, answer(500, "failed"))
