"""Evidence sent in chat: an image or a file sent to the Feishu app — its callback sealed and
signed as Feishu does, the file read from an emulator of Feishu's open API on 127.0.0.1 —
is kept for the sender's item, or refused with the reason and nothing kept."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.sections import ReportSettings
from bot.delivery.compose import Composer
from bot.evidence.store import FolderStore
from bot.platforms.feishu.api import MessageResources, TenantToken
from bot.platforms.feishu.callback import parse_callback
from bot.platforms.inbound import InboundMessage
from bot.replies.evidence import (
    NOT_A_UNIT,
    NOT_FETCHED,
    READ_AHEAD,
    RECEIVED,
    WHICH,
    ChatEvidence,
)
from bot.replies.identity import Identity, People
from bot.replies.inbox import NOT_TEXT, UNKNOWN_SENDER, handle, receive
from bot.store.models import AuditEvent, Evidence
from tests.support.evidence import exe, pdf, png
from tests.support.feishu_api import FeishuOpenApi
from tests.support.taps import FEISHU_APP, feishu_seal
from tests.support.web import (
    FEISHU_KEY,
    FEISHU_TOKEN,
    NOW,
)

SECRET = "feishu-app-secret"
LIAISON = "ou_liaison2"  # 市发改委's contact: its one open item is task 1
LIMIT = 4096


@pytest.fixture
def feishu() -> Iterator[FeishuOpenApi]:
    with FeishuOpenApi(FEISHU_APP, SECRET) as api:
        yield api


@pytest.fixture
def store(tmp_path: Path) -> FolderStore:
    return FolderStore(tmp_path / "evidence")


@pytest.fixture
def evidence(feishu: FeishuOpenApi, store: FolderStore) -> Iterator[ChatEvidence]:
    with httpx.Client() as client:
        resources = MessageResources(client, TenantToken(client, FEISHU_APP, SECRET, feishu.base))
        settings = ReportSettings(max_file_bytes=LIMIT)
        yield ChatEvidence(settings, lambda: store, lambda source: resources)


def event(sender: str, message_id: str, kind: str, content: dict[str, str]) -> dict[str, object]:
    """An im.message.receive_v1 event as Feishu documents it."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": f"ev-{message_id}",
            "event_type": "im.message.receive_v1",
            "create_time": str(int(NOW.timestamp() * 1000)),
            "token": FEISHU_TOKEN,
            "app_id": FEISHU_APP,
            "tenant_key": "2ca1d211f64f6438",
        },
        "event": {
            "sender": {"sender_id": {"open_id": sender}, "sender_type": "user"},
            "message": {
                "message_id": message_id,
                "chat_id": "oc_5ce6d572455d361153b7cb51da133945",
                "chat_type": "p2p",
                "message_type": kind,
                "content": json.dumps(content, ensure_ascii=False),
            },
        },
    }


def image(sender: str, message_id: str, key: str) -> dict[str, object]:
    return event(sender, message_id, "image", {"image_key": key})


def file(sender: str, message_id: str, key: str, name: str) -> dict[str, object]:
    return event(sender, message_id, "file", {"file_key": key, "file_name": name})


def text(sender: str, message_id: str, words: str) -> dict[str, object]:
    return event(sender, message_id, "text", {"text": words})


def delivered(body: dict[str, object]) -> InboundMessage:
    """The event as the hook reads it: sealed and signed with Feishu's algorithm."""
    sealed = json.dumps({"encrypt": feishu_seal(FEISHU_KEY, json.dumps(body))}).encode()
    timestamp, nonce = str(int(NOW.timestamp())), "q7h2k1"
    signature = hashlib.sha256((timestamp + nonce + FEISHU_KEY).encode() + sealed).hexdigest()
    headers = {
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
    }
    parsed = parse_callback(
        sealed,
        encrypt_key=FEISHU_KEY,
        verification_token=FEISHU_TOKEN,
        headers=headers,
        now=NOW,
    )
    assert isinstance(parsed, InboundMessage)
    return parsed


def sent(
    sessions: sessionmaker[Session],
    people: People,
    evidence: ChatEvidence,
    body: dict[str, object],
    *,
    after: timedelta = timedelta(0),
) -> str | None:
    """Keeps and acts on the event as the web app does; its answer (None for a retry)."""
    with sessions.begin() as session:
        row = receive(session, "lark", delivered(body), NOW + after)
        if row is None:
            return None
        handled = handle(session, people, row, NOW + after, composer=Composer(), evidence=evidence)
        assert handled is not None
        return handled.reply


