"""Feishu (飞书): custom bots (`robot`), the event subscription's callback (`callback`), and
the app as a channel (`app`, platform `feishu_app`)."""

from __future__ import annotations

import httpx

from bot.platforms.feishu.app import TEXT_BUDGET as APP_TEXT_BUDGET
from bot.platforms.feishu.app import FeishuAppChannel
from bot.platforms.feishu.cards import APP_ITEMS, BUTTONS
from bot.platforms.feishu.robot import TEXT_BUDGET, FeishuChannel
from bot.platforms.spec import ChannelSpec, Limit, Platform


def _build(spec: ChannelSpec, client: httpx.Client) -> FeishuChannel:
    return FeishuChannel(
        spec.name,
        spec.webhook,
        client,
        secret=spec.secret,
        timeout=spec.timeout,
        cards=spec.cards,
    )


PLATFORM = Platform(
    name="feishu",
    build=_build,
    markups=("text",),
    budgets={"text": TEXT_BUDGET},
    limits=(Limit(100, 60), Limit(5, 1)),
    user_id="feishu_open_id",
    inbound="feishu",
    inbound_needs=("verification_token",),
    answers_by_api=True,
    card_links=BUTTONS,
)


def _build_app(spec: ChannelSpec, client: httpx.Client) -> FeishuAppChannel:
    return FeishuAppChannel(
        spec.name,
        spec.webhook,
        client,
        app_id=spec.app_id or "",
        app_secret=spec.secret or "",
        chat_id=spec.chat_id or "",
        timeout=spec.timeout,
    )


APP = Platform(
    name="feishu_app",
    build=_build_app,
    markups=("text",),
    budgets={"text": APP_TEXT_BUDGET},
    limits=(Limit(5, 1),),  # per chat: Feishu's 5 a second to one group
    user_id="feishu_open_id",
    needs=("webhook", "secret", "app_id", "chat_id"),
    card_links=APP_ITEMS,
)
