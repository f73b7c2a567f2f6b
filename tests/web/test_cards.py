"""Taps on the apps' card buttons, end to end: the real app served by uvicorn, each
platform's callback emulated from its documentation with its real signing (tests/support/
taps.py), the database on both backends."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.compose import link_card
from bot.platforms import Outgoing
from bot.platforms.feishu.cards import app_card
from tests.support.taps import (
    dingtalk_post_tap,
    dingtalk_tap,
    feishu_post_tap,
    feishu_tap,
    wecom_answer,
    wecom_post_tap,
    wecom_tap,
)
from tests.support.web import (
    FEISHU_TOKEN,
    NOW,
    WECOM_CORP,
    assignment_of,
    audit,
    feishu_post_unsigned,
    inbound_events,
    message_count,
)

pytestmark = pytest.mark.slow  # the app served by uvicorn, with a plan imported, for each test

ACK = {"command": "收到", "task": "1"}


def test_a_feishu_tap_on_received_is_recorded_and_the_card_shows_it(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = feishu_post_tap(client, feishu_tap("ou_liaison2", ACK, "ev-tap-1", NOW), NOW)
    assert response.status_code == 200
    answer = response.json()
    [ack] = audit(planned, "reply.ack")
    assert ack.actor == "市发改委"
    reply = answer["toast"]["content"]
    assert answer["toast"]["type"] == "success"
    card = answer["card"]
    assert card["type"] == "raw"
    assert card["data"]["header"]["title"]["content"] == "收到 #1"
    assert card["data"]["body"]["elements"] == [
        {"tag": "div", "text": {"tag": "plain_text", "content": reply}}
    ]
    [kept] = inbound_events(planned)
    assert (kept.event_id, kept.text) == ("ev-tap-1", "收到 #1")
    # The card's update token and the verification token are not kept with the event.
    assert "c-295ee" not in json.dumps(kept.payload)
    assert FEISHU_TOKEN not in json.dumps(kept.payload)


def test_a_feishu_tap_on_complete_requests_closure_in_one_tap(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    value = {"command": "完成", "task": "1"}
    response = feishu_post_tap(client, feishu_tap("ou_liaison2", value, "ev-tap-2", NOW), NOW)
    assert response.json()["toast"]["type"] == "success"
    assert assignment_of(planned, "1", "市发改委")[0] == "closure_requested"


def test_a_retried_feishu_tap_changes_nothing_and_leaves_the_card(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    event = feishu_tap("ou_liaison2", ACK, "ev-tap-1", NOW)
    first = feishu_post_tap(client, event, NOW).json()
    events, messages = len(audit(planned)), message_count(planned)
    again = feishu_post_tap(client, event, NOW).json()
    assert again == {"toast": {"type": "info", "content": first["toast"]["content"]}}
    assert (len(audit(planned)), message_count(planned)) == (events, messages)
    assert len(inbound_events(planned)) == 1


def test_a_feishu_tap_by_someone_the_directory_does_not_know_changes_no_card(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = feishu_post_tap(client, feishu_tap("ou_stranger", ACK, "ev-tap-3", NOW), NOW)
    assert response.status_code == 200
    assert set(response.json()) == {"toast"}
    assert audit(planned, "reply.ack") == []


def test_a_feishu_tap_with_a_wrong_signature_is_refused_and_nothing_is_kept(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    event = feishu_tap("ou_liaison2", ACK, "ev-tap-1", NOW)
    response = feishu_post_tap(client, event, NOW, signing_key="not-the-key")
    assert response.status_code == 401
    assert inbound_events(sessions) == []
    assert audit(sessions) == []


@pytest.mark.parametrize(
    "value",
    [{"command": "确认办结", "task": "1"}, {"command": "收到", "task": "1\n完成 #2"}, {}],
)
def test_a_feishu_tap_naming_no_one_tap_command_is_a_bad_request(
    client: httpx.Client, sessions: sessionmaker[Session], value: dict[str, object]
) -> None:
    response = feishu_post_tap(client, feishu_tap("ou_liaison2", value, "ev-tap-9", NOW), NOW)
    assert response.status_code == 400
    assert inbound_events(sessions) == []


# WeCom: template_card_event through the app's encrypted callback


def test_a_wecom_tap_is_recorded_and_the_tapped_button_says_so(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = wecom_post_tap(client, wecom_tap("liaison2", "duban:收到:1", "rc-1", NOW), NOW)
    assert response.status_code == 200
    answer = wecom_answer(response, NOW)
    assert (answer["MsgType"], answer["Button"]) == ("update_button", "已收到")
    assert (answer["ToUserName"], answer["FromUserName"]) == ("liaison2", WECOM_CORP)
    [ack] = audit(planned, "reply.ack")
    assert ack.actor == "市发改委"


def test_a_wecom_response_code_is_good_once_a_replay_changes_nothing(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    xml = wecom_tap("liaison2", "duban:完成:1", "rc-2", NOW)
    wecom_post_tap(client, xml, NOW)
    events, messages = len(audit(planned)), message_count(planned)
    again = wecom_answer(wecom_post_tap(client, xml, NOW), NOW)
    assert again["MsgType"] == "text"  # the first answer again, not a second record
    assert (len(audit(planned)), message_count(planned)) == (events, messages)
    assert assignment_of(planned, "1", "市发改委")[0] == "closure_requested"


def test_a_wecom_tap_signed_with_another_token_is_refused_and_nothing_is_kept(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    xml = wecom_tap("liaison2", "duban:收到:1", "rc-3", NOW)
    assert wecom_post_tap(client, xml, NOW, token="not-the-token").status_code == 401
    assert inbound_events(sessions) == []


def test_a_wecom_tap_with_a_foreign_key_is_a_bad_request(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    xml = wecom_tap("liaison2", "other:确认办结:1", "rc-4", NOW)
    assert wecom_post_tap(client, xml, NOW).status_code == 400
    assert inbound_events(sessions) == []


def test_a_wecom_tap_by_a_stranger_gets_the_answer_as_text_and_no_button_change(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = wecom_post_tap(client, wecom_tap("nobody", "duban:收到:1", "rc-5", NOW), NOW)
    assert wecom_answer(response, NOW)["MsgType"] == "text"
    assert audit(planned, "reply.ack") == []


# DingTalk: the interactive card's HTTP callback


def test_a_dingtalk_tap_is_recorded_and_the_card_shows_it_to_everyone(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = dingtalk_post_tap(client, dingtalk_tap("liaison2", ACK), NOW)
    assert response.status_code == 200
    update = response.json()["cardData"]["cardParamMap"]
    assert update["recorded"] == "true"
    assert "第1项" in update["status"]
    [ack] = audit(planned, "reply.ack")
    assert ack.actor == "市发改委"


def test_a_retried_dingtalk_tap_changes_nothing(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    event = dingtalk_tap("liaison2", {"command": "完成", "task": "1"})
    first = dingtalk_post_tap(client, event, NOW)
    events, messages = len(audit(planned)), message_count(planned)
    again = dingtalk_post_tap(client, event, NOW)  # the platform's retry, same signature
    assert again.status_code == 200
    status = first.json()["cardData"]["cardParamMap"]["status"]
    assert again.json() == {"userPrivateData": {"cardParamMap": {"status": status}}}
    assert (len(audit(planned)), message_count(planned)) == (events, messages)


def test_a_dingtalk_signature_is_good_for_one_tap_only(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    stamp = str(int(NOW.timestamp() * 1000))
    dingtalk_post_tap(client, dingtalk_tap("liaison2", ACK), NOW, timestamp=stamp)
    other = dingtalk_tap("liaison2", {"command": "完成", "task": "1"})
    assert dingtalk_post_tap(client, other, NOW, timestamp=stamp).status_code == 403
    assert assignment_of(planned, "1", "市发改委")[0] != "closure_requested"


@pytest.mark.parametrize(
    ("options", "status"),
    [({"secret": "not-the-secret"}, 401), ({"timestamp": "1500000000000"}, 403)],
)
def test_a_dingtalk_tap_badly_signed_or_stale_is_refused_and_nothing_is_kept(
    client: httpx.Client, sessions: sessionmaker[Session], options: dict[str, str], status: int
) -> None:
    response = dingtalk_post_tap(client, dingtalk_tap("liaison2", ACK), NOW, **options)
    assert response.status_code == status
    assert inbound_events(sessions) == []


def test_a_dingtalk_tap_from_another_organization_is_forbidden(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    event = dingtalk_tap("liaison2", ACK, corp="ding-someone-else")
    assert dingtalk_post_tap(client, event, NOW).status_code == 403
    assert inbound_events(sessions) == []


# The loop: the app's card, as sent, tapped


def test_the_button_on_the_card_the_app_sends_records_its_command_when_tapped(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    items = [{"task": "1", "text": "推进重点项目", "link": "https://duban.example/r/t"}]
    card = link_card(items)
    assert card is not None
    sent = app_card(Outgoing(7, "市发改委", "remind", "【督办提醒】\n请报送。", card=card), card)
    [row] = [e for e in sent["body"]["elements"] if e["tag"] == "column_set"]
    [complete] = [
        column["elements"][0]
        for column in row["columns"]
        if column["elements"][0]["text"]["content"] == "#1 完成"
    ]
    value = complete["behaviors"][0]["value"]
    feishu_post_tap(client, feishu_tap("ou_liaison2", value, "ev-loop", NOW), NOW)
    assert assignment_of(planned, "1", "市发改委")[0] == "closure_requested"


def test_an_unsigned_feishu_hook_takes_a_tap_dated_in_microseconds_when_it_is_fresh(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    event = feishu_tap("ou_liaison2", ACK, "ev-open", NOW)
    response = feishu_post_unsigned(client, event)
    assert response.status_code == 200
    assert response.json()["toast"]["type"] == "success"
    stale = feishu_tap("ou_liaison2", ACK, "ev-old", NOW - timedelta(hours=2))
    assert feishu_post_unsigned(client, stale).status_code == 403
