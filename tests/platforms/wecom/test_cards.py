"""The WeCom group robot's link card: a text_notice template card (群机器人 template_card)."""

from __future__ import annotations

from bot.platforms.wecom.cards import ROWS, button_card
from bot.platforms.wecom.robot import WecomChannel
from tests.support.cards import PAGE, Robot, reminder

WEBHOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"
OK = {"errcode": 0, "errmsg": "ok"}


def sent(cards: bool, message_items: int, **options: object) -> dict[str, object]:
    robot = Robot(OK)
    channel = WecomChannel("fgw", WEBHOOK, robot.client, cards=cards)
    channel.send(reminder(message_items, **options))  # type: ignore[arg-type]
    return robot.bodies[0]


def test_a_reminder_with_links_goes_as_a_text_notice_card_a_row_per_item() -> None:
    assert sent(True, 2) == {
        "msgtype": "template_card",
        "template_card": {
            "card_type": "text_notice",
            "main_title": {"title": "【督办提醒】"},
            "horizontal_content_list": [
                {
                    "keyname": "#12",
                    "value": "推进重点项目第1批开工",
                    "type": 1,
                    "url": f"{PAGE}tok0",
                },
                {
                    "keyname": "#13",
                    "value": "推进重点项目第2批开工",
                    "type": 1,
                    "url": f"{PAGE}tok1",
                },
            ],
            "card_action": {"type": 1, "url": f"{PAGE}tok0"},
        },
    }


def test_without_cards_the_channel_sends_markdown_as_before() -> None:
    assert sent(False, 2)["msgtype"] == "markdown"


def test_more_items_than_the_cards_rows_go_as_markdown() -> None:
    assert sent(True, ROWS)["msgtype"] == "template_card"
    assert sent(True, ROWS + 1)["msgtype"] == "markdown"


def test_a_reminder_that_mentions_someone_goes_as_markdown_since_a_card_cannot_mention() -> None:
    body = sent(True, 1, user_ids=("zhangsan",))
    assert body["msgtype"] == "markdown"
    assert "<@zhangsan>" in str(body["markdown"])


def test_long_titles_and_item_texts_are_cut_to_the_documented_lengths() -> None:
    body = sent(True, 1, text="【督办提醒】" + "很长的标题" * 10 + "\n正文")
    card = body["template_card"]
    assert isinstance(card, dict)
    assert len(card["main_title"]["title"]) == 26
    assert all(len(row["value"]) <= 26 for row in card["horizontal_content_list"])


def test_an_apps_button_card_names_each_tap_in_its_buttons_key() -> None:
    message = reminder(2)
    assert message.card is not None
    card = button_card(message, message.card, "duban-7")
    assert (card["card_type"], card["task_id"]) == ("button_interaction", "duban-7")
    assert card["button_list"] == [
        {"text": "#12 收到", "style": 1, "key": "duban:收到:12"},
        {"text": "#12 完成", "style": 1, "key": "duban:完成:12"},
        {"text": "#13 收到", "style": 1, "key": "duban:收到:13"},
        {"text": "#13 完成", "style": 1, "key": "duban:完成:13"},
    ]
    assert card["card_action"] == {"type": 1, "url": f"{PAGE}tok0"}
