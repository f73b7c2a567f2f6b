"""DingTalk (钉钉): custom robots (`robot`), the app robot's callback (`callback`), and the
app robot as a channel (`app`, platform `dingtalk_app`)."""

from __future__ import annotations

import httpx

from bot.platforms.dingtalk.app import TEXT_BUDGET as APP_TEXT_BUDGET
from bot.platforms.dingtalk.app import DingtalkAppChannel
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


def _build_app(spec: ChannelSpec, client: httpx.Client) -> DingtalkAppChannel:
    return DingtalkAppChannel(
        spec.name,
        spec.webhook,
        client,
        app_key=spec.app_id or "",
        app_secret=spec.secret or "",
        robot_code=spec.robot_code or "",
        conversation=spec.chat_id or "",
        template=spec.card_template or "",
        route_key=spec.route_key,
        timeout=spec.timeout,
    )


APP = Platform(
    name="dingtalk_app",
    build=_build_app,
    markups=("markdown",),
    budgets={"markdown": APP_TEXT_BUDGET},
    limits=(Limit(20, 60),),  # per group, as the custom robot's
    user_id="dingtalk_userid",
    needs=("webhook", "secret", "app_id", "chat_id", "robot_code", "card_template_id"),
    card_links=BUTTONS,  # its cards are the template's: `cards` changes nothing
)
