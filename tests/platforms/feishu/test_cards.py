"""The Feishu custom bot's link card: an interactive card in card JSON 2.0."""

from __future__ import annotations

from bot.platforms.buttons import Tap
from bot.platforms.feishu.cards import BUTTONS, button_card, tap_answer
from bot.platforms.feishu.robot import BODY_LIMIT, FeishuChannel, sign_feishu
from tests.support.cards import PAGE, Robot, reminder

WEBHOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/T"
OK = {"code": 0, "data": {}, "msg": "success"}
TEXT = "**【督办提醒】**\n市住建局：请于12月31日前报送进展。\n"
OPEN_ID = "ou_7d8a6e6df7621556ce0d21922b676706ccs"


def sent(cards: bool, count: int, **options: object) -> dict[str, object]:
    robot = Robot(OK)
    channel = FeishuChannel(
        "jxj", WEBHOOK, robot.client, cards=cards, secret="demo", now=lambda: 1599360473.0
    )
    channel.send(reminder(count, **options))  # type: ignore[arg-type]
    return robot.bodies[0]


def button(words: str, url: str) -> dict[str, object]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": words},
        "type": "primary",
        "behaviors": [{"type": "open_url", "default_url": url}],
    }


def test_a_reminder_with_links_goes_as_a_signed_card_with_a_button_per_item() -> None:
    assert sent(True, 2, user_ids=(OPEN_ID,)) == {
        "timestamp": "1599360473",
        "sign": sign_feishu("demo", 1599360473),
        "msg_type": "interactive",
        "card": {
            "schema": "2.0",
            "header": {
                "title": {"tag": "plain_text", "content": "【督办提醒】"},
                "template": "blue",
            },
            "body": {
                "elements": [
                    {"tag": "div", "text": {"tag": "plain_text", "content": TEXT}},
                    {"tag": "markdown", "content": f"<at id={OPEN_ID}></at>"},
                    button("#12 填报", f"{PAGE}tok0"),
                    button("#13 填报", f"{PAGE}tok1"),
                ]
            },
        },
    }


def test_more_items_than_its_buttons_get_one_button_opening_the_first() -> None:
    card = sent(True, BUTTONS + 1)["card"]
    assert isinstance(card, dict)
    assert card["body"]["elements"][1:] == [button("查看并填报", f"{PAGE}tok0")]


def test_without_cards_the_channel_sends_text_as_before() -> None:
    assert sent(False, 2)["msg_type"] == "text"


def test_a_card_over_the_bots_body_limit_goes_as_text() -> None:
    text = "【督办提醒】\n" + "请报送。" * ((BODY_LIMIT - 400) // 12)  # text fits, card not
    assert sent(True, 2, text=text)["msg_type"] == "text"


def test_an_apps_button_card_carries_the_one_tap_commands_as_callbacks() -> None:
    card = button_card(
        "【督办提醒】#12", "请于12月31日前报送进展。", "12", ("查看并填报", f"{PAGE}t")
    )
    assert card["schema"] == "2.0"
    buttons = card["body"]["elements"][1:]
    assert [b["behaviors"] for b in buttons] == [
        [{"type": "callback", "value": {"command": "收到", "task": "12"}}],
        [{"type": "callback", "value": {"command": "完成", "task": "12"}}],
        [{"type": "open_url", "default_url": f"{PAGE}t"}],
    ]


def test_a_tap_that_recorded_nothing_leaves_the_card_and_only_toasts() -> None:
    tap = Tap("收到", "12")
    assert tap_answer(tap, "第12项不是贵单位的任务。", False) == {
        "toast": {"type": "info", "content": "第12项不是贵单位的任务。"}
    }
    recorded = tap_answer(tap, "已确认收到第12项提醒。", True)
    assert recorded["card"]["data"]["header"]["title"]["content"] == "收到 #12"
