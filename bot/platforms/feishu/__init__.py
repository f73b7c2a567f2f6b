"""Feishu (飞书): custom bots (`robot`) and the event subscription's callback (`callback`)."""

from __future__ import annotations

import httpx

from bot.platforms.feishu.cards import BUTTONS
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
