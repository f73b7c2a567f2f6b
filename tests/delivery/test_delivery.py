"""Delivery end to end: the sweep and the dispatcher against real robots on a local emulator.

Every channel here is the real one (WeCom, signed DingTalk, signed Feishu, the generic signed
webhook) posting over HTTP to `tests.support.emulator.PlatformEmulator`, whose virtual clock is kept
equal to the `now` the dispatcher is given: rate windows, penalties and signature freshness
are judged on one timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from bot.delivery import outbox
from bot.delivery.compose import Composer
from bot.delivery.failures import RETRY_AFTER
from bot.delivery.splitting import utf8_len
from bot.domain.calendar import WorkCalendar
from bot.domain.rules import default_rules
from bot.intake.importing import import_file
from bot.platforms import Channel, Outgoing, Receipt
from bot.platforms.dingtalk.robot import DingtalkChannel
from bot.platforms.feishu.robot import FeishuChannel
from bot.platforms.formats import Formats, MessageFormat
from bot.platforms.generic.robot import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    verify_webhook,
)
from bot.platforms.wecom import robot as wecom_module
from bot.platforms.wecom.robot import MARKDOWN_LIMIT, WecomChannel
from bot.store.models import Message, RateBucket
from tests.support.cli import make_duban, succeeds
from tests.support.emulator import FaultKind, PlatformEmulator, Received, VirtualClock
from tests.support.engine import TZ, local, writer_sessions
from tests.support.factories import make_directory, write_plan

pytestmark = pytest.mark.slow  # HTTP to the platform emulator; timeouts on the real clock

URGE_DAY = local("2020-09-25T09:00")  # the monthly report's due day: every unit is urged
NOW = local("2020-10-12T10:00").astimezone(UTC)  # a Monday morning, inside the send window
TIMEOUT = httpx.Timeout(1.0)  # the emulator's "slow" answer (3 s) outlasts it
SLOW_SECONDS = 3.0

WECOM_KEY = "jjw-key-7f3a"
STALE_KEY = "stale-key-0c1d"  # never registered: the platform answers 93000
OFFICE_KEY = "office-key-91be"
DINGTALK_TOKEN = "fgw-token"
DINGTALK_SECRET = "SECfgw0123456789abcdef"
FEISHU_TOKEN = "czj-token"
FEISHU_SECRET = "czj-secret"
HOOK_NAME = "oa"
HOOK_SECRET = "oa-shared-secret"

PLATFORMS = {
    "jjw": "wecom",
    "stale": "wecom",
    "office": "wecom",
    "fgw": "dingtalk",
    "czj": "feishu",
    "oa": "webhook",
}
MARKUPS = {"wecom": "markdown", "dingtalk": "markdown", "feishu": "text", "webhook": "text"}

DIRECTORY: dict[str, Any] = {
    "units": {
        "市住建局": {
            "channel": "jjw",
            "supervisor": "赵华",
            "contacts": [
                {
                    "name": "联络员",
                    "mobile": "13800000001",
                    "wecom_userid": "zhangsan",
                    "dingtalk_userid": "ding-zhang",
                }
            ],
        },
        "市发改委": {
            "channel": "fgw",
            "supervisor": "李明",
            "contacts": [
                {
                    "name": "联络员",
                    "mobile": "13800000002",
                    "dingtalk_userid": "ding-li",
                    "wecom_userid": "lisi",
                }
            ],
        },
        "市财政局": {
            "channel": "czj",
            "supervisor": "李明",
            "contacts": [{"name": "联络员", "mobile": "13800000003", "feishu_open_id": "ou_wang"}],
        },
        "市府办": {
            "channel": "oa",
            "supervisor": "李明",
            "contacts": [{"name": "联络员", "mobile": "13800000004"}],
        },
    },
    "supervisors": {"赵华": {"title": "副市长"}, "李明": {"title": "常务副市长"}},
}
ONE_TASK_EACH = """
    2020年重点工作任务责任分解
    1.新增公共停车位 1000 个。
    责任单位:市住建局
    2.建设小干岛中央商务区。
    责任单位:市发改委
    3.推进财政资金直达基层。
    责任单位:市财政局
    4.推进政务公开。
    责任单位:市府办
