"""Forged and replayed callbacks, and answers sent where they should not go (issue 15): the
real app served by uvicorn, requests signed as the platforms sign them, local servers
standing in for DingTalk's session webhook and Feishu's open API."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.platforms.feishu.api import TenantToken
from bot.replies.respond import HttpFeishuApi
from bot.web.context import WebContext
from bot.web.replay import SeenSignatures
from tests.support.web import (
    FEISHU_TOKEN,
    NOW,
    Clock,
    Sink,
    assignment_of,
    audit,
    dingtalk_event,
    dingtalk_post,
    feishu_answer,
    feishu_event,
    feishu_post,
    feishu_post_unsigned,
    inbound_events,
    message_count,
)

pytestmark = pytest.mark.slow  # the app served by uvicorn for each test

PROGRESS = "进展 #1 60% 已完成立项"
PROGRESS_ANSWER = "已收到第1项进展（60%），谢谢。"
FORGED = "完成 #1 指标均已达成"


def nothing_stored(sessions: sessionmaker[Session]) -> None:
    assert inbound_events(sessions) == []
    assert audit(sessions) == []
    assert message_count(sessions) == 0


def processed(sessions: sessionmaker[Session], count: int = 1) -> None:
    """Waits until `count` kept events have been acted on."""
    deadline = time.monotonic() + 5
    while [e.state for e in inbound_events(sessions)] != ["processed"] * count:
        assert time.monotonic() < deadline, [e.state for e in inbound_events(sessions)]
        time.sleep(0.02)


# DingTalk: the sign covers the timestamp, not the body


@pytest.fixture
def webhook(sink: Sink) -> str:
    return sink.url("/robot/sendBySession?session=c3f1b2")


def dingtalk_body(text: str, msg_id: str, webhook: str, **changes: object) -> bytes:
    event = dingtalk_event("liaison2", text, msg_id, NOW, webhook) | changes
    return json.dumps(event, ensure_ascii=False).encode()


def test_dingtalk_a_captured_signature_cannot_carry_another_message(
    client: httpx.Client, planned: sessionmaker[Session], sink: Sink, webhook: str
) -> None:
    genuine = dingtalk_post(client, dingtalk_body(PROGRESS, "msgA1", webhook), NOW)
    assert genuine.status_code == 200
    sink.wait(1)
    # The same timestamp and sign headers, under a body of the attacker's choosing.
    forged = dingtalk_post(client, dingtalk_body(FORGED, "msgA2", webhook), NOW)
    assert forged.status_code == 403
    assert forged.json() == {"error": "signature already used"}
    assert [e.event_id for e in inbound_events(planned)] == ["msgA1"]
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)
    time.sleep(0.1)
    assert len(sink.posted) == 1


def test_dingtalk_a_captured_signature_is_refused_by_another_daemon_too(
    client: httpx.Client, planned: sessionmaker[Session], ctx: WebContext, sink: Sink, webhook: str
) -> None:
    assert dingtalk_post(client, dingtalk_body(PROGRESS, "msgA1", webhook), NOW).is_success
    sink.wait(1)
    # Another daemon behind the same URL: its memory has not seen the pair; the database has.
    ctx.signatures = SeenSignatures()
    forged = dingtalk_post(client, dingtalk_body(FORGED, "msgA2", webhook), NOW)
    assert forged.status_code == 200  # taken as received before, and not acted on
    assert ctx.counters[("dingtalk", "duplicate")] == 1
    assert [e.event_id for e in inbound_events(planned)] == ["msgA1"]
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)
    time.sleep(0.1)
    assert len(sink.posted) == 1


def test_dingtalk_a_signature_sent_again_with_its_own_message_is_a_retry(
    client: httpx.Client, planned: sessionmaker[Session], ctx: WebContext, sink: Sink, webhook: str
) -> None:
    body = dingtalk_body(PROGRESS, "msgA1", webhook)
    assert dingtalk_post(client, body, NOW).status_code == 200
    assert dingtalk_post(client, body, NOW).status_code == 200
    assert ctx.counters[("dingtalk", "duplicate")] == 1
    sink.wait(1)
    assert len(audit(planned, "reply.progress")) == 1


def test_dingtalk_a_signature_is_forgotten_once_it_would_be_stale(
    client: httpx.Client,
    planned: sessionmaker[Session],
    ctx: WebContext,
    clock: Clock,
    webhook: str,
) -> None:
    for n in range(3):
        moment = NOW + timedelta(seconds=n)
        assert dingtalk_post(client, dingtalk_body(PROGRESS, f"m{n}", webhook), moment).is_success
    assert len(ctx.signatures) == 3
    clock.now = NOW + timedelta(hours=1, seconds=1, milliseconds=500)
    later = NOW + timedelta(hours=1)
    assert dingtalk_post(client, dingtalk_body(PROGRESS, "m9", webhook), later).is_success
    assert len(ctx.signatures) == 2  # the first two are void by now; the last and the new


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"chatbotCorpId": "dingother0corp"}, id="another organisation"),
        pytest.param({"robotCode": "dingotherrobot"}, id="another robot"),
        pytest.param({"chatbotCorpId": None}, id="no organisation"),
        pytest.param({"robotCode": None}, id="no robot"),
    ],
)
def test_dingtalk_a_message_to_another_organisation_or_robot_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session], webhook: str, changes: dict[str, object]
) -> None:
    response = dingtalk_post(client, dingtalk_body(PROGRESS, "msgA1", webhook, **changes), NOW)
    assert response.status_code == 403
    nothing_stored(sessions)


# DingTalk: the answer goes to the session webhook only on the platform's hosts


@pytest.fixture
def outsider() -> Iterator[Sink]:
    """A server the answer must never reach (an internal address, a collector outside)."""
    outsider = Sink()
    outsider.thread.start()
    yield outsider
    outsider.server.shutdown()
    outsider.server.server_close()


def test_dingtalk_a_session_webhook_off_the_allowed_hosts_gets_no_request(
    client: httpx.Client,
    planned: sessionmaker[Session],
    outsider: Sink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = dingtalk_body("待办", "msgA1", outsider.url("/internal/admin?drop=all"))
    with caplog.at_level(logging.WARNING, logger="duban.replies"):
        assert dingtalk_post(client, body, NOW).status_code == 200
        processed(planned)
        time.sleep(0.1)
    assert outsider.posted == []
    assert any("not an allowed host" in r.getMessage() for r in caplog.records)
    assert all("drop=all" not in r.getMessage() for r in caplog.records)


# Feishu: a message id goes into the reply's URL path


@pytest.fixture
def feishu_server() -> Iterator[Sink]:
    """Feishu's open API on 127.0.0.1: a tenant token, then success for every reply."""
    server = Sink(feishu_answer)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def feishu_api(feishu_server: Sink) -> Iterator[HttpFeishuApi]:
    """The real open-API client (the app's own), pointed at the local server."""
    with httpx.Client() as http:
        yield HttpFeishuApi(
            TenantToken(http, "cli_9f5343c580712013", "feishu-app-secret", feishu_server.origin)
        )


