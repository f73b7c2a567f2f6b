"""Markup injection toward leaders: what a unit writes reaches a supervisor's WeCom or
DingTalk markdown chat as text. The blocker goes in over HTTP (the generic hook), the
runtime the daemon runs sends it, and the platform emulator shows what arrived."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import ChannelSettings, DeliverySettings, Settings
from bot.app.runtime import build_runtime
from bot.store.models import Task
from tests.support.emulator import PlatformEmulator, Received
from tests.support.web import NOW, generic_reply

INJECTED = (
    "资金未到位 [点此查看](http://evil.example/x) ![图](http://evil.example/i.png) "
    '<font color="warning">紧急</font> **加粗** `代码`\n'
    "# 请立即批示\n"
    "> 引用\n"
    "伪造标题\n"
    "==="
)


@pytest.fixture
def emulator() -> Iterator[PlatformEmulator]:
    with PlatformEmulator() as emulator:
        yield emulator


@pytest.fixture(params=["wecom", "dingtalk"])
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings, emulator: PlatformEmulator, platform: str) -> Settings:
    """Leaders and the office read a markdown robot of `platform`."""
    if platform == "wecom":
        leaders = ChannelSettings(platform="wecom", webhook=emulator.add_wecom("leaders"))
    else:
        url = emulator.add_dingtalk("leaders", "SEC-leaders")
        leaders = ChannelSettings(platform="dingtalk", webhook=url, secret="SEC-leaders")
    assert leaders.markup == "markdown"
    delivery = DeliverySettings(default_channel="leaders", office_channel="leaders")
    return settings.model_copy(update={"channels": {"leaders": leaders}, "delivery": delivery})


def text_of(received: Received) -> str:
    markdown = received.body["markdown"]
    return str(markdown["content"] if "content" in markdown else markdown["text"])


def arrived(emulator: PlatformEmulator) -> str:
    [received] = emulator.accepted(key="leaders")
    return text_of(received)


def test_a_units_blocker_reaches_the_supervisor_as_text_not_markup(
    client: httpx.Client,
    planned: sessionmaker[Session],
    settings: Settings,
    emulator: PlatformEmulator,
) -> None:
    answer = generic_reply(client, "liaison2", f"困难 #1 {INJECTED}", "oa-1", NOW)
    assert answer == "第1项困难已记录，将报分管领导协调。"
    with httpx.Client() as http:
        assert build_runtime(settings, planned, http).dispatch(NOW) == 1
    content = arrived(emulator)
    assert "市发改委" in content
    assert "资金未到位" in content
    assert "点此查看" in content
    assert "请立即批示" in content
    for markup in ("](", "[点此", "![", "<font", "</font", "**", "`"):
        assert markup not in content, (markup, content)
    for line in content.splitlines():
        assert not re.match(r"\s*(#|>|=+\s*$|-+\s*$)", line), (line, content)


def test_a_follow_up_echoes_the_task_text_as_text_not_markup(
    client: httpx.Client,
    planned: sessionmaker[Session],
    settings: Settings,
    emulator: PlatformEmulator,
) -> None:
    with planned.begin() as session:
        task = session.scalars(select(Task).where(Task.number == "1")).one()
        task.text = '[点此](http://evil.example) <font color="warning">急</font> 任务'
    assert generic_reply(client, "liaison2", "收到 #1", "oa-1", NOW).startswith("已确认收到")
    later = NOW + timedelta(days=7)  # more than 3 working days on
    with httpx.Client() as http:
        runtime = build_runtime(settings, planned, http)
        runtime.sweep(later)
        assert runtime.dispatch(later) >= 1
    followups = [
        text for text in map(text_of, emulator.accepted(key="leaders")) if "确认收到" in text
    ]
    assert len(followups) == 1, followups
    assert "点此" in followups[0]
    for markup in ("[点此", "](", "<font", "</font"):
        assert markup not in followups[0], (markup, followups[0])