"""
BIG_BUNDLE_TASKS = 45


@dataclass
class Robots:
    """A runtime whose channels post to the emulator; `dispatch` keeps both clocks equal."""

    runtime: Runtime
    emu: PlatformEmulator
    clock: VirtualClock
    sessions: sessionmaker[Session]
    requests: list[httpx.Request] = field(default_factory=list)

    def dispatch(self, at: datetime) -> int:
        self.clock.set(at.timestamp())
        return self.runtime.dispatcher().dispatch_all(at)

    def sweep(self, at: datetime) -> int:
        self.clock.set(at.timestamp())
        return self.runtime.sweep(at).messages

    def add_channel(self, name: str, platform: str, channel: Channel) -> None:
        self.runtime.channels[name] = channel
        self.runtime.platforms[name] = platform


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW.timestamp())


@pytest.fixture
def emu(clock: VirtualClock) -> Iterator[PlatformEmulator]:
    with PlatformEmulator(clock=clock, slow_seconds=SLOW_SECONDS) as emulator:
        yield emulator


@pytest.fixture
def robots(engine: Engine, emu: PlatformEmulator, clock: VirtualClock) -> Iterator[Robots]:
    requests: list[httpx.Request] = []
    with httpx.Client(timeout=TIMEOUT, event_hooks={"request": [requests.append]}) as http:
        channels: dict[str, Channel] = {
            "jjw": WecomChannel("jjw", emu.add_wecom(WECOM_KEY), http, timeout=TIMEOUT),
            "stale": WecomChannel("stale", emu.wecom_url(STALE_KEY), http, timeout=TIMEOUT),
            "office": WecomChannel("office", emu.add_wecom(OFFICE_KEY), http, timeout=TIMEOUT),
            "fgw": DingtalkChannel(
                "fgw",
                emu.add_dingtalk(DINGTALK_TOKEN, DINGTALK_SECRET),
                http,
                secret=DINGTALK_SECRET,
                now=clock,
                timeout=TIMEOUT,
            ),
            "czj": FeishuChannel(
                "czj",
                emu.add_feishu(FEISHU_TOKEN, FEISHU_SECRET),
                http,
                secret=FEISHU_SECRET,
                now=clock,
                timeout=TIMEOUT,
            ),
            "oa": WebhookChannel(
                "oa",
                emu.add_webhook(HOOK_NAME, HOOK_SECRET),
                http,
                secret=HOOK_SECRET,
                now=clock,
                timeout=TIMEOUT,
            ),
        }
        formats = Formats(
            {name: MessageFormat(p, MARKUPS[p]) for name, p in PLATFORMS.items()},
            "office",
            "office",
        )
        runtime = Runtime(
            sessions=writer_sessions(engine),
            rules=default_rules(),
            calendar=WorkCalendar(),
            tz=TZ,
            channels=channels,
            default_channel="office",
            composer=Composer(formats),
            platforms=dict(PLATFORMS),
        )
        yield Robots(runtime, emu, clock, runtime.sessions, requests)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as http:
        yield http


def import_tasks(robots: Robots, folder: Path, plan: str) -> None:
    import_file(
        robots.sessions,
        write_plan(folder, plan),
        make_directory(**DIRECTORY),
        timezone="Asia/Shanghai",
        now=local("2020-09-01T10:00"),
    )


def queue(
    sessions: sessionmaker[Session],
    channel: str,
    count: int = 1,
    *,
    text: str = "**【督办提醒】市住建局**\n请于本周内报送重点工作进展。",
    at: datetime = NOW,
) -> list[int]:
    """Inserts `count` pending outbox rows for `channel`, ready at `at`; returns their ids."""
    with sessions.begin() as session:
        messages = [
            Message(
                recipient_kind="unit",
                recipient_id=None,
                recipient_name="市住建局",
                channel=channel,
                kind="notice",
                state="pending",
                not_before=at,
                items=[],
                mentions={},
                text=text if count == 1 else f"{text}（第{number}条）",
                attempts=0,
                simulated=False,
                part=1,
                parts=1,
                created_at=at,
            )
            for number in range(1, count + 1)
        ]
        session.add_all(messages)
        session.flush()
        return [message.id for message in messages]


def rows(sessions: sessionmaker[Session], *ids: int) -> list[Message]:
    with sessions() as session:
        query = select(Message).order_by(Message.id)
        if ids:
            query = query.where(Message.id.in_(ids))
        return list(session.scalars(query))


def one(sessions: sessionmaker[Session], message_id: int) -> Message:
    (message,) = rows(sessions, message_id)
    return message


def bucket(sessions: sessionmaker[Session], channel: str) -> RateBucket:
    with sessions() as session:
        return session.get_one(RateBucket, f"channel:{channel}")


def content(record: Received) -> str:
    """The text a robot shows, whatever its platform's body shape."""
    body = record.body
    if record.platform == "wecom":
        return str(body[body["msgtype"]]["content"])
    if record.platform == "dingtalk":
        return str(body["markdown"]["text"] if body["msgtype"] == "markdown" else body["text"])
    if record.platform == "feishu":
        return str(body["content"]["text"])
    return str(body["text"])


