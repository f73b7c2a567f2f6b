"""The platform emulator, driven with plain httpx: answers, error codes, signatures, faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.emulator import (
    FaultKind,
    Platform,
    PlatformEmulator,
    VirtualClock,
    dingtalk_sign,
    feishu_sign,
    webhook_signature,
)

VECTOR_SECONDS = 1599360473
DINGTALK_SECRET = "this is secret"
DINGTALK_SIGN = "hXZTWifRGHclNuZSKxoXc//sh51SWfVfRIhcdeKs63I="
DINGTALK_SIGN_ENCODED = "hXZTWifRGHclNuZSKxoXc%2F%2Fsh51SWfVfRIhcdeKs63I%3D"
FEISHU_SIGN = "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(VECTOR_SECONDS)


@pytest.fixture
def emu(clock: VirtualClock) -> Iterator[PlatformEmulator]:
    with PlatformEmulator(clock=clock, slow_seconds=0.5) as emulator:
        yield emulator


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def wecom_text(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def dingtalk_text(content: str, mobiles: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"msgtype": "text", "text": {"content": content}}
    if mobiles is not None:
        body["at"] = {"atMobiles": mobiles, "isAtAll": False}
    return body


def feishu_text(content: str, **signing: str) -> dict[str, Any]:
    return {"msg_type": "text", "content": {"text": content}, **signing}


def body_of_size(make: Callable[[str], dict[str, Any]], size: int) -> bytes:
    """A serialized body of exactly `size` bytes, padded with Chinese text (3 bytes a char)."""
    overhead = len(json.dumps(make(""), ensure_ascii=False).encode())
    padding = "中" * ((size - overhead) // 3) + "a" * ((size - overhead) % 3)
    raw = json.dumps(make(padding), ensure_ascii=False).encode()
    assert len(raw) == size
    return raw


def post_json(client: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = client.post(url, json=body).json()
    return answer


# -- signing helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "ms", "sign"),
    [
        (DINGTALK_SECRET, 1599360473000, DINGTALK_SIGN),
        ("SEC1234567890abcdef", 1577262236757, "f7qQ1A8KagEZ45y1gasTtKsEq5ERTeDXP9T+WkIqzDk="),
        (DINGTALK_SECRET, 1577262236757, "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="),
    ],
)
def test_it_signs_dingtalk_like_the_protocol_vectors(secret: str, ms: int, sign: str) -> None:
    assert dingtalk_sign(secret, ms) == sign


def test_it_signs_feishu_like_the_protocol_vector() -> None:
    assert feishu_sign("demo", VECTOR_SECONDS) == FEISHU_SIGN


# -- WeCom ----------------------------------------------------------------------------------


def test_it_accepts_and_records_a_wecom_message(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_wecom("k1")
    assert url == f"{emu.base_url}/cgi-bin/webhook/send?key=k1"
    response = client.post(url, json=wecom_text("请报送进展"))
    assert response.status_code == 200
    assert response.json() == {"errcode": 0, "errmsg": "ok"}
    [record] = emu.accepted("wecom", "k1")
    assert record.body == wecom_text("请报送进展")
    assert json.loads(record.raw) == record.body
    assert (record.at, record.answer, record.mention_shown) == (clock(), response.json(), None)


def test_it_answers_93000_for_an_unknown_wecom_key(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    answer = post_json(client, emu.wecom_url("nobody"), wecom_text("hi"))
    assert answer == {"errcode": 93000, "errmsg": "invalid webhook url"}
    assert emu.accepted() == []
    [record] = emu.received
    assert not record.accepted
    assert record.answer == answer


@pytest.mark.parametrize(("msgtype", "limit"), [("text", 2048), ("markdown", 4096)])
def test_it_limits_wecom_content_in_utf8_bytes(
    emu: PlatformEmulator, client: httpx.Client, msgtype: str, limit: int
) -> None:
    url = emu.add_wecom("k1")

    def send(content: str) -> int:
        return int(
            post_json(client, url, {"msgtype": msgtype, msgtype: {"content": content}})["errcode"]
        )

    assert send("a" * limit) == 0
    assert send("中" * (limit // 3)) == 0
    assert send("a" * (limit - 1) + "中") == 40058
    assert send("中" * (limit // 3 + 1)) == 40058


def test_wecom_takes_20_messages_in_any_rolling_minute(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_wecom("k1")
    codes = []
    for _ in range(10):
        codes.append(post_json(client, url, wecom_text("x"))["errcode"])
    clock.advance(30)
    for _ in range(11):
        codes.append(post_json(client, url, wecom_text("x"))["errcode"])
    assert codes == [0] * 20 + [45009]
    assert post_json(client, url, wecom_text("x"))["errmsg"] == "api freq out of limit"
    clock.advance(29.9)
    assert post_json(client, url, wecom_text("x"))["errcode"] == 45009
    clock.advance(0.1)  # the first ten leave the window
    assert [post_json(client, url, wecom_text("x"))["errcode"] for _ in range(11)] == [0] * 10 + [
        45009
    ]
    assert emu.max_in_window("k1", 60) == 20


# -- DingTalk -------------------------------------------------------------------------------


def test_it_accepts_an_unsigned_dingtalk_message(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    url = emu.add_dingtalk("t1")
    assert url == f"{emu.base_url}/robot/send?access_token=t1"
    assert post_json(client, url, dingtalk_text("hi")) == {"errcode": 0, "errmsg": "ok"}


def test_it_answers_300001_for_an_unknown_dingtalk_token(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    answer = post_json(client, emu.dingtalk_url("nobody"), dingtalk_text("hi"))
    assert answer == {"errcode": 300001, "errmsg": "token is not exist"}


@pytest.mark.parametrize(
    ("now", "ms", "encoded_sign"),
    [
        (VECTOR_SECONDS, 1599360473000, DINGTALK_SIGN_ENCODED),
        (1577262236.757, 1577262236757, "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"),
    ],
)
def test_it_accepts_a_dingtalk_sign_encoded_once(
    emu: PlatformEmulator,
    client: httpx.Client,
    clock: VirtualClock,
    now: float,
    ms: int,
    encoded_sign: str,
) -> None:
    clock.set(now)
    url = emu.add_dingtalk("t1", secret=DINGTALK_SECRET)
    signed = f"{url}&timestamp={ms}&sign={encoded_sign}"
    assert post_json(client, signed, dingtalk_text("hi"))["errcode"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "&timestamp=1599360473000",
        f"&sign={DINGTALK_SIGN_ENCODED}",
        f"&timestamp=1599360474000&sign={DINGTALK_SIGN_ENCODED}",
        "&timestamp=1599360473000&sign=hXZTWifRGHclNuZSKxoXc%252F%252Fsh51SWfVfRIhcdeKs63I%253D",
    ],
    ids=["unsigned", "no-sign", "no-timestamp", "other-timestamp", "double-encoded"],
)
def test_it_answers_310000_for_a_bad_dingtalk_sign(
    emu: PlatformEmulator, client: httpx.Client, query: str
) -> None:
    url = emu.add_dingtalk("t1", secret=DINGTALK_SECRET)
    answer = post_json(client, url + query, dingtalk_text("hi"))
    assert answer == {"errcode": 310000, "errmsg": "sign not match"}


def test_it_rejects_an_unencoded_plus_in_a_dingtalk_sign(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    clock.set(1577262236.757)
    url = emu.add_dingtalk("t1", secret=DINGTALK_SECRET)
    raw_sign = "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="  # "+" decodes to a space
    answer = post_json(client, f"{url}&timestamp=1577262236757&sign={raw_sign}", dingtalk_text("x"))
    assert answer["errcode"] == 310000


@pytest.mark.parametrize("drift", [-3601.0, 3601.0])
def test_it_answers_310000_for_a_dingtalk_timestamp_over_an_hour_off(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock, drift: float
) -> None:
    url = emu.add_dingtalk("t1", secret=DINGTALK_SECRET)
    signed = f"{url}&timestamp=1599360473000&sign={DINGTALK_SIGN_ENCODED}"
    clock.advance(drift)
    answer = post_json(client, signed, dingtalk_text("hi"))
    assert answer == {"errcode": 310000, "errmsg": "invalid timestamp"}
    clock.advance(-drift / abs(drift) * 2)  # back within the hour
    assert post_json(client, signed, dingtalk_text("hi"))["errcode"] == 0


def test_it_answers_460101_for_a_dingtalk_body_over_20000_bytes(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    url = emu.add_dingtalk("t1")
    fits = body_of_size(dingtalk_text, 20_000)
    assert client.post(url, content=fits).json()["errcode"] == 0
    too_long = body_of_size(dingtalk_text, 20_001)
    assert client.post(url, content=too_long).json()["errcode"] == 460101


def test_dingtalk_throttles_a_robot_for_ten_minutes_after_the_21st_message(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_dingtalk("t1")
    codes = [post_json(client, url, dingtalk_text("x"))["errcode"] for _ in range(21)]
    assert codes == [0] * 20 + [130101]
    clock.advance(61)  # the minute has passed, the penalty has not
    assert post_json(client, url, dingtalk_text("x")) == {
        "errcode": 130101,
        "errmsg": "send too fast",
    }
    clock.advance(600 - 61 - 0.001)
    assert post_json(client, url, dingtalk_text("x"))["errcode"] == 130101
    clock.advance(0.001)
    assert post_json(client, url, dingtalk_text("x"))["errcode"] == 0
    assert emu.max_in_window("t1", 60) == 20


def test_dingtalk_throttles_only_the_robot_that_sent_too_fast(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    fast, calm = emu.add_dingtalk("fast"), emu.add_dingtalk("calm")
    for _ in range(21):
        post_json(client, fast, dingtalk_text("x"))
    assert post_json(client, calm, dingtalk_text("x"))["errcode"] == 0


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (dingtalk_text("请 @13800000001 报送", ["13800000001"]), True),
        (dingtalk_text("请报送", ["13800000001"]), False),
        (dingtalk_text("@13800000001 请报送", ["13800000001", "13800000002"]), False),
        (dingtalk_text("请报送"), None),
        (
            {
                "msgtype": "markdown",
                "markdown": {"title": "t", "text": "@u1 请报送"},
                "at": {"atUserIds": ["u1"]},
            },
            True,
        ),
    ],
)
def test_it_records_whether_a_dingtalk_mention_shows(
    emu: PlatformEmulator, client: httpx.Client, body: dict[str, Any], shown: bool | None
) -> None:
    url = emu.add_dingtalk("t1")
    assert post_json(client, url, body)["errcode"] == 0
    [record] = emu.accepted("dingtalk")
    assert record.mention_shown is shown


# -- Feishu ---------------------------------------------------------------------------------


def test_it_accepts_a_feishu_message(emu: PlatformEmulator, client: httpx.Client) -> None:
    url = emu.add_feishu("f1")
    assert url == f"{emu.base_url}/open-apis/bot/v2/hook/f1"
    response = client.post(url, json=feishu_text("hi"))
    assert response.status_code == 200
    assert response.json() == {"code": 0, "msg": "success", "data": {}}


def test_it_answers_19001_for_an_unknown_feishu_token(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    response = client.post(emu.feishu_url("nobody"), json=feishu_text("hi"))
    assert response.status_code == 200
    assert response.json() == {
        "code": 19001,
        "msg": "param invalid: incoming webhook access token invalid",
    }


def test_it_accepts_the_feishu_sign_vector(emu: PlatformEmulator, client: httpx.Client) -> None:
    url = emu.add_feishu("f1", secret="demo")
    body = feishu_text("hi", timestamp=str(VECTOR_SECONDS), sign=FEISHU_SIGN)
    assert post_json(client, url, body)["code"] == 0


@pytest.mark.parametrize(
    ("drift", "signing"),
    [
        (0.0, {}),
        (0.0, {"timestamp": str(VECTOR_SECONDS)}),
        (0.0, {"timestamp": str(VECTOR_SECONDS + 1), "sign": FEISHU_SIGN}),
        (3601.0, {"timestamp": str(VECTOR_SECONDS), "sign": FEISHU_SIGN}),
        (-3601.0, {"timestamp": str(VECTOR_SECONDS), "sign": FEISHU_SIGN}),
    ],
    ids=["unsigned", "no-sign", "other-timestamp", "an-hour-late", "an-hour-early"],
)
def test_it_answers_19021_for_a_bad_feishu_sign(
    emu: PlatformEmulator,
    client: httpx.Client,
    clock: VirtualClock,
    drift: float,
    signing: dict[str, str],
) -> None:
    url = emu.add_feishu("f1", secret="demo")
    clock.advance(drift)
    response = client.post(url, json=feishu_text("hi", **signing))
    assert response.status_code == 200
    assert response.json() == {
        "code": 19021,
        "msg": "sign match fail or timestamp is not within one hour from current time",
    }


def test_it_answers_9499_with_http_400_for_a_feishu_body_over_20000_bytes(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    url = emu.add_feishu("f1")
    fits = body_of_size(feishu_text, 20_000)
    assert client.post(url, content=fits).json()["code"] == 0
    response = client.post(url, content=body_of_size(feishu_text, 20_001))
    assert response.status_code == 400
    assert response.json() == {"code": 9499, "msg": "Bad Request"}


def test_feishu_takes_5_messages_a_second(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_feishu("f1")
    responses = [client.post(url, json=feishu_text("x")) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [400]
    assert responses[-1].json() == {"code": 9499, "msg": "too many request"}
    clock.advance(1.0)
    assert post_json(client, url, feishu_text("x"))["code"] == 0


def test_feishu_takes_100_messages_a_minute(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_feishu("f1")
    for _ in range(20):
        for _ in range(5):
            assert post_json(client, url, feishu_text("x"))["code"] == 0
        clock.advance(1.0)
    assert client.post(url, json=feishu_text("x")).status_code == 400
    clock.advance(40.0)  # the first second's five leave the window
    assert post_json(client, url, feishu_text("x"))["code"] == 0
    assert emu.max_in_window("f1", 60, platform="feishu") == 100
    assert emu.max_in_window("f1", 1) == 5


# -- generic webhook ------------------------------------------------------------------------


def signed_headers(secret: str, timestamp: float, body: bytes) -> dict[str, str]:
    ts = str(int(timestamp))
    return {
        "Content-Type": "application/json",
        "X-Duban-Timestamp": ts,
        "X-Duban-Signature": webhook_signature(secret, ts, body),
    }


def test_it_accepts_an_unsigned_generic_webhook(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    url = emu.add_webhook("ops")
    assert url == f"{emu.base_url}/hooks/ops"
    response = client.post(url, json={"text": "hi"})
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert emu.accepted("webhook", "ops")[0].body == {"text": "hi"}


def test_it_checks_the_generic_webhook_signature(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_webhook("ops", secret="s3cret")
    body = b'{"text": "hi"}'
    good = signed_headers("s3cret", clock(), body)
    assert client.post(url, content=body, headers=good).status_code == 200
    wrong = signed_headers("other", clock(), body)
    assert client.post(url, content=body, headers=wrong).status_code == 401
    assert client.post(url, content=body + b" ", headers=good).status_code == 401
    assert client.post(url, json={"text": "hi"}).status_code == 401
    stale = signed_headers("s3cret", clock() - 301, body)
    assert client.post(url, content=body, headers=stale).json() == {
        "ok": False,
        "error": "stale timestamp",
    }
    assert len(emu.accepted("webhook")) == 1


def test_it_answers_404_for_an_unknown_generic_webhook(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    assert client.post(emu.webhook_url("nobody"), json={"text": "hi"}).status_code == 404
    assert client.post(f"{emu.base_url}/elsewhere", json={}).status_code == 404


# -- faults ---------------------------------------------------------------------------------


def test_it_fails_the_next_requests_with_http_errors(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    url = emu.add_wecom("k1")
    emu.fail_next(2, "http500")
    emu.fail_next(1, "http502")
    statuses = [client.post(url, json=wecom_text("x")).status_code for _ in range(4)]
    assert statuses == [500, 500, 502, 200]
    assert [r.fault for r in emu.received] == ["http500", "http500", "http502", None]
    assert len(emu.accepted()) == 1


def test_it_scopes_faults_to_a_platform_or_a_key(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    a, b, feishu = emu.add_wecom("a"), emu.add_wecom("b"), emu.add_feishu("a")
    emu.fail_next(1, "http500", platform="wecom", key="a")
    emu.fail_next(1, "http502", platform="feishu")
    assert client.post(b, json=wecom_text("x")).status_code == 200
    assert client.post(feishu, json=feishu_text("x")).status_code == 502
    assert client.post(a, json=wecom_text("x")).status_code == 500
    assert client.post(a, json=wecom_text("x")).status_code == 200


def test_a_dropped_connection_gets_no_answer(emu: PlatformEmulator, client: httpx.Client) -> None:
    url = emu.add_dingtalk("t1")
    emu.fail_next(1, "drop")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post(url, json=dingtalk_text("x"))
    assert post_json(client, url, dingtalk_text("x"))["errcode"] == 0
    assert [(r.status, r.accepted) for r in emu.received] == [(0, False), (200, True)]


@pytest.mark.parametrize(
    ("fault", "delivered", "status"),
    [("slow", True, 200), ("hang", False, 504)],
    ids=["a slow answer delivers", "a hung request delivers nothing"],
)
def test_a_slow_answer_or_a_hung_request_times_the_client_out(
    emu: PlatformEmulator, client: httpx.Client, fault: FaultKind, delivered: bool, status: int
) -> None:
    url = emu.add_feishu("f1")
    emu.fail_next(1, fault)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post(url, json=feishu_text("x"), timeout=0.1)
    assert time.monotonic() - started < 0.4
    assert [(r.fault, r.status, r.accepted) for r in emu.received] == [(fault, status, delivered)]


@pytest.mark.parametrize(
    ("platform", "status", "answer"),
    [
        ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
        ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast"}),
        ("feishu", 400, {"code": 9499, "msg": "too many request"}),
        ("webhook", 429, {"ok": False, "error": "too many requests"}),
    ],
)
def test_a_rate_limit_fault_answers_the_platforms_code(
    emu: PlatformEmulator,
    client: httpx.Client,
    platform: Platform,
    status: int,
    answer: dict[str, Any],
) -> None:
    adders: dict[Platform, Callable[[str], str]] = {
        "wecom": emu.add_wecom,
        "dingtalk": emu.add_dingtalk,
        "feishu": emu.add_feishu,
        "webhook": emu.add_webhook,
    }
    url = adders[platform]("r1")
    emu.fail_next(1, "rate_limit")
    response = client.post(url, json=wecom_text("x"))
    assert (response.status_code, response.json()) == (status, answer)
    assert client.post(url, json=wecom_text("x")).status_code == 200


def run_with_fault_rate(seed: int) -> list[int]:
    with PlatformEmulator() as emulator, httpx.Client() as http:
        url = emulator.add_wecom("k1")
        emulator.set_fault_rate(0.5, ["http500", "http502"], seed=seed)
        return [http.post(url, json=wecom_text("x")).status_code for _ in range(12)]


def test_a_fault_rate_is_deterministic_for_a_seed() -> None:
    first, again, other = run_with_fault_rate(7), run_with_fault_rate(7), run_with_fault_rate(8)
    assert first == again
    assert first != other
    assert {200, 500, 502} <= set(first) | set(other)


def test_the_most_specific_fault_rate_wins(emu: PlatformEmulator, client: httpx.Client) -> None:
    a, b = emu.add_wecom("a"), emu.add_wecom("b")
    emu.set_fault_rate(1.0, ["http500"])
    emu.set_fault_rate(1.0, ["http502"], key="a")
    assert client.post(a, json=wecom_text("x")).status_code == 502
    assert client.post(b, json=wecom_text("x")).status_code == 500
    emu.set_fault_rate(0.0, ["http500"])
    assert client.post(b, json=wecom_text("x")).status_code == 200
    emu.clear_faults()
    assert client.post(a, json=wecom_text("x")).status_code == 200


@pytest.mark.parametrize(
    ("rate", "kinds"), [(1.5, ["http500"]), (-0.1, ["http500"]), (0.5, ["boom"]), (0.5, [])]
)
def test_it_refuses_a_bad_fault_rate(emu: PlatformEmulator, rate: float, kinds: list[Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        emu.set_fault_rate(rate, kinds)


def test_it_refuses_an_unknown_fault_kind(emu: PlatformEmulator) -> None:
    kind: Any = "boom"
    with pytest.raises(ValueError, match="fault kinds"):
        emu.fail_next(1, kind)


# -- latency, records, lifecycle ------------------------------------------------------------


def test_latency_delays_every_answer_but_serves_requests_in_parallel() -> None:
    with PlatformEmulator(latency=0.2) as emulator, httpx.Client() as http:
        url = emulator.add_wecom("k1")

        def send(_: int) -> float:
            started = time.monotonic()
            http.post(url, json=wecom_text("x"))
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            durations = list(pool.map(send, range(8)))
        assert min(durations) >= 0.2
        assert time.monotonic() - started < 0.2 * 4


def test_max_in_window_counts_any_rolling_window(
    emu: PlatformEmulator, client: httpx.Client, clock: VirtualClock
) -> None:
    url = emu.add_wecom("k1")
    for step in (0.0, 10.0, 49.9, 0.1, 60.0):  # at 0, 10, 59.9, 60, 120
        clock.advance(step)
        post_json(client, url, wecom_text("x"))
    assert emu.max_in_window("k1", 60) == 3
    assert emu.max_in_window("k1", 0.5) == 2
    assert emu.max_in_window("k1", 1000) == 5
    assert emu.max_in_window("other", 60) == 0


def test_wait_for_blocks_until_messages_arrive(emu: PlatformEmulator) -> None:
    url = emu.add_wecom("k1")
    sender = threading.Timer(0.05, lambda: httpx.post(url, json=wecom_text("x")))
    sender.start()
    [record] = emu.wait_for(1, timeout=2.0, key="k1")
    sender.join()
    assert record.key == "k1"
    with pytest.raises(TimeoutError):
        emu.wait_for(2, timeout=0.05)


def test_clear_forgets_records_but_not_rate_windows(
    emu: PlatformEmulator, client: httpx.Client
) -> None:
    url = emu.add_wecom("k1")
    for _ in range(20):
        post_json(client, url, wecom_text("x"))
    emu.clear()
    assert emu.received == []
    assert post_json(client, url, wecom_text("x"))["errcode"] == 45009


def test_it_stops_answering_when_the_block_ends() -> None:
    with httpx.Client() as http:
        with PlatformEmulator() as emulator:
            url = emulator.add_wecom("k1")
            assert http.post(url, json=wecom_text("x")).status_code == 200
        with pytest.raises(httpx.TransportError):
            http.post(url, json=wecom_text("x"))
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.base_url
