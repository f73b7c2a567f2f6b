"""Taps on the apps' card buttons: kept, acted on and answered within the request.

A tap is an `InboundMessage` whose text is the reply it stands for (「收到 #12」,
bot/platforms/buttons.py), verified like any callback of its platform, and goes through the
same keep → identity → keywords → apply as a typed reply. The platforms want the card's new
state in the response (Feishu within 3 s, WeCom's passive reply, DingTalk's callback
answer), so the work is done before answering — a few milliseconds, as for WeCom's
messages. A repeated tap event (the platform's retry, a replayed request) is kept once and
changes nothing: it gets the first answer, and the card is left as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NamedTuple

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from bot.app.errors import NoSuchHook
from bot.platforms.dingtalk import callback as dingtalk
from bot.platforms.dingtalk import cards as dingtalk_cards
from bot.platforms.inbound import InboundMessage
from bot.web.context import WebContext


class Answer(NamedTuple):
    reply: str  # duban's answer, as a typed reply would get it
    recorded: bool  # whether the tap changed anything (then the card shows it)


async def answer_tap(
    ctx: WebContext, source: str, message: InboundMessage, now: datetime
) -> Answer:
    answered = await ctx.answer_now(source, message, now)
    return Answer(answered.reply or "", answered.changed)


def add_cards(app: FastAPI, ctx: WebContext, body: Callable[[Request], Awaitable[bytes]]) -> None:
    """The routes of taps that do not come through a platform's message hook: DingTalk's
    card callback, at /hooks/dingtalk/NAME/card (NAME: its `[inbound.NAME]`)."""

    async def dingtalk_tap(request: Request) -> Response:
        name = request.path_params["name"]
        config = ctx.inbound(name, "dingtalk")
        if config is None:
            raise NoSuchHook(f"no dingtalk hook named {name!r}")
        raw = await body(request)
        now = ctx.clock()
        headers = request.headers
        timestamp, sign = dingtalk.verify(
            config.app_secret or "", headers.get("timestamp"), headers.get("sign"), now
        )
        message, _tap = dingtalk_cards.parse_tap(raw, corp_id=config.corp_id)
        # The sign covers no body: good for this tap only, until its timestamp is stale.
        until = dingtalk.signed_until(timestamp)
        ctx.signatures.admit((name, timestamp, sign), message.event_id, until, now)
        answer = await answer_tap(ctx, name, message, now)
        return JSONResponse(dingtalk_cards.tap_answer(*answer))

    app.add_route("/hooks/dingtalk/{name}/card", dingtalk_tap, methods=["POST"])