# --- every platform -----------------------------------------------------------------------


def test_each_platform_receives_a_correctly_signed_and_shaped_message(
    robots: Robots, tmp_path: Path
) -> None:
    import_tasks(robots, tmp_path, ONE_TASK_EACH)
    assert robots.sweep(URGE_DAY) == 4
    assert robots.dispatch(URGE_DAY) == 4
    assert {m.recipient_name: m.state for m in rows(robots.sessions)} == {
        "市住建局": "sent",
        "市发改委": "sent",
        "市财政局": "sent",
        "市府办": "sent",
    }
    received = robots.emu.received
    assert all(r.accepted for r in received), [r.answer for r in received]
    by_platform = {r.platform: r for r in received}
    assert sorted(by_platform) == ["dingtalk", "feishu", "webhook", "wecom"]
    assert len(received) == 4

    wecom = by_platform["wecom"].body
    assert wecom["msgtype"] == "markdown"
    assert wecom["markdown"]["content"].startswith("**【催办通知】市住建局**")
    assert wecom["markdown"]["content"].endswith("<@zhangsan>")

    dingtalk = by_platform["dingtalk"]
    assert dingtalk.body["msgtype"] == "markdown"
    assert dingtalk.body["markdown"]["title"] == "【催办通知】市发改委"  # no markup
    assert dingtalk.body["at"] == {
        "atMobiles": ["13800000002"],
        "atUserIds": ["ding-li"],
        "isAtAll": False,
    }
    assert dingtalk.mention_shown is True  # `@13800000002 @ding-li` are in the text too

    feishu = by_platform["feishu"].body
    assert feishu["msg_type"] == "text"
    assert set(feishu) == {"timestamp", "sign", "msg_type", "content"}
    assert feishu["timestamp"] == str(int(URGE_DAY.timestamp()))
    assert feishu["content"]["text"].startswith("【催办通知】市财政局：")
    assert feishu["content"]["text"].endswith('<at user_id="ou_wang">ou_wang</at>')

    hook = by_platform["webhook"].body
    assert set(hook) == {"id", "recipient", "kind", "title", "text", "mobiles", "user_ids"}
    assert (hook["recipient"], hook["kind"], hook["mobiles"]) == ("市府办", "urge", ["13800000004"])


