"""The platforms' reply callbacks, end to end: the real app served by uvicorn, httpx as the
platform, the database on both backends, an injected clock, a sink for DingTalk's session
webhook and a fake Feishu API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.compose import DEFAULT_OFFICE
from bot.platforms.wecom.callback import callback_body
from bot.replies.inbox import UNKNOWN_SENDER
from bot.web.context import WebContext
from tests.support.web import (
    NOW,
    WECOM,
    WECOM_CORP,
    Clock,
    FakeFeishuApi,
    Sink,
    assignment_of,
    audit,
    dingtalk_event,
    dingtalk_post,
    feishu_event,
    feishu_post,
    generic_body,
    generic_headers,
    generic_post,
    inbound_events,
    message_count,
    messages_of_kind,
    open_passive_reply,
    seconds,
    wecom_post,
)

pytestmark = pytest.mark.slow  # the app served by uvicorn, with a plan imported, for each test

PROGRESS = "进展 #1 60% 已完成立项"
PROGRESS_ANSWER = "已收到第1项进展（60%），谢谢。"
# PROTOCOLS.md §2, vector A: the URL check WeCom sends when the callback is configured.
VECTOR_A_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
VECTOR_A_QUERY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": VECTOR_A_ECHOSTR,
}


def nothing_stored(sessions: sessionmaker[Session]) -> None:
    assert inbound_events(sessions) == []
    assert audit(sessions) == []
    assert message_count(sessions) == 0


def test_the_health_check_answers_ok(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# WeCom


def test_wecom_url_verification_answers_the_bare_echostr_as_plain_text(
    client: httpx.Client,
) -> None:
    response = client.get("/hooks/wecom/qywx", params=VECTOR_A_QUERY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "1616140317555161061"


def test_wecom_url_verification_with_a_wrong_signature_is_refused(client: httpx.Client) -> None:
    query = {**VECTOR_A_QUERY, "msg_signature": "0" * 40}
    response = client.get("/hooks/wecom/qywx", params=query)
    assert response.status_code == 401
    assert "1616140317555161061" not in response.text


def test_wecom_progress_is_applied_and_answered_in_an_encrypted_passive_reply(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = wecom_post(client, "liaison2", PROGRESS, "7301", NOW)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    reply = open_passive_reply(response.content, seconds(NOW))
    assert reply == type(reply)("liaison2", WECOM_CORP, PROGRESS_ANSWER)
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)
    [event] = inbound_events(planned)
    assert (event.platform, event.event_id, event.sender) == ("wecom", "7301", "liaison2")
    assert (event.state, event.actor, event.reply) == ("processed", "市发改委", PROGRESS_ANSWER)
    [progress] = audit(planned, "reply.progress")
    assert (progress.actor, progress.channel, progress.inbound_message_id) == (
        "市发改委",
        "qywx",
        "7301",
    )
    assert progress.at == NOW  # the app's clock


def test_wecom_a_retry_gets_the_first_answer_and_is_applied_once(
    client: httpx.Client, planned: sessionmaker[Session], ctx: WebContext
) -> None:
    first = wecom_post(client, "liaison2", PROGRESS, "7301", NOW)
    again = wecom_post(client, "liaison2", PROGRESS, "7301", NOW + timedelta(seconds=5))
    assert open_passive_reply(first.content, seconds(NOW)).content == PROGRESS_ANSWER
    later = seconds(NOW + timedelta(seconds=5))
    assert open_passive_reply(again.content, later).content == PROGRESS_ANSWER
    assert len(inbound_events(planned)) == 1
    assert len(audit(planned, "reply.progress")) == 1
    assert ctx.counters[("wecom", "duplicate")] == 1


def test_wecom_a_bad_signature_is_refused_and_nothing_is_stored(
    client: httpx.Client, sessions: sessionmaker[Session], ctx: WebContext
) -> None:
    response = wecom_post(client, "liaison2", PROGRESS, "7301", NOW, signature="0" * 40)
    assert response.status_code == 401
    assert response.json() == {"error": "bad signature"}
    nothing_stored(sessions)
    assert ctx.counters[("wecom", "rejected_401")] == 1


def test_wecom_a_stale_timestamp_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    response = wecom_post(client, "liaison2", PROGRESS, "7301", NOW - timedelta(hours=2))
    assert response.status_code == 403
    nothing_stored(sessions)


def test_freshness_is_judged_by_the_apps_clock(
    client: httpx.Client, sessions: sessionmaker[Session], clock: Clock
) -> None:
    clock.now = NOW + timedelta(hours=2)
    assert wecom_post(client, "liaison2", PROGRESS, "7301", NOW).status_code == 403
    assert generic_post(client, "liaison2", PROGRESS, "oa-1", NOW).status_code == 403
    nothing_stored(sessions)
    clock.now = NOW + timedelta(minutes=4)
    assert generic_post(client, "liaison2", PROGRESS, "oa-1", NOW).status_code == 200


def test_wecom_a_signed_nonce_that_cannot_be_echoed_is_refused_not_failed(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    response = wecom_post(client, "liaison2", PROGRESS, "7301", NOW, nonce="nönce")
    assert response.status_code == 400
    nothing_stored(sessions)


def test_wecom_a_body_without_encrypt_is_a_bad_request(client: httpx.Client) -> None:
    params = {"msg_signature": "x", "timestamp": seconds(NOW), "nonce": "1"}
    response = client.post("/hooks/wecom/qywx", params=params, content=b"<xml></xml>")
    assert response.status_code == 400


def test_wecom_missing_query_parameters_are_a_bad_request(client: httpx.Client) -> None:
    body = callback_body(WECOM.encrypt("<xml/>"), WECOM_CORP, "1")
    response = client.post("/hooks/wecom/qywx", content=body)
    assert response.status_code == 400
    assert "msg_signature" in response.json()["error"]


# DingTalk


@pytest.fixture
def webhook(sink: Sink) -> str:
    return sink.url("/robot/sendBySession?session=c3f1b2")


def dingtalk_body(sender: str, text: str, msg_id: str, webhook: str) -> bytes:
    event = dingtalk_event(sender, text, msg_id, NOW, webhook)
    return json.dumps(event, ensure_ascii=False).encode()


def test_dingtalk_is_acknowledged_before_the_answer_goes_to_the_session_webhook(
    client: httpx.Client, planned: sessionmaker[Session], sink: Sink, webhook: str
) -> None:
    sink.gate.clear()  # the session webhook holds its answer back: the callback must not wait
    started = time.monotonic()
    response = dingtalk_post(client, dingtalk_body("liaison2", PROGRESS, "msgA1", webhook), NOW)
    answered = time.monotonic()
    assert response.status_code == 200
    assert response.json() == {}
    assert answered - started < 2.0
    [posted] = sink.wait(1)
    sink.gate.set()
    assert posted.path == "/robot/sendBySession?session=c3f1b2"
    assert posted.body == {"msgtype": "text", "text": {"content": PROGRESS_ANSWER}}
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)


def test_dingtalk_a_closure_confirmed_by_the_supervisor_closes_the_task(
    client: httpx.Client, planned: sessionmaker[Session], sink: Sink, webhook: str
) -> None:
    body = dingtalk_body("liaison2", "完成 #1 指标均已达成", "msgA1", webhook)
    assert dingtalk_post(client, body, NOW).status_code == 200
    sink.wait(1)
    assert assignment_of(planned, "1", "市发改委") == ("closure_requested", 0)
    body = dingtalk_body("liming", "确认办结 #1", "msgA2", webhook)
    assert dingtalk_post(client, body, NOW + timedelta(seconds=20)).status_code == 200
    answers = [posted.body["text"]["content"] for posted in sink.wait(2)]
    assert answers == ["第1项办结申请已收到，待督查室确认。", "第1项已确认办结。"]
    assert assignment_of(planned, "1", "市发改委") == ("closed", 0)
    assert assignment_of(planned, "1", "市财政局") == ("closed", 0)
    [approval] = audit(planned, "approve.close")
    assert (approval.actor, approval.channel) == ("李明", "ding")


def test_dingtalk_a_platform_retry_is_applied_and_answered_once(
    client: httpx.Client,
    planned: sessionmaker[Session],
    ctx: WebContext,
    sink: Sink,
    webhook: str,
) -> None:
    body = dingtalk_body("liaison2", PROGRESS, "msgA1", webhook)
    assert dingtalk_post(client, body, NOW).status_code == 200
    sink.wait(1)
    retry = dingtalk_post(client, body, NOW + timedelta(seconds=3))
    assert retry.status_code == 200
    assert retry.json() == {}
    assert ctx.counters[("dingtalk", "accepted")] == 1
    assert ctx.counters[("dingtalk", "duplicate")] == 1
    assert len(inbound_events(planned)) == 1
    assert len(audit(planned, "reply.progress")) == 1
    time.sleep(0.1)  # a second answer would have been on its way by now
    assert len(sink.posted) == 1


def test_dingtalk_an_expired_session_webhook_is_not_called(
    client: httpx.Client, planned: sessionmaker[Session], sink: Sink, webhook: str
) -> None:
    event = dingtalk_event("liaison2", PROGRESS, "msgA1", NOW, webhook)
    event["sessionWebhookExpiredTime"] = int((NOW - timedelta(minutes=1)).timestamp() * 1000)
    response = dingtalk_post(client, json.dumps(event).encode(), NOW)
    assert response.status_code == 200
    deadline = time.monotonic() + 5
    while inbound_events(planned)[0].state != "processed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)
    time.sleep(0.1)
    assert sink.posted == []


@pytest.mark.parametrize(
    ("age", "sign", "body", "status"),
    [
        pytest.param(timedelta(hours=2), None, None, 403, id="stale timestamp"),
        pytest.param(timedelta(0), "c2lnbg==", None, 401, id="bad sign"),
        pytest.param(timedelta(0), None, b'{"msgId": "msgA1", ', 400, id="malformed JSON"),
        pytest.param(timedelta(0), None, b'["msgA1"]', 400, id="not an object"),
    ],
)
def test_dingtalk_refuses_and_stores_nothing(
    client: httpx.Client,
    sessions: sessionmaker[Session],
    sink: Sink,
    webhook: str,
    age: timedelta,
    sign: str | None,
    body: bytes | None,
    status: int,
) -> None:
    sent = body or dingtalk_body("liaison2", PROGRESS, "msgA1", webhook)
    response = dingtalk_post(client, sent, NOW - age, sign=sign)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    nothing_stored(sessions)
    assert sink.posted == []


# Feishu


def test_feishu_url_verification_answers_the_challenge(client: httpx.Client) -> None:
    challenge: dict[str, object] = {
        "challenge": "ajls384kdjx98XX",
        "token": "vt_8HkP2mZ",
        "type": "url_verification",
    }
    response = feishu_post(client, challenge, NOW, signed=False)
    assert response.status_code == 200
    assert response.json() == {"challenge": "ajls384kdjx98XX"}


def test_feishu_a_signed_encrypted_message_is_applied_and_answered_through_the_api(
    client: httpx.Client, planned: sessionmaker[Session], feishu_api: FakeFeishuApi
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_5ce6d572")
    response = feishu_post(client, event, NOW)
    assert response.status_code == 200
    assert response.json() == {}
    assert feishu_api.arrived.wait(5)
    assert feishu_api.replies == [("om_5ce6d572", PROGRESS_ANSWER)]
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)
    [event_row] = inbound_events(planned)
    assert (event_row.event_id, event_row.text) == ("ev-1", PROGRESS)


def test_feishu_the_supervisor_is_known_by_open_id(
    client: httpx.Client, planned: sessionmaker[Session], feishu_api: FakeFeishuApi
) -> None:
    feishu_post(client, feishu_event("ou_liming", "确认办结 #1", "ev-1", "om_1"), NOW)
    assert feishu_api.arrived.wait(5)
    assert feishu_api.replies == [("om_1", "第1项没有待审批的申请。")]
    [refused] = audit(planned, "reply.refused")
    assert refused.actor == "李明"


def test_feishu_a_wrong_verification_token_is_forbidden(
    client: httpx.Client, sessions: sessionmaker[Session], feishu_api: FakeFeishuApi
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1", token="vt_wrong")
    response = feishu_post(client, event, NOW)
    assert response.status_code == 403
    nothing_stored(sessions)
    assert feishu_api.replies == []


def test_feishu_an_unsigned_message_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    response = feishu_post(
        client, feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1"), NOW, signed=False
    )
    assert response.status_code == 401
    nothing_stored(sessions)


def test_feishu_an_event_that_is_no_message_is_acknowledged_and_ignored(
    client: httpx.Client, sessions: sessionmaker[Session], ctx: WebContext
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1")
    header = event["header"]
    assert isinstance(header, dict)
    header["event_type"] = "im.chat.member.bot.added_v1"
    response = feishu_post(client, event, NOW)
    assert response.status_code == 200
    assert ctx.counters[("feishu", "ignored")] == 1
    nothing_stored(sessions)


def test_feishu_an_event_sealed_and_signed_with_another_key_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1")
    response = feishu_post(client, event, NOW, key="another key")
    assert response.status_code == 401
    nothing_stored(sessions)


# The generic hook


def test_generic_a_signed_reply_is_answered_in_the_response(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = generic_post(client, "13800000002", PROGRESS, "oa-1", NOW)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": False, "reply": PROGRESS_ANSWER}
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)


def test_generic_a_replayed_message_id_is_applied_once_and_gets_the_same_answer(
    client: httpx.Client, planned: sessionmaker[Session], ctx: WebContext
) -> None:
    first = generic_post(client, "liaison2", PROGRESS, "oa-1", NOW)
    replay = generic_post(client, "liaison2", PROGRESS, "oa-1", NOW + timedelta(minutes=1))
    assert first.json() == {"ok": True, "duplicate": False, "reply": PROGRESS_ANSWER}
    assert replay.status_code == 200
    assert replay.json() == {"ok": True, "duplicate": True, "reply": PROGRESS_ANSWER}
    assert len(inbound_events(planned)) == 1
    assert [e.action for e in audit(planned)] == ["reply.progress"]
    assert ctx.counters[("generic", "duplicate")] == 1


def test_generic_a_replay_of_an_overlong_message_id_gets_the_first_answer(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    message_id = "oa-" + "9" * 300  # kept cut to 200 characters
    generic_post(client, "liaison2", PROGRESS, message_id, NOW)
    replay = generic_post(client, "liaison2", PROGRESS, message_id, NOW)
    assert replay.json() == {"ok": True, "duplicate": True, "reply": PROGRESS_ANSWER}
    assert len(audit(planned, "reply.progress")) == 1


def test_generic_a_body_over_64_kb_is_too_large(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    body = generic_body("liaison2", "进展 #1 " + "很" * 30_000, "oa-1")
    assert len(body) > 65536
    response = client.post("/hooks/generic/oa", content=body, headers=generic_headers(body, NOW))
    assert response.status_code == 413
    nothing_stored(sessions)


def test_generic_a_streamed_body_over_64_kb_is_too_large(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 4096

    response = client.post("/hooks/generic/oa", content=chunks())
    assert response.status_code == 413
    nothing_stored(sessions)


ELSEWHERE = [
    "/hooks/generic/nosuch",
    "/hooks/feishu/ding",  # the DingTalk hook's name on Feishu's path
    "/hooks/generic/qywx",
    "/hooks/dingtalk/oa",
    "/hooks/wecom/lark",
    "/hooks/teams/oa",
]


def test_an_unknown_hook_or_one_of_another_platform_is_not_found(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    body = generic_body("liaison2", PROGRESS, "oa-1")
    for path in ELSEWHERE:
        response = client.post(path, content=body, headers=generic_headers(body, NOW))
        assert response.status_code == 404, path
        assert set(response.json()) == {"error"}
    nothing_stored(sessions)


def test_generic_a_bad_signature_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    body = generic_body("liaison2", PROGRESS, "oa-1")
    headers = generic_headers(body + b" ", NOW)
    response = client.post("/hooks/generic/oa", content=body, headers=headers)
    assert response.status_code == 401
    nothing_stored(sessions)


def test_generic_text_that_no_database_column_can_hold_is_kept_readable(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    body = b'{"sender": "liaison2\\u0000", "text": "\\ud800 \\u0000", "message_id": "oa-\\u0000"}'
    response = client.post("/hooks/generic/oa", content=body, headers=generic_headers(body, NOW))
    assert response.status_code == 200
    assert response.json()["reply"] == UNKNOWN_SENDER.format(office=DEFAULT_OFFICE)
    [event] = inbound_events(sessions)
    assert (event.sender, event.text, event.event_id) == (
        "liaison2\ufffd",
        "\ufffd \ufffd",
        "oa-\ufffd",
    )
    replay = client.post("/hooks/generic/oa", content=body, headers=generic_headers(body, NOW))
    assert replay.json() == {
        "ok": True,
        "duplicate": True,
        "reply": UNKNOWN_SENDER.format(office=DEFAULT_OFFICE),
    }


# What users write is kept as written, and never echoed as a mention


SCRIPT = "<script>alert(1)</script> @all 资金未到位"


def test_a_script_and_a_mention_are_stored_as_written_and_neutralized_when_passed_on(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = generic_post(client, "liaison2", f"困难 #1 {SCRIPT}", "oa-1", NOW)
    reply = response.json()["reply"]
    assert reply == "第1项困难已记录，将报分管领导协调。"
    [event] = inbound_events(planned)
    assert event.text == f"困难 #1 {SCRIPT}"
    [blocker] = audit(planned, "reply.blocker")
    assert blocker.detail["text"] == SCRIPT
    [message] = [m.text for m in messages_of_kind(planned, "blocker")]
    assert "@all" not in message
    assert "＠all" in message
    assert "<script>alert(1)</script>" in message  # a text message: shown, never run


MENTIONING = [
    "@all 进展 #1 60% @所有人 已完成",
    '<at user_id="all">所有人</at> 帮助',
    "@all <@liaison1> 请大家看看",
    "延期 #1 2020-13-45 @13800000001",
]


def test_an_answer_never_carries_mention_syntax(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    for n, text in enumerate(MENTIONING):
        response = generic_post(client, "liaison2", text, f"oa-{n}", NOW)
        assert response.status_code == 200
        reply = response.json()["reply"]
        assert reply, text
        for marker in ("@all", "@所有人", "<at", "<@", "@1380"):
            assert marker not in reply, (text, reply)


def test_a_blocker_reaches_the_supervisor_as_a_pending_message(
    client: httpx.Client, planned: sessionmaker[Session]
) -> None:
    response = wecom_post(client, "liaison2", "困难 #1 项目资金尚未到位", "7301", NOW)
    assert open_passive_reply(response.content, seconds(NOW)).content == (
        "第1项困难已记录，将报分管领导协调。"
    )
    [message] = messages_of_kind(planned, "blocker")
    assert (message.recipient_kind, message.recipient_name, message.state) == (
        "supervisor",
        "李明",
        "pending",
    )
    assert "项目资金尚未到位" in message.text
    assert "市发改委" in message.text
    assert message.items == [{"assignment": message.items[0]["assignment"], "task": "1"}]
    assert assignment_of(planned, "1", "市发改委") == ("not_started", 0)
