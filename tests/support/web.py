"""Callbacks as each platform sends them (signed, encrypted), and what the database holds."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from defusedxml import ElementTree
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import InboundSettings
from bot.intake.directory import Directory
from bot.intake.importing import import_file
from bot.platforms.dingtalk import callback as dingtalk
from bot.platforms.feishu import callback as feishu
from bot.platforms.generic.robot import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook
from bot.platforms.wecom.callback import WecomCrypto, callback_body
from bot.store import queries
from bot.store.models import Assignment, AuditEvent, InboundEvent, Message, Task, Unit
from tests.support.paths import SAMPLE, SAMPLE_UNITS
from tests.support.snapshot import Snapshot, restore, take

NOW = datetime(2020, 3, 10, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Zhoushan
IMPORTED = datetime(2020, 3, 2, 2, 0, tzinfo=UTC)

# Keys shaped like the PROTOCOLS.md vectors (WeCom vector A, the DingTalk and Feishu ones).
WECOM_TOKEN = "QDG6eK"
WECOM_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_CORP = "wx5823bf96d3bd56c7"
DINGTALK_SECRET = "this is a secret"
DINGTALK_CORP = "ding9f50b15bccd16741"
DINGTALK_ROBOT = "dingzmhu2yhfpsbsuxrj"
FEISHU_KEY = "kFq3vX9rT2"
FEISHU_TOKEN = "vt_8HkP2mZ"
GENERIC_SECRET = "whsec_9f3a1c7e5b"

HOOKS = {
    "qywx": InboundSettings(
        platform="wecom", token=WECOM_TOKEN, encoding_aes_key=WECOM_KEY, corp_id=WECOM_CORP
    ),
    "ding": InboundSettings(
        platform="dingtalk",
        app_secret=DINGTALK_SECRET,
        corp_id=DINGTALK_CORP,
        robot_code=DINGTALK_ROBOT,
    ),
    "lark": InboundSettings(
        platform="feishu",
        app_id="cli_9f5343c580712013",
        app_secret="feishu-app-secret",
        encrypt_key=FEISHU_KEY,
        verification_token=FEISHU_TOKEN,
    ),
    "oa": InboundSettings(platform="generic", secret=GENERIC_SECRET),
    # Feishu without an encrypt key: events come unsigned, taken only when allowed.
    "lark-open": InboundSettings(
        platform="feishu",
        app_id="cli_9f5343c580712013",
        app_secret="feishu-app-secret",
        verification_token=FEISHU_TOKEN,
        allow_unsigned=True,
    ),
}

# The sample directory, where 联络员2 (市发改委) can also write from DingTalk and Feishu.
LIAISON2 = '{ name = "联络员2", mobile = "13800000002", wecom_userid = "liaison2" }'
LIAISON2_EVERYWHERE = (
    '{ name = "联络员2", mobile = "13800000002", wecom_userid = "liaison2", '
    'dingtalk_userid = "liaison2", feishu_open_id = "ou_liaison2" }'
)


TASKS = ("1", "11", "50")  # 市发改委 leads, 市财政局 helps; 市财政局 leads; 市住建局 leads
TASK_START = re.compile(r"(\d+)\.")


def write_plan(folder: Path, numbers: tuple[str, ...] = TASKS) -> Path:
    """The sample plan cut to the tasks these tests use, each as the sample words it: its
    heading, then task 1, 11 and 50 (importing all 128 tasks would make every test slow)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if TASK_START.match(line)]
    blocks: dict[str, list[str]] = {}
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        number = TASK_START.match(lines[start])
        assert number is not None
        blocks.setdefault(number[1], lines[start:end])
    kept = lines[: starts[0]] + [line for n in numbers for line in blocks[n]]
    path = folder / "plan.txt"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def import_cut_plan(
    engine: Engine,
    sessions: sessionmaker[Session],
    folder: Path,
    directory: Directory,
    snapshots: dict[tuple[str, str], Snapshot],
) -> None:
    """`write_plan`'s plan imported on IMPORTED with `directory` into the database of
    `engine`: imported for real the first time on each backend (for each plan and
    directory); into another empty database, the rows that import left are laid in."""
    path = write_plan(folder)
    made_of = path.read_bytes() + repr(directory).encode()
    key = (f"planned:{hashlib.sha256(made_of).hexdigest()}", engine.dialect.name)
    was_empty = not any(take(engine).values())
    if was_empty and key in snapshots:
        restore(engine, snapshots[key])
        return
    import_file(sessions, path, directory, timezone="Asia/Shanghai", now=IMPORTED)
    if was_empty:
        snapshots[key] = take(engine)


UNITS = ("市发改委", "市财政局", "市住建局", "普陀区政府")  # the units of tasks 1, 11 and 50