def test_a_unit_is_mentioned_only_by_the_ids_of_its_own_channels_platform(
    robots: Robots, tmp_path: Path
) -> None:
    # The contacts carry ids of several platforms; another platform's id may name another
    # person, so WeCom gets only wecom_userid and DingTalk only dingtalk_userid.
    import_tasks(robots, tmp_path, ONE_TASK_EACH)
    robots.sweep(URGE_DAY)
    robots.dispatch(URGE_DAY)
    by_platform = {r.platform: r for r in robots.emu.accepted()}
    assert b"ding-zhang" not in by_platform["wecom"].raw
    assert b"lisi" not in by_platform["dingtalk"].raw
    assert by_platform["dingtalk"].body["at"]["atUserIds"] == ["ding-li"]


def test_the_generic_webhooks_signature_verifies_on_the_receiving_side(robots: Robots) -> None:
    (message_id,) = queue(robots.sessions, "oa")
    robots.dispatch(NOW)
    assert one(robots.sessions, message_id).state == "sent"
    (record,) = robots.emu.accepted("webhook", HOOK_NAME)  # the emulator checked it
    (request,) = robots.requests
    timestamp = request.headers[TIMESTAMP_HEADER]
    assert timestamp == str(int(NOW.timestamp()))
    signature = request.headers[SIGNATURE_HEADER]
    # The documented receiver check over the raw bytes as the receiver got them.
    assert verify_webhook(HOOK_SECRET, timestamp, signature, record.raw, now=NOW.timestamp())
    assert not verify_webhook("another secret", timestamp, signature, record.raw, NOW.timestamp())
    tampered = record.raw.replace("市住建局".encode(), "市财政局".encode())
    assert not verify_webhook(HOOK_SECRET, timestamp, signature, tampered, NOW.timestamp())
    stale = NOW.timestamp() + 301
    assert not verify_webhook(HOOK_SECRET, timestamp, signature, record.raw, stale)


def test_a_webhook_signed_with_the_wrong_secret_is_refused_and_dead_lettered(
    robots: Robots, http_client: httpx.Client
) -> None:
    url = robots.emu.add_webhook("oa-old", "the receiver's new secret")
    robots.add_channel("oa-old", "webhook", WebhookChannel("oa-old", url, http_client, secret="x"))
    (message_id,) = queue(robots.sessions, "oa-old")
    robots.dispatch(NOW)
    message = one(robots.sessions, message_id)
    assert (message.state, message.last_error) == ("dead", "webhook oa-old: HTTP 401")
    (refused,) = robots.emu.received
    assert (refused.status, refused.answer["error"]) == (401, "bad signature")


def test_a_dingtalk_robot_signed_with_the_wrong_secret_is_refused_for_good(
    robots: Robots, http_client: httpx.Client
) -> None:
    url = robots.emu.add_dingtalk("fgw-new", "SECthe-robots-real-secret")
    channel = DingtalkChannel("fgw-new", url, http_client, secret="SECold", now=robots.clock)
    robots.add_channel("fgw-new", "dingtalk", channel)
    (message_id,) = queue(robots.sessions, "fgw-new")
    robots.dispatch(NOW)
    message = one(robots.sessions, message_id)
    assert (message.state, message.last_error) == (
        "dead",
        "dingtalk fgw-new: errcode 310000: sign not match",
    )
    assert "SECold" not in (message.last_error or "")
    assert bucket(robots.sessions, "fgw-new").disabled_reason == message.last_error


# --- size ---------------------------------------------------------------------------------