def kept(sessions: sessionmaker[Session]) -> list[Evidence]:
    with sessions() as session:
        return list(session.scalars(select(Evidence).order_by(Evidence.id)))


def test_the_parser_gives_the_image_key_and_the_file_key_and_name() -> None:
    photo = delivered(image(LIAISON, "om_a1", "img_v3_02ab"))
    report = delivered(file(LIAISON, "om_a2", "file_v3_9c", "验收报告.pdf"))
    assert photo.text == ""
    assert photo.attachment is not None
    assert (photo.attachment.kind, photo.attachment.key, photo.attachment.name) == (
        "image",
        "img_v3_02ab",
        None,
    )
    assert report.attachment is not None
    assert (report.attachment.kind, report.attachment.name) == ("file", "验收报告.pdf")


def test_an_image_sent_in_chat_is_kept_as_evidence_of_the_units_one_open_item(
    planned: sessionmaker[Session],
    people: People,
    evidence: ChatEvidence,
    feishu: FeishuOpenApi,
    store: FolderStore,
) -> None:
    feishu.add("om_a1", "img_v3_02ab", "image", png())
    answer = sent(planned, people, evidence, image(LIAISON, "om_a1", "img_v3_02ab"))
    assert answer == RECEIVED.format(name="图片.png", task="1")
    (row,) = kept(planned)
    assert (row.name, row.content_type, row.size, row.channel) == (
        "图片.png",
        "image/png",
        len(png()),
        "lark",
    )
    assert store.get(row.sha256) == png()
    resource = "/open-apis/im/v1/messages/om_a1/resources/img_v3_02ab?type=image"
    assert feishu.downloads() == [resource]
    with planned() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.attached"))
        assert [a.inbound_message_id for a in audit] == ["ev-om_a1"]


def test_a_file_goes_to_the_item_named_by_the_senders_evidence_command_before_it(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    feishu.add("om_b2", "file_v3_9c", "file", pdf())
    two_items = People(by_id={("feishu_open_id", "ou_fin"): _finance(people)})
    first = sent(planned, two_items, evidence, text("ou_fin", "om_b1", "佐证 #11"))
    assert first is not None
    assert first.startswith("请在 10 分钟内直接发送第11项的佐证材料（图片或文件）。")
    answer = sent(
        planned,
        two_items,
        evidence,
        file("ou_fin", "om_b2", "file_v3_9c", "验收报告.pdf"),
        after=timedelta(minutes=9),
    )
    assert answer == RECEIVED.format(name="验收报告.pdf", task="11")
    with planned() as session:
        (row,) = session.scalars(select(Evidence))
        assert (row.name, row.assignment.task.number, row.assignment.unit.name) == (
            "验收报告.pdf",
            "11",
            "市财政局",
        )


def test_a_disallowed_file_is_refused_with_the_reason_and_nothing_is_kept(
    planned: sessionmaker[Session],
    people: People,
    evidence: ChatEvidence,
    feishu: FeishuOpenApi,
    store: FolderStore,
) -> None:
    feishu.add("om_c1", "file_v3_ex", "file", exe())
    answer = sent(planned, people, evidence, file(LIAISON, "om_c1", "file_v3_ex", "报告.pdf"))
    assert answer == (
        "文件「报告.pdf」的类型不在允许范围内（仅接收图片、PDF 和 Office 文档），未予接收。"
    )
    assert kept(planned) == []
    assert not store.root.exists()


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
    planned: sessionmaker[Session],
    people: People,
    evidence: ChatEvidence,
    feishu: FeishuOpenApi,
    store: FolderStore,
) -> None:
    feishu.add("om_d1", "file_v3_big", "file", pdf() + b"0" * LIMIT)
    answer = sent(planned, people, evidence, file(LIAISON, "om_d1", "file_v3_big", "大.pdf"))
    assert answer == "文件「大.pdf」超过 4 KB 的上限，未予接收。"
    assert kept(planned) == []
    assert not store.root.exists()


