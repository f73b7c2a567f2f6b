"""A closure or extension request reaches the item's reviewer with its evidence and the
reviewer's own review link; the decision settles the evidence and a return names its reason
to the unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.tokens import verify
from bot.platforms.formats import Formats, MessageFormat
from bot.store.models import AuditEvent, Evidence, Message, Supervisor
from tests.support.engine import apply_reply, import_plan, local
from tests.support.review import BASE, COMPOSER, SECRET, assignment_of, make_evidence

ASKED = local("2020-10-20T10:00")
DECIDED = local("2020-10-21T15:00")


@pytest.fixture
def planned(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    import_plan(sessions, tmp_path)
    return sessions


def reply(sessions: sessionmaker[Session], name: str, text: str, at: datetime) -> str:
    with sessions.begin() as session:
        return apply_reply(session, name, text, at, composer=COMPOSER)


def messages(sessions: sessionmaker[Session], kind: str) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).where(Message.kind == kind)))


def with_photo(sessions: sessionmaker[Session], **overrides: object) -> int:
    with sessions.begin() as session:
        return make_evidence(session, assignment_of(session, "市住建局"), ASKED, **overrides).id


def test_a_closure_request_goes_to_the_supervisor_with_its_evidence_and_review_link(
    planned: sessionmaker[Session],
) -> None:
    with_photo(planned, name="竣工验收报告.pdf", content_type="application/pdf", size=2048)
    reply(planned, "市住建局", "完成 #1 已建成", ASKED)

    [request] = messages(planned, "request")
    assert (request.recipient_kind, request.recipient_name) == ("supervisor", "赵华")
    assert "【办结申请】赵华副市长" in request.text
    assert "市住建局申请第1项" in request.text
    assert "说明：已建成" in request.text
    assert "佐证材料（1份）" in request.text
    assert "竣工验收报告.pdf（2.0 KB）" in request.text
    evidence_link = next(w for w in request.text.split() if w.startswith(f"{BASE}/e/"))
    review_link = request.text.rsplit("待审页面办理：", 1)[1].strip()
    assert review_link.startswith(f"{BASE}/v/")
    token = review_link.removeprefix(f"{BASE}/v/")
    assert verify(SECRET, token, "review", ASKED).subject == ("supervisor", request.recipient_id)
    assert verify(SECRET, evidence_link.removeprefix(f"{BASE}/e/"), "evidence", ASKED)


def test_a_closure_request_without_evidence_says_so(planned: sessionmaker[Session]) -> None:
    reply(planned, "市住建局", "完成 #1", ASKED)

    [request] = messages(planned, "request")
    assert "未附佐证材料" in request.text


def test_an_extension_request_names_the_date_and_reason(planned: sessionmaker[Session]) -> None:
    reply(planned, "市发改委", "延期 #2 2021-03-31 用地审批未完成", ASKED)

    [request] = messages(planned, "request")
    assert request.recipient_name == "李明"
    assert "【延期申请】" in request.text
    assert "延期至3月31日，理由：用地审批未完成" in request.text


def test_confirming_the_closure_accepts_the_evidence(planned: sessionmaker[Session]) -> None:
    photo = with_photo(planned)
    reply(planned, "市住建局", "完成 #1 已建成", ASKED)
    reply(planned, "督查室", "确认办结 #1", DECIDED)

    with planned() as session:
        evidence = session.get(Evidence, photo)
        assert evidence is not None
        assert (evidence.state, evidence.decided_at) == ("accepted", DECIDED)
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "approve.close"))
        assert event is not None
        assert event.detail["evidence"] == 1
    assert messages(planned, "decision") == []


def test_a_return_returns_the_evidence_and_tells_the_unit_why(
    planned: sessionmaker[Session],
) -> None:
    photo = with_photo(planned)
    reply(planned, "市住建局", "完成 #1 已建成", ASKED)
    reply(planned, "督查室", "退回 #1 佐证材料不全", DECIDED)

    with planned() as session:
        evidence = session.get(Evidence, photo)
        assert evidence is not None
        assert (evidence.state, evidence.note) == ("returned", "佐证材料不全")
    [told] = messages(planned, "decision")
    assert (told.recipient_kind, told.recipient_name) == ("unit", "市住建局")
    assert "办结申请已退回，原因：佐证材料不全" in told.text


def test_a_new_closure_request_shows_only_the_new_evidence(
    planned: sessionmaker[Session],
) -> None:
    with_photo(planned, name="旧照片.jpg")
    reply(planned, "市住建局", "完成 #1", ASKED)
    reply(planned, "督查室", "退回 #1 照片不清晰", DECIDED)
    with_photo(planned, name="新照片.jpg", data=b"\xff\xd8\xff\xe0 a sharper photo")
    reply(planned, "市住建局", "完成 #1", local("2020-10-22T10:00"))

    second = messages(planned, "request")[-1]
    assert "新照片.jpg" in second.text
    assert "旧照片.jpg" not in second.text


def test_a_rejected_extension_tells_the_unit_why(planned: sessionmaker[Session]) -> None:
    reply(planned, "市发改委", "延期 #2 2021-03-31 用地审批未完成", ASKED)
    reply(planned, "督查室", "驳回延期 #2 理由不充分", DECIDED)

    [told] = messages(planned, "decision")
    assert told.recipient_name == "市发改委"
    assert "延期申请未获同意，原因：理由不充分" in told.text


def test_what_users_wrote_is_escaped_for_a_markdown_channel(
    planned: sessionmaker[Session],
) -> None:
    with planned.begin() as session:
        session.execute(update(Supervisor).where(Supervisor.name == "赵华").values(channel="zh"))
    formats = Formats(
        {"console": MessageFormat("console"), "zh": MessageFormat("wecom", "markdown")}
    )
    composer = replace(COMPOSER, formats=formats)
    with_photo(planned, name="[点我](http://evil.example) @all.jpg")
    with planned.begin() as session:
        apply_reply(session, "市住建局", "完成 #1 **已建成** @all", ASKED, composer=composer)

    [request] = messages(planned, "request")
    assert request.channel == "zh"
    assert "@all" not in request.text
    assert "](http://evil.example)" not in request.text
    assert "＊＊已建成＊＊" in request.text
    assert f"]({BASE}/e/" in request.text  # the file's own link is a link


def test_a_co_units_extension_goes_to_whoever_may_approve_it(
    planned: sessionmaker[Session],
) -> None:
    # 市财政局 helps on task 1 and is 李明's, but 赵华 oversees the lead 市住建局: hers to decide.
    reply(planned, "市财政局", "延期 #1 2020-12-31 资金拨付延后", ASKED)

    [request] = messages(planned, "request")
    assert request.recipient_name == "赵华"
