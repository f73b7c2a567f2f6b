"""DingTalk (钉钉): custom robots (`robot`) and the app robot's callback (`callback`)."""

from __future__ import annotations

import httpx

from bot.platforms.dingtalk.cards import BUTTONS
from bot.platforms.dingtalk.robot import TEXT_BUDGET, DingtalkChannel
from bot.platforms.spec import ChannelSpec, Limit, Platform


def _build(spec: ChannelSpec, client: httpx.Client) -> DingtalkChannel:
    return DingtalkChannel(
        spec.name,
        spec.webhook,
        client,
        secret=spec.secret,
        msgtype=spec.markup,
        timeout=spec.timeout,
        cards=spec.cards,
    )


PLATFORM = Platform(
    name="dingtalk",
    build=_build,
    markups=("markdown", "text"),
    budgets={"text": TEXT_BUDGET, "markdown": TEXT_BUDGET},
    limits=(Limit(20, 60),),
    user_id="dingtalk_userid",
    inbound="dingtalk",
    inbound_needs=("app_secret",),
    answers_by_api=True,
    card_links=BUTTONS,
    card_markup="markdown",
)