def write_directory(
    folder: Path, units: tuple[str, ...] = UNITS, *, everywhere: bool = True
) -> Path:
    """The sample directory with its office, supervisors and the given units (syncing all
    seventy units is what an import spends its time on); `everywhere`, 联络员2 (市发改委)
    can also write from DingTalk and Feishu."""
    text = SAMPLE_UNITS.read_text(encoding="utf-8")
    assert LIAISON2 in text
    if everywhere:
        text = text.replace(LIAISON2, LIAISON2_EVERYWHERE)
    wanted = ("[office]", "[supervisors.", *(f'[units."{unit}"]' for unit in units))
    sections = re.split(r"(?m)^(?=\[)", text)
    kept = [part for part in sections if not part.startswith("[") or part.startswith(wanted)]
    path = folder / "units.toml"
    path.write_text("".join(kept), encoding="utf-8")
    return path


@dataclass
class Clock:
    """The clock the app reads (`ctx.clock`); tests move it."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeFeishuApi:
    """Stands in for Feishu's open API: records each reply."""

    replies: list[tuple[str, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def reply(self, message_id: str, text: str) -> bool:
        self.replies.append((message_id, text))
        self.arrived.set()
        return True


@dataclass(frozen=True)
class Posted:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict, compare=False)


def dingtalk_answer(path: str) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok"}


def feishu_answer(path: str) -> dict[str, Any]:
    """Feishu's open API: a tenant token for the token request, success for the rest."""
    if path == "/open-apis/auth/v3/tenant_access_token/internal":
        return {"code": 0, "msg": "ok", "tenant_access_token": "t-sink", "expire": 7200}
    return {"code": 0, "msg": "success", "data": {}}


class Sink:
    """A local HTTP server that records JSON POSTs and answers like DingTalk (or as `answer`
    says for the path). While `gate` is clear it holds each answer back (the request is
    recorded on arrival)."""

    def __init__(self, answer: Callable[[str], dict[str, Any]] = dingtalk_answer) -> None:
        self.posted: list[Posted] = []
        self.gate = threading.Event()
        self.gate.set()
        self._arrived = threading.Condition()
        sink, answer_for = self, answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._arrived:
                    sink.posted.append(Posted(self.path, json.loads(raw), dict(self.headers)))
                    sink._arrived.notify_all()
                sink.gate.wait(5)
                answer = json.dumps(answer_for(self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def wait(self, count: int, timeout: float = 5.0) -> list[Posted]:
        """The first `count` requests, once they have arrived."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.posted) >= count, timeout)
        assert arrived, f"expected {count} requests, got {len(self.posted)}"
        return self.posted[:count]


def answering_to(sink: Sink, hooks: dict[str, InboundSettings]) -> dict[str, InboundSettings]:
    """The hooks with DingTalk's session webhooks allowed on the sink (and nowhere else)."""
    origins = {"session_webhook_origins": (sink.origin,)}
    return {
        name: hook.model_copy(update=origins) if hook.platform == "dingtalk" else hook
        for name, hook in hooks.items()
    }


WECOM = WecomCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORP)
NONCE = "1372623149"


def seconds(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


# WeCom


def wecom_message(sender: str, text: str, msg_id: str, moment: datetime) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{WECOM_CORP}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{seconds(moment)}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId>"
        "<AgentID>1000002</AgentID></xml>"
    )


def wecom_post(
    client: httpx.Client,
    sender: str,
    text: str,
    msg_id: str,
    moment: datetime,
    *,
    signature: str | None = None,
    nonce: str = NONCE,
) -> httpx.Response:
    encrypt = WECOM.encrypt(wecom_message(sender, text, msg_id, moment))
    timestamp = seconds(moment)
    params = {
        "msg_signature": signature or WECOM.signature(timestamp, nonce, encrypt),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = callback_body(encrypt, WECOM_CORP, "1000002")
    return client.post("/hooks/wecom/qywx", params=params, content=body)


@dataclass(frozen=True)
class PassiveReply:
    to_user: str
    from_user: str
    content: str


def open_passive_reply(xml: bytes, timestamp: str, nonce: str = NONCE) -> PassiveReply:
    """The text inside WeCom's encrypted passive reply, once its signature is checked."""
    outer = ElementTree.fromstring(xml)
    encrypt = outer.findtext("Encrypt") or ""
    assert outer.findtext("TimeStamp") == timestamp
    assert outer.findtext("Nonce") == nonce
    assert outer.findtext("MsgSignature") == WECOM.signature(timestamp, nonce, encrypt)
    inner = ElementTree.fromstring(WECOM.decrypt(encrypt).encode())
    assert inner.findtext("MsgType") == "text"
    return PassiveReply(
        inner.findtext("ToUserName") or "",
        inner.findtext("FromUserName") or "",
        inner.findtext("Content") or "",
    )


# DingTalk


def dingtalk_event(
    sender: str, text: str, msg_id: str, moment: datetime, webhook: str
) -> dict[str, object]:
    return {
        "msgtype": "text",
        "text": {"content": f" {text} "},
        "msgId": msg_id,
        "createAt": int(millis(moment)),
        "conversationType": "2",
        "conversationId": "cidQ9x==",
        "conversationTitle": "重点任务督办群",
        "senderId": f"$:LWCP_v1:${sender}",
        "senderNick": sender,
        "senderStaffId": sender,
        "chatbotUserId": "$:LWCP_v1:$bot",
        "chatbotCorpId": DINGTALK_CORP,
        "robotCode": DINGTALK_ROBOT,
        "isInAtList": True,
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": int(millis(moment + timedelta(hours=1))),
    }


def dingtalk_post(
    client: httpx.Client,
    body: bytes,
    moment: datetime,
    *,
    sign: str | None = None,
    hook: str = "ding",
) -> httpx.Response:
    timestamp = millis(moment)
    headers = {
        "timestamp": timestamp,
        "sign": sign or dingtalk.sign(DINGTALK_SECRET, timestamp),
        "Content-Type": "application/json",
    }
    return client.post(f"/hooks/dingtalk/{hook}", content=body, headers=headers)


# Feishu


def feishu_event(
    sender: str, text: str, event_id: str, message_id: str, token: str = FEISHU_TOKEN
) -> dict[str, object]:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": feishu.MESSAGE_EVENT,
            "create_time": "1583805600000",
            "token": token,
            "app_id": "cli_9f5343c580712013",
            "tenant_key": "2ca1d211f64f6438",
        },
        "event": {
            "sender": {"sender_id": {"open_id": sender}, "sender_type": "user"},
            "message": {
                "message_id": message_id,
                "chat_id": "oc_5ce6d572455d361153b7cb51da133945",
                "chat_type": "group",
                "message_type": "text",
                "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
                "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "督办"}],
            },
        },
    }


def feishu_post(
    client: httpx.Client,
    event: dict[str, object],
    moment: datetime,
    *,
    signed: bool = True,
    key: str = FEISHU_KEY,
) -> httpx.Response:
    sealed = feishu.encrypt(key, json.dumps(event, ensure_ascii=False))
    body = json.dumps({"encrypt": sealed}).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        timestamp, nonce = seconds(moment), "abc123"
        headers |= {
            feishu.TIMESTAMP_HEADER: timestamp,
            feishu.NONCE_HEADER: nonce,
            feishu.SIGNATURE_HEADER: feishu.signature(timestamp, nonce, key, body),
        }
    return client.post("/hooks/feishu/lark", content=body, headers=headers)


def feishu_post_unsigned(
    client: httpx.Client, event: dict[str, object], hook: str = "lark-open"
) -> httpx.Response:
    """An event as Feishu sends it to an app without an encrypt key: plain JSON, unsigned."""
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    return client.post(f"/hooks/feishu/{hook}", content=body, headers=headers)


# The generic hook


def generic_body(sender: str, text: str, message_id: str) -> bytes:
    reply = {"sender": sender, "text": text, "message_id": message_id}
    return json.dumps(reply, ensure_ascii=False).encode()


def generic_headers(body: bytes, moment: datetime) -> dict[str, str]:
    timestamp = seconds(moment)
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign_webhook(GENERIC_SECRET, timestamp, body),
        "Content-Type": "application/json",
    }


