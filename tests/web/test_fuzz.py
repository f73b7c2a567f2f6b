"""No request, however malformed, gets a 5xx from a hook: arbitrary bodies, headers and query
strings, unsigned and signed (so that what is inside is read too). In-process (the ASGI app
under a TestClient, with its lifespan) on SQLite, for speed."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.config import DirectorySettings, Settings
from bot.intake.directory import load_directory
from bot.intake.importing import import_file
from bot.platforms.dingtalk import callback as dingtalk
from bot.platforms.feishu import callback as feishu
from bot.platforms.wecom.callback import callback_body
from bot.store import database
from bot.web.app import create_app
from bot.web.context import WebContext
from tests.support.strategies import json_bytes, json_objects, json_values, xml_documents
from tests.support.web import (
    DINGTALK_SECRET,
    FEISHU_KEY,
    HOOKS,
    IMPORTED,
    NOW,
    WECOM,
    Clock,
    FakeFeishuApi,
    generic_headers,
    millis,
    seconds,
    write_directory,
    write_plan,
)

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what this project has
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HEADER_NAMES = [
    "timestamp",
    "sign",
    feishu.TIMESTAMP_HEADER,
    feishu.NONCE_HEADER,
    feishu.SIGNATURE_HEADER,
    "X-Duban-Timestamp",
    "X-Duban-Signature",
    "Content-Type",
]
headers_st = st.dictionaries(st.sampled_from(HEADER_NAMES), st.text(ASCII, max_size=40), max_size=6)
query_st = st.dictionaries(
    st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]) | st.text(max_size=5),
    st.text(max_size=40),
    max_size=5,
)
paths = st.sampled_from(
    [
        "/hooks/wecom/qywx",
        "/hooks/dingtalk/ding",
        "/hooks/feishu/lark",
        "/hooks/generic/oa",
        "/hooks/generic/nosuch",
        "/hooks/feishu/ding",
        "/hooks/nosuch/oa",
        "/hooks/wecom/",
    ]
)
texts = (
    st.sampled_from(["进展 #1 60% 已完成", "完成 #1", "确认办结 #50", "帮助", "待办"]) | st.text()
)
senders = st.sampled_from(["liaison2", "liaison3", "liming", "ducha", "13800000002"]) | st.text()
# NUL, control characters and lone surrogates: JSON carries them, database columns do not.
wild = st.text(st.characters(categories=["Cs", "Cc", "Lo"]), max_size=10)


@dataclass
class App:
    client: TestClient
    ctx: WebContext


@pytest.fixture(scope="module")
def app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(sqlite_template, folder / "duban.db")
    engine = database.make_engine(f"sqlite:///{folder / 'duban.db'}")
    sessions = database.session_factory(engine)
    directory = write_directory(folder)
    import_file(
        sessions,
        write_plan(folder),
        load_directory(directory),
        timezone="Asia/Shanghai",
        now=IMPORTED,
    )
    # Answers go nowhere: DingTalk's session webhooks are whatever the bodies say.
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json={})))
    with pytest.MonkeyPatch.context() as env:
        env.delenv("DUBAN_CONFIG", raising=False)
        settings_ = Settings(directory=DirectorySettings(path=directory), inbound=HOOKS)
    ctx = WebContext(
        settings_,
        sessions,
        clock=Clock(NOW),
        http=http,
        feishu_api=lambda config, client: FakeFeishuApi(),
    )
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        yield App(client, ctx)
    http.close()
    engine.dispose()


def no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}


@settings(max_examples=50, deadline=None)
@given(path=paths, body=st.binary(max_size=300), headers=headers_st, query=query_st)
def test_arbitrary_requests_never_get_a_server_error(
    app: App, path: str, body: bytes, headers: dict[str, str], query: dict[str, str]
) -> None:
    no_server_error(app.client.post(path, content=body, headers=headers, params=query))


@settings(max_examples=50, deadline=None)
@given(query=query_st)
def test_arbitrary_wecom_url_checks_never_get_a_server_error(
    app: App, query: dict[str, str]
) -> None:
    no_server_error(app.client.get("/hooks/wecom/qywx", params=query))


@settings(max_examples=50, deadline=None)
@given(
    inner=xml_documents(["FromUserName", "MsgType", "Content", "MsgId", "CreateTime", "ToUserName"])
    | st.builds(
        lambda sender, text, msg_id: (
            f"<xml><FromUserName>{sender}</FromUserName><MsgType>text</MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
        ),
        st.sampled_from(["liaison2", "liaison3", "ducha", "x"]),
        texts.map(lambda t: t.replace("]]>", "")),
        st.integers(0, 10**6),
    ),
    nonce=st.text(max_size=12),
    lag=st.integers(-7200, 7200),
)
def test_signed_wecom_messages_never_get_a_server_error(
    app: App, inner: str, nonce: str, lag: int
) -> None:
    encrypt = WECOM.encrypt(inner)
    timestamp = str(int(NOW.timestamp()) + lag)
    query = {
        "msg_signature": WECOM.signature(timestamp, nonce, encrypt),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = callback_body(encrypt, "wx5823bf96d3bd56c7", "1000002")
    no_server_error(app.client.post("/hooks/wecom/qywx", params=query, content=body))


DINGTALK_KEYS = [
    "msgtype",
    "text",
    "msgId",
    "createAt",
    "senderId",
    "senderStaffId",
    "conversationId",
    "sessionWebhook",
    "sessionWebhookExpiredTime",
]


def dingtalk_like() -> st.SearchStrategy[bytes]:
    """Bodies that mostly look like DingTalk's: the keys it sends, any values."""
    valid = st.builds(
        lambda msg_id, sender, text, webhook: json.dumps(
            {
                "msgtype": "text",
                "text": {"content": text},
                "msgId": msg_id,
                "senderStaffId": sender,
                "sessionWebhook": webhook,
                "sessionWebhookExpiredTime": int(millis(NOW)) + 60_000,
            }
        ).encode(),
        st.text(min_size=1, max_size=20) | wild,
        senders | wild,
        texts | wild,
        st.sampled_from(["http://127.0.0.1:9/robot", "http://[::1", "ftp://x", ""]) | st.text(),
    )
    return valid | json_bytes(json_objects(DINGTALK_KEYS))