def test_feishu_the_answer_is_a_reply_to_the_message_over_the_open_api(
    client: httpx.Client, planned: sessionmaker[Session], feishu_server: Sink
) -> None:
    message_id = "om_dc13264520392913993dd051dba21dcf"
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", message_id)
    assert feishu_post(client, event, NOW).status_code == 200
    token, reply = feishu_server.wait(2)
    assert token.path == "/open-apis/auth/v3/tenant_access_token/internal"
    assert reply.path == f"/open-apis/im/v1/messages/{message_id}/reply"
    assert reply.headers["Authorization"] == "Bearer t-sink"
    assert json.loads(reply.body["content"]) == {"text": PROGRESS_ANSWER}


@pytest.mark.parametrize(
    "message_id",
    [
        "../../open-apis/contact/v3/users/batch_delete?x=",
        "om_1/../../../contact/v3/users/batch_delete",
        "om_1?user_id_type=open_id",
        "om_1%2F..%2F..",
        "om_1#",
        "https://collector.example.com/",
    ],
)
def test_feishu_a_message_id_that_is_no_id_is_refused_and_reaches_no_api(
    client: httpx.Client,
    sessions: sessionmaker[Session],
    feishu_server: Sink,
    message_id: str,
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", message_id)
    response = feishu_post(client, event, NOW)
    assert response.status_code == 400
    nothing_stored(sessions)
    time.sleep(0.1)
    assert feishu_server.posted == []


# Feishu: unsigned events only when allowed, never stale; no token kept


def created(event: dict[str, object], moment: datetime) -> dict[str, object]:
    header = event["header"]
    assert isinstance(header, dict)
    header["create_time"] = str(int(moment.timestamp() * 1000))
    return event


def test_feishu_an_unsigned_hook_takes_a_fresh_event(
    client: httpx.Client, planned: sessionmaker[Session], feishu_server: Sink
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1")
    response = feishu_post_unsigned(client, created(event, NOW - timedelta(minutes=59)))
    assert response.status_code == 200
    feishu_server.wait(2)
    assert assignment_of(planned, "1", "市发改委") == ("in_progress", 60)


@pytest.mark.parametrize(
    "age", [timedelta(hours=1, seconds=1), timedelta(days=30), -timedelta(hours=2)]
)
def test_feishu_an_unsigned_event_that_is_not_fresh_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session], feishu_server: Sink, age: timedelta
) -> None:
    event = created(feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1"), NOW - age)
    response = feishu_post_unsigned(client, event)
    assert response.status_code == 403
    nothing_stored(sessions)
    assert feishu_server.posted == []


def test_feishu_an_unsigned_event_without_its_time_is_refused(
    client: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1")
    header = event["header"]
    assert isinstance(header, dict)
    del header["create_time"]
    assert feishu_post_unsigned(client, event).status_code == 400
    nothing_stored(sessions)


@pytest.mark.parametrize("signed", [True, False], ids=["encrypted", "unsigned"])
def test_feishu_the_verification_token_is_not_kept_with_the_event(
    client: httpx.Client, planned: sessionmaker[Session], feishu_server: Sink, signed: bool
) -> None:
    event = feishu_event("ou_liaison2", PROGRESS, "ev-1", "om_1")
    event["token"] = FEISHU_TOKEN  # where v1 events carried it
    response = feishu_post(client, event, NOW) if signed else feishu_post_unsigned(client, event)
    assert response.status_code == 200
    feishu_server.wait(2)
    [kept] = inbound_events(planned)
    assert FEISHU_TOKEN not in json.dumps(kept.payload)
    assert kept.payload["header"]["event_id"] == "ev-1"
