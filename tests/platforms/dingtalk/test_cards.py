"""The DingTalk custom robot's link card: an actionCard (自定义机器人 消息类型)."""

from __future__ import annotations

from bot.platforms.dingtalk.cards import BUTTONS
from bot.platforms.dingtalk.robot import DingtalkChannel
from tests.support.cards import PAGE, Robot, reminder

WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=T"
OK = {"errcode": 0, "errmsg": "ok"}
TEXT = "**【督办提醒】**\n市住建局：请于12月31日前报送进展。\n"


def sent(
    cards: bool, count: int, msgtype: str = "markdown", **options: object
) -> dict[str, object]:
    robot = Robot(OK)
    channel = DingtalkChannel("office", WEBHOOK, robot.client, msgtype=msgtype, cards=cards)
    channel.send(reminder(count, **options))  # type: ignore[arg-type]
    return robot.bodies[0]


def test_a_reminder_with_links_goes_as_an_action_card_a_button_per_item() -> None:
    assert sent(True, 2) == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "【督办提醒】",
            "text": TEXT,
            "btnOrientation": "0",
            "btns": [
                {"title": "#12 填报", "actionURL": f"{PAGE}tok0"},
                {"title": "#13 填报", "actionURL": f"{PAGE}tok1"},
            ],
        },
    }


def test_more_items_than_its_buttons_get_one_button_opening_the_first() -> None:
    card = sent(True, BUTTONS + 1)["actionCard"]
    assert isinstance(card, dict)
    assert (card["singleTitle"], card["singleURL"]) == ("查看并填报", f"{PAGE}tok0")
    assert "btns" not in card


def test_without_cards_or_in_text_msgtype_the_channel_sends_as_before() -> None:
    assert sent(False, 2)["msgtype"] == "markdown"
    assert sent(True, 2, msgtype="text")["msgtype"] == "text"


def test_a_reminder_that_mentions_someone_goes_as_markdown_since_a_card_cannot_mention() -> None:
    body = sent(True, 1, user_ids=("manager4220",))
    assert body["msgtype"] == "markdown"
    assert body["at"] == {"atMobiles": [], "atUserIds": ["manager4220"], "isAtAll": False}