def test_a_bundle_over_wecoms_limit_arrives_as_numbered_parts_in_order_each_within_it(
    robots: Robots, tmp_path: Path
) -> None:
    tasks = "\n".join(
        f"{n}.推进第{n}个重点项目建设，加快海洋经济示范区和自由贸易试验区政策落地。\n"
        "责任单位:市住建局"
        for n in range(1, BIG_BUNDLE_TASKS + 1)
    )
    import_tasks(robots, tmp_path, f"2020年重点工作任务责任分解\n{tasks}\n")
    parts = robots.sweep(URGE_DAY)
    assert parts == 3  # one recipient, one bundle, split only by size
    robots.dispatch(URGE_DAY)
    assert {m.state for m in rows(robots.sessions)} == {"sent"}
    received = robots.emu.received
    assert [r.key for r in received] == [WECOM_KEY] * 3
    assert all(r.accepted for r in received)  # none refused as too long (40058)
    texts = [content(r) for r in received]
    for number, text in enumerate(texts, start=1):
        assert text.startswith(f"**【催办通知】市住建局**（{number}/3）\n")
        assert utf8_len(text) <= MARKDOWN_LIMIT
    assert texts[0].endswith("<@zhangsan>")  # the mention, with the first part only
    assert not any("<@" in text for text in texts[1:])
    whole = "\n".join(texts)
    positions = [whole.index(f"**第{n}项**") for n in range(1, BIG_BUNDLE_TASKS + 1)]
    assert positions == sorted(positions)


