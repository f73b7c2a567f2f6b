"""One record per platform: the budgets, limits and fields every part of duban uses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.platforms.formats import MessageFormat
from bot.platforms.registry import INBOUND, PLATFORMS, platform, sender_fields
from bot.platforms.spec import ChannelSpec
from bot.platforms.wecom.robot import WecomChannel

SPEC = ChannelSpec(
    "t", "https://robot.example/hook", "s3cret", "text", httpx.Timeout(1.0), Path("x")
)


@pytest.mark.parametrize(
    ("name", "markup"),
    [(n, m) for n, p in PLATFORMS.items() if not p.local for m in p.markups],
)
def test_the_splitter_and_the_robot_agree_on_each_platforms_budget(name: str, markup: str) -> None:
    found = PLATFORMS[name]
    assert MessageFormat(name, markup).max_bytes == found.budget(markup)
    if name == "wecom":  # the one robot that checks the text itself, before posting
        with httpx.Client() as client:
            channel = found.build(SPEC.__class__(**{**SPEC.__dict__, "markup": markup}), client)
        assert isinstance(channel, WecomChannel)
        assert channel.max_bytes == found.budget(markup)


def test_every_chat_platform_has_a_send_budget_and_a_mention_field_or_none() -> None:
    assert {n: p.limits[0].count for n, p in PLATFORMS.items() if p.limits} == {
        "wecom": 20,
        "wecom_app": 30,
        "dingtalk": 20,
        "dingtalk_app": 20,
        "feishu": 100,
        "feishu_app": 5,
    }
    assert {n: p.user_id for n, p in PLATFORMS.items() if p.user_id} == {
        "wecom": "wecom_userid",
        "wecom_app": "wecom_userid",
        "dingtalk": "dingtalk_userid",
        "dingtalk_app": "dingtalk_userid",
        "feishu": "feishu_open_id",
        "feishu_app": "feishu_open_id",  # the same people, reached through the app
    }


def test_a_callbacks_sender_is_found_by_its_platforms_field_or_any_for_the_generic_hook() -> None:
    assert sender_fields("wecom") == ("wecom_userid",)
    assert sender_fields("generic") == (
        "mobile",
        "wecom_userid",
        "dingtalk_userid",
        "feishu_open_id",
    )
    assert set(INBOUND) == {"wecom", "dingtalk", "feishu", "generic"}


def test_an_unknown_channel_is_shown_on_the_console() -> None:
    assert platform("nowhere").local
    assert platform("nowhere").name == "console"