def test_a_retried_callback_keeps_the_file_once(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    feishu.add("om_e1", "img_v3_e", "image", png())
    body = image(LIAISON, "om_e1", "img_v3_e")
    assert sent(planned, people, evidence, body) == RECEIVED.format(name="图片.png", task="1")
    assert sent(planned, people, evidence, body, after=timedelta(seconds=30)) is None
    assert len(kept(planned)) == 1
    assert len(feishu.downloads()) == 1


def test_an_unknown_sender_keeps_nothing_and_nothing_is_downloaded(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    feishu.add("om_f1", "img_v3_f", "image", png())
    answer = sent(planned, people, evidence, image("ou_stranger", "om_f1", "img_v3_f"))
    assert answer == UNKNOWN_SENDER.format(office=Composer().office)
    assert kept(planned) == []
    assert feishu.requests == []


def test_a_supervisor_sending_a_file_is_told_that_units_send_evidence(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    feishu.add("om_l1", "img_v3_l", "image", png())
    assert sent(planned, people, evidence, image("ou_liming", "om_l1", "img_v3_l")) == NOT_A_UNIT
    assert kept(planned) == []
    assert feishu.requests == []


def test_a_unit_with_several_open_items_is_asked_to_name_one_first(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    feishu.add("om_g1", "img_v3_g", "image", png())
    two_items = People(by_id={("feishu_open_id", "ou_fin"): _finance(people)})
    answer = sent(planned, two_items, evidence, image("ou_fin", "om_g1", "img_v3_g"))
    assert answer == WHICH
    assert kept(planned) == []
    assert feishu.requests == []


def test_an_evidence_command_older_than_ten_minutes_names_nothing(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    feishu.add("om_h2", "img_v3_h", "image", png())
    two_items = People(by_id={("feishu_open_id", "ou_fin"): _finance(people)})
    sent(planned, two_items, evidence, text("ou_fin", "om_h1", "佐证 #11"))
    late = image("ou_fin", "om_h2", "img_v3_h")
    assert sent(planned, two_items, evidence, late, after=timedelta(minutes=11)) == WHICH
    assert kept(planned) == []


def test_a_platform_that_will_not_hand_the_file_over_is_answered_and_nothing_kept(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    answer = sent(planned, people, evidence, image(LIAISON, "om_i1", "img_v3_gone"))
    assert answer == NOT_FETCHED
    assert kept(planned) == []


def test_without_evidence_a_file_is_answered_as_before(
    planned: sessionmaker[Session], people: People
) -> None:
    with planned.begin() as session:
        row = receive(session, "lark", delivered(image(LIAISON, "om_j1", "img_v3_j")), NOW)
        assert row is not None
        handled = handle(session, people, row, NOW, composer=Composer())
    assert handled is not None
    assert handled.reply == NOT_TEXT


def _finance(people: People) -> Identity:
    """市财政局 (tasks 1 and 11: two open items), as a contact of it would be."""
    found = people.named("市财政局")
    assert found is not None
    return found


def test_files_are_read_ahead_of_the_transaction_a_few_at_a_time(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    rows = []
    with planned.begin() as session:
        stranger = delivered(image("ou_stranger", "om_k0", "img_v3_k0"))
        rows.append(receive(session, "lark", stranger, NOW))
        for n in range(1, READ_AHEAD + 2):
            feishu.add(f"om_k{n}", f"img_v3_k{n}", "image", png(1 + n))
            rows.append(
                receive(session, "lark", delivered(image(LIAISON, f"om_k{n}", f"img_v3_k{n}")), NOW)
            )
    ids = [row for row in rows if row is not None]
    ready, count = evidence.read_ahead(planned, people, ids, NOW, Composer())
    assert sorted(ready) == ids[1 : READ_AHEAD + 1]
    assert count == READ_AHEAD + 1  # the stranger's (nothing to read) and four files
    assert all(
        not isinstance(found, str) and found.data == png(1 + n)
        for n, found in enumerate(ready.values(), 1)
    )
    assert len(feishu.downloads()) == READ_AHEAD
    with planned.begin() as session:
        handled = handle(
            session, people, ids[1], NOW, composer=Composer(), evidence=evidence, ready=ready
        )
    assert handled is not None
    assert handled.reply == RECEIVED.format(name="图片.png", task="1")
    assert len(feishu.downloads()) == READ_AHEAD  # what was read ahead is not read again


def test_a_kept_event_whose_key_is_not_feishus_is_answered_as_not_text(
    planned: sessionmaker[Session], people: People, evidence: ChatEvidence, feishu: FeishuOpenApi
) -> None:
    message = delivered(image(LIAISON, "om_m1", "img_v3_m"))
    broken = image(LIAISON, "om_m1", "../../open-apis/x")
    with planned.begin() as session:
        row = receive(session, "lark", dataclasses.replace(message, raw=broken), NOW)
        assert row is not None
        handled = handle(session, people, row, NOW, composer=Composer(), evidence=evidence)
    assert handled is not None
    assert handled.reply == NOT_TEXT
    assert feishu.requests == []