def generic_post(
    client: httpx.Client, sender: str, text: str, message_id: str, moment: datetime
) -> httpx.Response:
    body = generic_body(sender, text, message_id)
    return client.post("/hooks/generic/oa", content=body, headers=generic_headers(body, moment))


def generic_reply(
    client: httpx.Client, sender: str, text: str, message_id: str, moment: datetime
) -> str:
    """The answer the generic hook gives to a new message."""
    response = generic_post(client, sender, text, message_id, moment)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["ok"] is True
    assert answer["duplicate"] is False
    reply = answer["reply"]
    assert isinstance(reply, str)
    return reply


# What the database holds


def task_of(sessions: sessionmaker[Session], number: str) -> dict[str, Any]:
    with sessions() as session:
        return queries.show_task(session, queries.current_plan(session), number)


def assignment_of(sessions: sessionmaker[Session], number: str, unit: str) -> tuple[str, int]:
    """(status, progress) of `unit`'s assignment on task `number`."""
    found = [a for a in task_of(sessions, number)["assignments"] if a["unit"] == unit]
    assert len(found) == 1, found
    return found[0]["status"], found[0]["progress"]


def assignments(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """Every assignment's state, to show that nothing changed."""
    with sessions() as session:
        rows = session.execute(
            select(
                Task.number,
                Unit.name,
                Assignment.status,
                Assignment.progress,
                Assignment.last_report_at,
                Assignment.deadline,
            )
            .join(Task, Assignment.task_id == Task.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .order_by(Assignment.id)
        ).all()
        return [tuple(row) for row in rows]


def audit(sessions: sessionmaker[Session], action: str | None = None) -> list[AuditEvent]:
    """The audit events since the plan was imported (of `action`, if given)."""
    with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.actor != "import").order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


def inbound_events(sessions: sessionmaker[Session]) -> list[InboundEvent]:
    with sessions() as session:
        return list(session.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def message_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def messages_of_kind(sessions: sessionmaker[Session], kind: str) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).where(Message.kind == kind)))
