"""The delivery commands: `preview`, `send-test`, `outbox`, `outbox retry`, and the channel
settings they rely on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.render import KINDS
from bot.store.models import Message
from tests.support.cli import Duban, fails_with_one_line, json_of, make_duban, succeeds
from tests.support.emulator import PlatformEmulator

pytestmark = pytest.mark.slow  # the CLI against the platform emulator over HTTP, on both backends

PLATFORMS = ("text", "markdown", "wecom", "dingtalk", "feishu")
TITLES = {
    "notice": "【督办提醒】市经信局",
    "urge": "【催办通知】市经信局",
    "supervise": "【督办通知】市经信局",
    "escalate": "【督办通报】督查室",
    "digest": "【督办日报】李明",
    "ranking": "【工作晾晒】2020年10月",
    "reply": "已收到第12项进展",
    "help": "【督办助手】可用指令",
    "alert": "【系统告警】渠道「jxj-wecom」",
    "test": "【督办助手】渠道「jxj-wecom」连通测试",
    "blocker": "【困难上报】李明",
    "followup": "【督办提醒】市经信局",
    "request": "【办结申请】李明",
    "decision": "【审批结果】市水利局",
}
# What the platforms parse as a mention, or its defused form: <@id>, <at …>, @13800000000,
# @all, @所有人, ＠… — a preview shows mentions as people read them, 「@张三」.
MENTION_MARKUP = re.compile(r"<@|<at\b|＜at|@\+?\d|@all|@所有人|＠", re.IGNORECASE)
# Pictographs, dingbats and the emoji variation selector: 🟢 ⚠️ ✅ 📌 …
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
WECOM_KEY = "jjw-key-4d2c"
BAD_KEY = "bad-key-77aa9f"
DINGTALK_SECRET = "SECcli0123456789"
JSON_KEYS = {"id", "channel", "kind", "state", "attempts", "last_error"}
EARLIER = datetime(2020, 10, 12, 1, 0, tzinfo=UTC)


@pytest.fixture
def duban(db_url: str) -> Duban:
    return make_duban(db_url)


@pytest.fixture
def offline(tmp_path: Path) -> Duban:
    """The CLI for commands that never open the database."""
    return make_duban(f"sqlite:///{tmp_path / 'unused.db'}")


def config_with(folder: Path, channels: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        '[delivery]\ndefault_channel = "console"\noffice_channel = "console"\n\n'
        f'[channels.console]\nplatform = "console"\n\n{channels}',
        encoding="utf-8",
    )
    return path


# --- preview ------------------------------------------------------------------------------


def test_every_kind_has_a_title_to_look_for() -> None:
    assert set(TITLES) == set(KINDS)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind", KINDS)
def test_preview_shows_each_kind_for_each_platform_without_mention_markup(
    offline: Duban, kind: str, platform: str
) -> None:
    output = succeeds(offline("preview", kind, "--platform", platform)).stdout
    assert TITLES[kind] in output
    assert not MENTION_MARKUP.findall(output)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_preview_shows_whom_a_reminder_mentions_by_name(offline: Duban, platform: str) -> None:
    urge = succeeds(offline("preview", "urge", "--platform", platform)).stdout
    supervise = succeeds(offline("preview", "supervise", "--platform", platform)).stdout
    assert urge.rstrip().endswith("\n@张三")
    assert supervise.rstrip().endswith("\n@张三 @王强")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_default_message_carries_an_emoji(offline: Duban, kind: str, platform: str) -> None:
    output = succeeds(offline("preview", kind, "--platform", platform)).stdout
    assert not EMOJI.findall(output)


@pytest.mark.parametrize("platform", ["text", "wecom"])
def test_the_ranking_shows_its_lights_in_words(offline: Duban, platform: str) -> None:
    output = succeeds(offline("preview", "ranking", "--platform", platform)).stdout
    assert [line.split("分 ")[-1] for line in output.splitlines() if "分 " in line][:3] == [
        "绿灯 ↑",
        "黄灯",
        "红灯 ↓",
    ]


@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "markdown"])
def test_preview_for_a_markdown_robot_uses_markdown(offline: Duban, platform: str) -> None:
    output = succeeds(offline("preview", "urge", "--platform", platform)).stdout
    assert output.startswith("**【催办通知】市经信局**\n")
    assert "`进展 #12 进度% 说明`" in output


def test_preview_without_a_platform_shows_plain_text(offline: Duban) -> None:
    output = succeeds(offline("preview", "notice")).stdout
    intro = "以下事项即将到期，请按时办理并回复进展。"
    assert output.startswith(f"【督办提醒】市经信局：\n{intro}\n1. ")  # the intro on its own line
    assert "**" not in output


def test_preview_of_an_unknown_kind_fails_with_a_clear_message(offline: Duban) -> None:
    line = fails_with_one_line(offline("preview", "weekly"))
    assert line.startswith("错误：未知的消息类型「weekly」，可选：notice、urge")


def test_preview_for_an_unknown_platform_fails_with_a_clear_message(offline: Duban) -> None:
    line = fails_with_one_line(offline("preview", "notice", "--platform", "slack"))
    assert line.startswith("错误：未知的平台「slack」，可选：text、markdown、wecom")


# --- send-test ----------------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[PlatformEmulator]:
    with PlatformEmulator() as emulator:
        yield emulator


@pytest.fixture
def robots_cli(db_url: str, tmp_path: Path, emu: PlatformEmulator) -> Duban:
    """The CLI with a WeCom, a signed DingTalk and a WeCom robot whose key is unknown."""
    config = config_with(
        tmp_path,
        f'[channels.jjw]\nplatform = "wecom"\nwebhook = "{emu.add_wecom(WECOM_KEY)}"\n\n'
        f'[channels.fgw]\nplatform = "dingtalk"\n'
        f'webhook = "{emu.add_dingtalk("fgw-token", DINGTALK_SECRET)}"\n'
        f'secret = "{DINGTALK_SECRET}"\n\n'
        f'[channels.bad]\nplatform = "wecom"\nwebhook = "{emu.wecom_url(BAD_KEY)}"\n'
        "timeout = 2.0\n",
    )
    return make_duban(db_url, DUBAN_CONFIG=str(config))


@pytest.mark.parametrize(("channel", "platform"), [("jjw", "wecom"), ("fgw", "dingtalk")])
def test_send_test_posts_a_test_message_and_prints_the_platforms_answer(
    robots_cli: Duban, emu: PlatformEmulator, channel: str, platform: Any
) -> None:
    output = succeeds(robots_cli("send-test", channel)).stdout
    assert output.strip() == "发送成功。平台应答：{'errcode': 0, 'errmsg': 'ok'}"
    (received,) = emu.accepted(platform)
    assert f"【督办助手】渠道「{channel}」连通测试" in received.raw.decode()


def test_send_test_to_a_bad_key_fails_clearly_without_showing_the_key(
    robots_cli: Duban, emu: PlatformEmulator
) -> None:
    result = robots_cli("send-test", "bad")
    line = fails_with_one_line(result)
    assert line == (
        "错误：发送失败（永久错误，请检查配置）：wecom bad: errcode 93000: invalid webhook url"
    )
    assert BAD_KEY not in result.stdout + result.stderr
    assert [r.answer["errcode"] for r in emu.received] == [93000]


def test_send_test_that_fails_for_now_says_it_may_be_retried(
    robots_cli: Duban, emu: PlatformEmulator
) -> None:
    emu.fail_next(1, "http502", platform="wecom")
    line = fails_with_one_line(robots_cli("send-test", "jjw"))
    assert line == "错误：发送失败（暂时错误，可稍后重试）：wecom jjw: HTTP 502"


def test_send_test_to_an_unknown_channel_names_the_configured_ones(robots_cli: Duban) -> None:
    line = fails_with_one_line(robots_cli("send-test", "nosuch"))
    assert line == "错误：没有名为「nosuch」的渠道，已配置：console、jjw、fgw、bad"


# --- outbox -------------------------------------------------------------------------------


def add_message(sessions: sessionmaker[Session], state: str, **values: Any) -> int:
    with sessions.begin() as session:
        message = Message(
            recipient_kind="unit",
            recipient_id=None,
            recipient_name="市住建局",
            channel=values.pop("channel", "jjw"),
            kind=values.pop("kind", "urge"),
            state=state,
            not_before=EARLIER,
            items=[],
            mentions={},
            text="请于本周内报送重点工作进展。",
            attempts=values.pop("attempts", 0),
            simulated=False,
            part=1,
            parts=1,
            created_at=EARLIER,
            **values,
        )
        session.add(message)
        session.flush()
        return message.id


@pytest.fixture
def outbox(sessions: sessionmaker[Session]) -> dict[str, int]:
    """One message in each of four states; their ids by state."""
    return {
        "pending": add_message(sessions, "pending", channel=None, kind="notice"),
        "sent": add_message(sessions, "sent", attempts=1, sent_at=EARLIER),
        "dead": add_message(
            sessions, "dead", attempts=1, last_error="wecom jjw: errcode 93000: invalid"
        ),
        "failed": add_message(
            sessions,
            "failed",
            channel="fgw",
            attempts=2,
            last_error="dingtalk fgw: HTTP 502",
        ),
    }


def test_outbox_json_lists_every_message_newest_first_in_the_documented_shape(
    duban: Duban, outbox: dict[str, int]
) -> None:
    listed = json_of(duban("outbox", "--json"))
    assert all(set(row) == JSON_KEYS for row in listed)
    assert [row["id"] for row in listed] == sorted(outbox.values(), reverse=True)
    assert listed[-1] == {
        "id": outbox["pending"],
        "channel": None,
        "kind": "notice",
        "state": "pending",
        "attempts": 0,
        "last_error": None,
    }
    assert listed[0] == {
        "id": outbox["failed"],
        "channel": "fgw",
        "kind": "urge",
        "state": "failed",
        "attempts": 2,
        "last_error": "dingtalk fgw: HTTP 502",
    }


def test_outbox_filters_by_state(duban: Duban, outbox: dict[str, int]) -> None:
    listed = json_of(duban("outbox", "--state", "dead", "--json"))
    assert [(row["id"], row["state"]) for row in listed] == [(outbox["dead"], "dead")]
    assert json_of(duban("outbox", "--state", "sending", "--json")) == []


def test_outbox_without_json_prints_a_table(duban: Duban, outbox: dict[str, int]) -> None:
    output = succeeds(duban("outbox", "--state", "failed")).stdout
    assert "dingtalk fgw: HTTP 502" in output
    assert "市住建局" in output


def test_the_outbox_table_names_kinds_and_states_in_chinese(
    duban: Duban, outbox: dict[str, int]
) -> None:
    rows = succeeds(duban("outbox")).stdout.splitlines()
    pending = next(row for row in rows if row.startswith(f"│ {outbox['pending']} "))
    assert tuple(w for w in ("提醒", "待发送") if w in pending) == ("提醒", "待发送")
    failed = next(row for row in rows if row.startswith(f"│ {outbox['failed']} "))
    assert tuple(w for w in ("催办", "重试中") if w in failed) == ("催办", "重试中")
    assert not {"notice", "urge", "pending", "failed"} & set(" ".join(rows).split())


def test_outbox_with_an_unknown_state_fails_with_a_clear_message(
    duban: Duban, outbox: dict[str, int]
) -> None:
    line = fails_with_one_line(duban("outbox", "--state", "lost"))
    assert line.startswith("错误：未知的状态「lost」，可选：pending、sending、sent")


def test_outbox_retry_requeues_a_dead_message(
    duban: Duban, outbox: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    output = succeeds(duban("outbox", "retry", str(outbox["dead"]))).stdout
    assert output.strip() == f"消息 {outbox['dead']} 已重新排队。"  # no channel was disabled
    with sessions() as session:
        message = session.get_one(Message, outbox["dead"])
    assert (message.state, message.attempts, message.last_error) == ("pending", 0, None)
    assert message.not_before >= before


@pytest.mark.parametrize("state", ["pending", "sent", "failed"])
def test_outbox_retry_of_a_message_that_is_not_dead_fails(
    duban: Duban, outbox: dict[str, int], state: str
) -> None:
    message_id = outbox[state]
    line = fails_with_one_line(duban("outbox", "retry", str(message_id)))
    assert line == f"错误：消息 {message_id} 的状态是 {state}，只有 dead 的消息可以重发"


def test_outbox_retry_of_a_missing_message_fails(duban: Duban, outbox: dict[str, int]) -> None:
    missing = max(outbox.values()) + 1
    line = fails_with_one_line(duban("outbox", "retry", str(missing)))
    assert line == f"错误：没有编号为 {missing} 的消息"


# --- channel settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ('[channels.jjw]\nplatform = "wecom"\n', "channels.jjw", "wecom 渠道需要 webhook 地址"),
        (
            '[channels.fgw]\nplatform = "dingtalk"\n'
            'webhook = "https://oapi.dingtalk.com/robot/send?access_token=T0KEN"\n'
            'msgtype = "actionCard"\n',
            "channels.fgw.msgtype",
            "应为以下之一：text、markdown",
        ),
        (
            '[channels.oa]\nplatform = "webhook"\nwebhook = "https://oa.example.gov.cn/T0KEN"\n',
            "channels.oa",
            "webhook 渠道需要 secret",
        ),
        (
            '[channels.jxj]\nplatform = "feishu"\n'
            'webhook = "https://open.feishu.cn/open-apis/bot/v2/hook/T0KEN"\n'
            'msgtype = "markdown"\n',
            "channels.jxj",
            "feishu 渠道的 msgtype 应为 text",
        ),
    ],
)
def test_a_bad_channel_setting_stops_the_cli_naming_the_key(
    tmp_path: Path, section: str, key: str, problem: str
) -> None:
    config = config_with(tmp_path, section)
    duban = make_duban(f"sqlite:///{tmp_path / 'unused.db'}", DUBAN_CONFIG=str(config))
    result = duban("preview", "notice")
    line = fails_with_one_line(result, code=2)
    assert line.startswith(f"错误：配置错误 {key}: ")
    assert problem in line
    assert str(config) in line
    assert "T0KEN" not in result.stderr
