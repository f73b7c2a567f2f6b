"""WeCom (企业微信): group robots (`robot`), the self-built app's callback (`callback`), and
the app as a channel (`app`, platform `wecom_app`)."""

from __future__ import annotations

import httpx

from bot.platforms.spec import ChannelSpec, Limit, Platform
from bot.platforms.wecom.app import TEXT_BUDGET as APP_TEXT_BUDGET
from bot.platforms.wecom.app import WecomAppChannel
from bot.platforms.wecom.cards import APP_ITEMS, ROWS
from bot.platforms.wecom.robot import MARKDOWN_LIMIT, TEXT_LIMIT, WecomChannel


def _build(spec: ChannelSpec, client: httpx.Client) -> WecomChannel:
    return WecomChannel(
        spec.name,
        spec.webhook,
        client,
        msgtype=spec.markup,
        timeout=spec.timeout,
        cards=spec.cards,
    )


PLATFORM = Platform(
    name="wecom",
    build=_build,
    markups=("markdown", "text"),
    budgets={"text": TEXT_LIMIT, "markdown": MARKDOWN_LIMIT},
    limits=(Limit(20, 60),),
    user_id="wecom_userid",
    mentions_in_text=frozenset({"markdown"}),
    inbound="wecom",
    inbound_needs=("token", "encoding_aes_key", "corp_id"),
    card_links=ROWS,
)


def _build_app(spec: ChannelSpec, client: httpx.Client) -> WecomAppChannel:
    return WecomAppChannel(
        spec.name,
        spec.webhook,
        client,
        corp_id=spec.corp_id or "",
        agent_id=spec.agent_id or 0,
        secret=spec.secret or "",
        timeout=spec.timeout,
    )


APP = Platform(
    name="wecom_app",
    build=_build_app,
    markups=("text",),
    budgets={"text": APP_TEXT_BUDGET},
    limits=(Limit(30, 60),),  # to one person: WeCom's 30 a minute
    user_id="wecom_userid",
    needs=("webhook", "secret", "corp_id", "agent_id"),
    card_links=APP_ITEMS,
)