@settings(max_examples=50, deadline=None)
@given(body=dingtalk_like())
def test_signed_dingtalk_callbacks_never_get_a_server_error(app: App, body: bytes) -> None:
    timestamp = millis(NOW)
    headers = {"timestamp": timestamp, "sign": dingtalk.sign(DINGTALK_SECRET, timestamp)}
    no_server_error(app.client.post("/hooks/dingtalk/ding", content=body, headers=headers))


FEISHU_KEYS = ["schema", "header", "event", "type", "token", "challenge", "encrypt"]


def feishu_like() -> st.SearchStrategy[str]:
    """Plaintexts of encrypted Feishu bodies: a v2 message event with any parts, or any JSON."""
    header = st.fixed_dictionaries(
        {
            "event_id": st.text(max_size=10),
            "event_type": st.sampled_from([feishu.MESSAGE_EVENT, "other"]),
            "token": st.sampled_from(["vt_8HkP2mZ", "wrong"]),
        }
    )
    message = st.fixed_dictionaries(
        {
            "message_id": st.text(max_size=10),
            "message_type": st.sampled_from(["text", "image"]),
            "content": (texts | wild).map(lambda t: json.dumps({"text": t})) | st.text(),
        }
    )
    sender = st.fixed_dictionaries(
        {"sender_id": st.fixed_dictionaries({"open_id": senders | wild}) | json_values}
    )
    event = st.fixed_dictionaries(
        {
            "schema": st.just("2.0"),
            "header": header,
            "event": st.fixed_dictionaries({"sender": sender, "message": message}),
        }
    )
    return (event | json_objects(FEISHU_KEYS)).map(json.dumps) | st.text()


@settings(max_examples=50, deadline=None)
@given(plaintext=feishu_like(), nonce=st.text(ASCII, max_size=8))
def test_signed_feishu_events_never_get_a_server_error(
    app: App, plaintext: str, nonce: str
) -> None:
    body = json.dumps({"encrypt": feishu.encrypt(FEISHU_KEY, plaintext)}).encode()
    timestamp = seconds(NOW)
    headers = {
        feishu.TIMESTAMP_HEADER: timestamp,
        feishu.NONCE_HEADER: nonce,
        feishu.SIGNATURE_HEADER: feishu.signature(timestamp, nonce, FEISHU_KEY, body),
    }
    no_server_error(app.client.post("/hooks/feishu/lark", content=body, headers=headers))


@settings(max_examples=50, deadline=None)
@given(
    body=st.builds(
        lambda sender, text, message_id: json.dumps(
            {"sender": sender, "text": text, "message_id": message_id}
        ).encode(),
        senders | wild,
        texts | wild,
        st.text(min_size=1) | wild,
    )
    | json_bytes(json_objects(["sender", "text", "message_id"]))
)
def test_signed_generic_replies_never_get_a_server_error(app: App, body: bytes) -> None:
    response = app.client.post(
        "/hooks/generic/oa", content=body, headers=generic_headers(body, NOW)
    )
    no_server_error(response)
