"""WeCom (企业微信): group robots (`robot`) and the self-built app's callback (`callback`)."""

from __future__ import annotations

import httpx

from bot.platforms.spec import ChannelSpec, Limit, Platform
from bot.platforms.wecom.cards import ROWS
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