def test_a_message_the_platform_finds_too_long_is_split_and_resent(
    robots: Robots, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The channel's own check is lifted so the request reaches WeCom, which answers 40058.
    monkeypatch.setattr(wecom_module, "MARKDOWN_LIMIT", 100_000)
    item = "加快船企升级改造，推进邮轮制造、海上智能终端制造等项目。"
    lines = [f"{n}. 第{n}项 {item}" for n in range(60)]
    text = "**【督办提醒】市住建局**\n" + "\n".join(lines)
    assert utf8_len(text) > MARKDOWN_LIMIT
    (message_id,) = queue(robots.sessions, "jjw", text=text)
    robots.dispatch(NOW)
    assert one(robots.sessions, message_id).state == "split"
    robots.dispatch(NOW)
    (refused, *parts) = robots.emu.received
    assert (refused.accepted, refused.answer["errcode"]) == (False, 40058)
    assert len(parts) >= 2
    assert all(part.accepted for part in parts)
    texts = [content(part) for part in parts]
    for number, part_text in enumerate(texts, start=1):
        assert part_text.startswith(f"**【督办提醒】市住建局**（{number}/{len(parts)}）\n")
        assert utf8_len(part_text) <= MARKDOWN_LIMIT
    assert "\n".join(t.partition("\n")[2] for t in texts) == "\n".join(lines)
    assert {m.state for m in rows(robots.sessions) if m.id != message_id} == {"sent"}


def test_a_message_over_the_channels_limit_is_split_before_it_reaches_the_platform(
    robots: Robots,
) -> None:
    lines = [f"{n}. 第{n}项" + "重点工作" * 30 for n in range(20)]
    text = "**【督办提醒】市住建局**\n" + "\n".join(lines)
    assert utf8_len(text) > MARKDOWN_LIMIT
    (message_id,) = queue(robots.sessions, "jjw", text=text)
    robots.dispatch(NOW)
    robots.dispatch(NOW)
    assert one(robots.sessions, message_id).state == "split"
    received = robots.emu.received
    assert len(received) >= 2
    assert all(r.accepted and utf8_len(content(r)) <= MARKDOWN_LIMIT for r in received)


# --- permanent errors ---------------------------------------------------------------------


def test_a_bad_key_kills_the_message_disables_the_channel_and_alerts_the_office(
    robots: Robots,
) -> None:
    (message_id,) = queue(robots.sessions, "stale")
    robots.dispatch(NOW)
    message = one(robots.sessions, message_id)
    assert message.state == "dead"
    assert message.last_error == "wecom stale: errcode 93000: invalid webhook url"
    assert message.response == {"errcode": 93000, "errmsg": "invalid webhook url"}
    assert bucket(robots.sessions, "stale").disabled_reason == message.last_error
    (alert,) = [m for m in rows(robots.sessions) if m.kind == "alert"]
    assert (alert.channel, alert.recipient_kind, alert.state) == ("office", "office", "pending")

    later = NOW + timedelta(seconds=30)
    (waiting,) = queue(robots.sessions, "stale", at=later)
    robots.dispatch(later)
    (to_office,) = robots.emu.accepted("wecom", OFFICE_KEY)
    assert content(to_office).startswith("【系统告警】渠道「stale」发送失败")
    assert "93000" in content(to_office)
    assert one(robots.sessions, alert.id).state == "sent"
    # The disabled channel is not tried again: one request (the first) ever reached it.
    assert len(robots.emu.received) == 2
    held = one(robots.sessions, waiting)
    assert (held.state, held.attempts) == ("pending", 0)
    assert (held.last_error or "").startswith("waiting: wecom stale")
    every_text = [m.last_error or "" for m in rows(robots.sessions)] + [content(to_office)]
    assert not any(STALE_KEY in text for text in every_text)


def test_outbox_retry_re_enables_the_channel_and_the_message_goes_out_once_the_key_is_fixed(
    robots: Robots, db_url: str
) -> None:
    (dead_id,) = queue(robots.sessions, "stale")
    robots.dispatch(NOW)
    (waiting,) = queue(robots.sessions, "stale")
    robots.dispatch(NOW)
    assert one(robots.sessions, dead_id).state == "dead"
    robots.emu.add_wecom(STALE_KEY)  # the operator fixed the robot
    result = succeeds(make_duban(db_url)("outbox", "retry", str(dead_id)))
    assert f"消息 {dead_id} 已重新排队，并已重新启用该渠道" in result.stdout
    assert bucket(robots.sessions, "stale").disabled_reason is None
    retried = one(robots.sessions, dead_id)
    assert (retried.state, retried.attempts, retried.last_error) == ("pending", 0, None)
    # `outbox retry` queues for the wall clock's now; the waiting message's recheck passed.
    after = max(datetime.now(UTC), NOW + timedelta(minutes=11)) + timedelta(seconds=1)
    robots.dispatch(after)
    assert {m.id: m.state for m in rows(robots.sessions, dead_id, waiting)} == {
        dead_id: "sent",
        waiting: "sent",
    }
    assert len(robots.emu.accepted("wecom", STALE_KEY)) == 2


# --- rate limits --------------------------------------------------------------------------


def test_a_rate_limit_answer_pauses_only_that_webhook_and_its_messages_go_out_after(
    robots: Robots,
) -> None:
    robots.emu.fail_next(1, "rate_limit", platform="dingtalk")
    to_dingtalk = queue(robots.sessions, "fgw", 3)
    to_wecom = queue(robots.sessions, "jjw", 3)
    robots.dispatch(NOW)
    assert len(robots.emu.accepted("wecom", WECOM_KEY)) == 3
    assert robots.emu.accepted("dingtalk") == []
    (throttled,) = [r for r in robots.emu.received if r.platform == "dingtalk"]
    assert throttled.answer["errcode"] == 130101
    paused_until = NOW + timedelta(minutes=10)  # DingTalk's penalty
    assert bucket(robots.sessions, "fgw").paused_until == paused_until
    for message in rows(robots.sessions, *to_dingtalk):
        assert (message.state, message.not_before) == ("pending", paused_until)

    # Another webhook keeps flowing while this one rests, and it is not even tried.
    minute = NOW + timedelta(minutes=1)
    more = queue(robots.sessions, "jjw", 2, at=minute)
    robots.dispatch(minute)
    assert [m.state for m in rows(robots.sessions, *more)] == ["sent", "sent"]
    assert len([r for r in robots.emu.received if r.platform == "dingtalk"]) == 1

    robots.dispatch(paused_until)
    assert [m.state for m in rows(robots.sessions, *to_dingtalk, *to_wecom)] == ["sent"] * 6
    delivered = robots.emu.accepted("dingtalk", DINGTALK_TOKEN)
    assert [content(r) for r in delivered] == [m.text for m in rows(robots.sessions, *to_dingtalk)]
    assert all(r.at == paused_until.timestamp() for r in delivered)


def test_a_robot_sent_more_than_twenty_a_minute_rests_for_dingtalks_ten_minute_penalty(
    robots: Robots, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = queue(robots.sessions, "fgw", 25)
    with monkeypatch.context() as unbudgeted:  # a sender that counts no budget floods it
        unbudgeted.setattr(outbox.Dispatcher, "_limits", lambda self, channel: ())
        robots.dispatch(NOW)
    assert len(robots.emu.accepted("dingtalk", DINGTALK_TOKEN)) == 20
    throttled = [r for r in robots.emu.received if not r.accepted]
    assert [r.answer["errcode"] for r in throttled] == [130101]
    penalty_over = NOW + timedelta(minutes=10)
    assert bucket(robots.sessions, "fgw").paused_until == penalty_over
    robots.dispatch(penalty_over - timedelta(seconds=1))
    assert len(robots.emu.received) == 21  # nothing is tried during the penalty
    robots.dispatch(penalty_over)
    assert {m.state for m in rows(robots.sessions, *ids)} == {"sent"}
    assert len(robots.emu.accepted("dingtalk", DINGTALK_TOKEN)) == 25


def test_sixty_messages_to_one_robot_over_five_minutes_never_exceed_twenty_a_minute(
    robots: Robots,
) -> None:
    ids = queue(robots.sessions, "jjw", 60)
    for second in range(0, 300, 5):
        robots.dispatch(NOW + timedelta(seconds=second))
    accepted = robots.emu.accepted("wecom", WECOM_KEY)
    assert len(accepted) == 60
    assert robots.emu.max_in_window(WECOM_KEY, 60) <= 20
    assert [r for r in robots.emu.received if not r.accepted] == []  # never 45009
    assert [content(r) for r in accepted] == [m.text for m in rows(robots.sessions, *ids)]
    assert {m.state for m in rows(robots.sessions, *ids)} == {"sent"}


class SlowChannel:
    """A channel whose first `slow` sends take `seconds` of the clock each (a platform slow
    for a while, then quick again)."""

    def __init__(self, inner: Channel, clock: VirtualClock, seconds: float, slow: int) -> None:
        self.name, self.inner, self.clock = inner.name, inner, clock
        self.seconds, self.slow = seconds, slow

    def send(self, message: Outgoing) -> Receipt:
        try:
            return self.inner.send(message)
        finally:
            if self.slow > 0:
                self.slow -= 1
                self.clock.advance(self.seconds)


def slow_down(robots: Robots, channel: str, seconds: float, slow: int = 1_000) -> None:
    """The dispatcher reads the emulator's clock, and `channel`'s sends move it on."""
    robots.runtime.clock = robots.clock
    inner = robots.runtime.channels[channel]
    robots.add_channel(channel, PLATFORMS[channel], SlowChannel(inner, robots.clock, seconds, slow))


def run_daemon(robots: Robots, until: datetime) -> None:
    """The daemon's dispatch job on a moving clock: a run now, then a second later, …"""
    while (at := datetime.fromtimestamp(robots.clock(), UTC)) < until:
        robots.runtime.dispatcher().dispatch_all(at)
        robots.clock.advance(1)


@pytest.mark.parametrize(("channel", "key"), [("jjw", WECOM_KEY), ("fgw", DINGTALK_TOKEN)])
def test_each_send_takes_its_budget_when_it_goes_so_a_burst_on_a_moving_clock_is_never_refused(
    robots: Robots, channel: str, key: str
) -> None:
    # The first twenty sends take two seconds each, the rest none: a budget stamped with the
    # run's start would let the next twenty go at once a minute after it, while the platform
    # still counts most of the first twenty.
    slow_down(robots, channel, 2.0, slow=20)
    ids = queue(robots.sessions, channel, 45)
    run_daemon(robots, NOW + timedelta(minutes=4))
    assert [r for r in robots.emu.received if not r.accepted] == []  # never 45009 / 130101
    assert robots.emu.max_in_window(key, 60) <= 20
    assert {m.state for m in rows(robots.sessions, *ids)} == {"sent"}
    accepted = robots.emu.accepted(key=key)
    assert [content(r) for r in accepted] == [m.text for m in rows(robots.sessions, *ids)]


def test_a_claimed_message_not_sent_within_the_budgets_margin_goes_back_and_its_slot_returns(
    robots: Robots,
) -> None:
    slow_down(robots, "jjw", 2.0)
    ids = queue(robots.sessions, "jjw", 20)
    robots.runtime.dispatcher().dispatch_once(NOW)
    # Sent at +0, +2 and +4 s; the fourth would start 6 s after the claim, past the 5 s margin.
    assert [m.state for m in rows(robots.sessions, *ids)] == ["sent"] * 3 + ["pending"] * 17
    assert bucket(robots.sessions, "jjw").sent == [NOW.timestamp()] * 3
    later = rows(robots.sessions, *ids)[3]
    assert (later.attempts, later.not_before) == (0, NOW)  # ready again, in its turn
    assert later.last_error == "waiting: not sent within 5 s of its budget"


# --- temporary failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("http500", "wecom jjw: HTTP 500"),
        ("http502", "wecom jjw: HTTP 502"),
        ("drop", "wecom jjw: RemoteProtocolError: "),
        ("slow", "wecom jjw: ReadTimeout: "),
    ],
)
def test_a_server_error_a_timeout_or_a_dropped_connection_is_retried_until_delivered(
    robots: Robots, fault: FaultKind, error: str
) -> None:
    robots.emu.fail_next(1, fault, platform="wecom", key=WECOM_KEY)
    (message_id,) = queue(robots.sessions, "jjw")
    robots.dispatch(NOW)
    failed = one(robots.sessions, message_id)
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert (failed.last_error or "").startswith(error)
    assert WECOM_KEY not in (failed.last_error or "")
    retry_at = NOW + RETRY_AFTER * 2
    assert failed.not_before == retry_at
    robots.dispatch(retry_at - timedelta(seconds=1))
    assert len(robots.emu.received) == 1  # not before its backoff
    robots.dispatch(retry_at)
    sent = one(robots.sessions, message_id)
    assert (sent.state, sent.attempts, sent.last_error) == ("sent", 2, None)
    accepted = robots.emu.accepted("wecom", WECOM_KEY)
    assert {content(r) for r in accepted} == {sent.text}
    # A slow answer the platform took but the client gave up on is the documented duplicate
    # window: at most one duplicate, and only then.
    duplicates = len(accepted) - 1
    assert duplicates == (1 if fault == "slow" else 0)


def test_a_timed_out_message_does_not_hold_up_the_next_one_to_the_same_robot(
    robots: Robots,
) -> None:
    robots.emu.fail_next(1, "slow", platform="wecom", key=WECOM_KEY)
    first, second = queue(robots.sessions, "jjw", 2)
    robots.dispatch(NOW)
    assert [m.state for m in rows(robots.sessions, first, second)] == ["failed", "sent"]
    robots.dispatch(NOW + RETRY_AFTER * 2)
    texts = [m.text for m in rows(robots.sessions, first, second)]
    assert [m.state for m in rows(robots.sessions, first, second)] == ["sent", "sent"]
    # The platform took the first one before the client gave up: it arrives twice.
    assert [content(r) for r in robots.emu.accepted("wecom", WECOM_KEY)] == [
        texts[0],
        texts[1],
        texts[0],
    ]
