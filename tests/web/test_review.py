"""The 待审 page (/v/{token}, bot/web/review.py) over a real database, both backends: what
waits for the office and for one supervisor, the decisions through the chat's apply flow,
the one-time forms, and what a bad link or form gets. Served by a TestClient."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.lifecycle import Status
from bot.domain.tokens import sign
from bot.present.links import Links
from bot.store.models import Assignment, AuditEvent, Evidence, Message, Supervisor
from bot.web.dashboard import CSP
from bot.web.review import add_review
from tests.support.dashboard import web_context
from tests.support.engine import apply_reply, import_plan, writer_sessions
from tests.support.review import (
    ASKED,
    BASE,
    COMPOSER,
    LINKS,
    NOW,
    SECRET,
    assignment_of,
    forms_of,
    make_evidence,
    review_settings,
)

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what this project has
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return writer_sessions(engine)


@pytest.fixture
def requested(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """Task 1's lead (市住建局, supervisor 赵华) asks for closure with a photo; task 2's unit
    (市发改委, supervisor 李明) asked for an extension the day before."""
    import_plan(sessions, tmp_path)
    with sessions.begin() as session:
        apply_reply(
            session,
            "市发改委",
            "延期 #2 2021-03-31 用地审批未完成",
            ASKED - timedelta(days=1),
            composer=COMPOSER,
        )
        make_evidence(session, assignment_of(session, "市住建局"), ASKED, name="竣工照片.jpg")
        apply_reply(session, "市住建局", "完成 #1 已建成", ASKED, composer=COMPOSER)
    return sessions


@pytest.fixture
def client(requested: sessionmaker[Session]) -> Iterator[TestClient]:
    with httpx.Client() as http:
        app = FastAPI()
        add_review(app, web_context(review_settings(), requested, http, NOW))
        with TestClient(app) as client:
            yield client


def link(kind: str, person: int | None = None) -> str:
    url = LINKS.review(kind, person, NOW)
    assert url is not None
    return url.removeprefix(BASE)


def supervisor_id(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        found = session.scalar(select(Supervisor.id).where(Supervisor.name == name))
        assert found is not None
        return found


def lead_of(sessions: sessionmaker[Session], unit: str, task: str = "1") -> Assignment:
    with sessions() as session:
        return assignment_of(session, unit, task)


def page(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-security-policy"] == CSP
    text: str = response.text
    return text


def submit(client: TestClient, path: str, form: str, status: int = 200, **fields: str) -> str:
    response = client.post(path, data={"form": form, **fields})
    assert response.status_code == status, response.text[:300]
    text: str = response.text
    return text


def events(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


# --- what waits ---------------------------------------------------------------------------


def test_the_office_sees_every_request_oldest_first_with_its_evidence(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    shown = page(client, link("office"))

    assert "本室待审事项" in shown
    assert shown.index("第 2 项 · 延期申请") < shown.index("第 1 项 · 办结申请")
    assert "2021-03-31" in shown
    assert "用地审批未完成" in shown
    assert "竣工照片.jpg" in shown
    assert f'href="{BASE}/e/' in shown
    assert "<script" not in shown


def test_a_supervisor_sees_only_the_requests_they_may_decide(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    shown = page(client, link("supervisor", supervisor_id(requested, "赵华")))

    assert "赵华 待审事项" in shown
    assert "第 1 项 · 办结申请" in shown
    assert "第 2 项" not in shown


# --- deciding -----------------------------------------------------------------------------


def test_a_supervisor_confirms_a_closure_through_the_apply_flow(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    path = link("supervisor", supervisor_id(requested, "赵华"))
    lead = lead_of(requested, "市住建局")
    confirm, _ = forms_of(page(client, path), lead.id)

    answer = submit(client, path, confirm)

    assert "第1项已确认办结" in answer
    with requested() as session:
        assert session.get(Assignment, lead.id).status == Status.CLOSED  # type: ignore[union-attr]
        assert session.scalars(select(Evidence.state)).all() == ["accepted"]
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "approve.close"))
        assert event is not None
        assert (event.actor, event.channel) == ("赵华", "web-form")


def test_a_form_works_once(client: TestClient, requested: sessionmaker[Session]) -> None:
    path = link("office")
    confirm, _ = forms_of(page(client, path), lead_of(requested, "市住建局").id)
    submit(client, path, confirm)
    before = events(requested)

    again = submit(client, path, confirm, 409)

    assert "该表单已提交过，未重复处理" in again
    assert events(requested) == before


def test_a_return_needs_a_reason_and_then_tells_the_unit(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    path = link("office")
    lead = lead_of(requested, "市住建局")
    _, give_back = forms_of(page(client, path), lead.id)
    before = events(requested)

    assert "请填写退回原因" in submit(client, path, give_back, 400, reason="  ")
    assert events(requested) == before
    submit(client, path, give_back, reason="佐证材料不全")

    with requested() as session:
        assert session.get(Assignment, lead.id).status == Status.IN_PROGRESS  # type: ignore[union-attr]
        assert session.scalars(select(Evidence.note)).all() == ["佐证材料不全"]
        told = session.scalar(select(Message).where(Message.kind == "decision"))
        assert told is not None
        assert "原因：佐证材料不全" in told.text


def test_the_office_approves_an_extension(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    path = link("office")
    slow = lead_of(requested, "市发改委", "2")
    approve, _ = forms_of(page(client, path), slow.id)

    assert "第2项已同意延期" in submit(client, path, approve)
    with requested() as session:
        assignment = session.get(Assignment, slow.id)
        assert assignment is not None
        assert assignment.deadline is not None
        assert assignment.deadline.isoformat() == "2021-03-31"
    assert "目前没有待审事项" not in page(client, path)  # task 1 still waits


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        sign(b"another-secret", "review", ("office",), NOW + timedelta(days=1)),
        sign(SECRET, "report", ("office",), NOW + timedelta(days=1)),
        sign(SECRET, "review", ("office",), NOW - timedelta(seconds=1)),
        sign(SECRET, "review", ("supervisor", 9999), NOW + timedelta(days=1)),
        "not-a-token",
    ],
    ids=["forged", "another purpose", "expired", "nobody", "malformed"],
)
def test_a_bad_link_gets_a_chinese_403_and_changes_nothing(
    client: TestClient,
    requested: sessionmaker[Session],
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = events(requested)
    caplog.set_level(logging.DEBUG)

    assert "该链接无效或已过期" in page(client, f"/v/{token}", 403)
    assert "该链接无效或已过期" in submit(client, f"/v/{token}", "x", 403)
    assert events(requested) == before
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("duban")]
    assert not any(token in line for line in ours)  # counted, never logged


def test_a_form_from_another_reviewers_page_is_refused(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    office_form, _ = forms_of(page(client, link("office")), lead_of(requested, "市住建局").id)
    before = events(requested)

    refused = submit(client, link("supervisor", supervisor_id(requested, "赵华")), office_form, 403)

    assert "该链接无效或已过期" in refused
    assert events(requested) == before


def test_a_forged_or_expired_form_changes_nothing(
    client: TestClient, requested: sessionmaker[Session]
) -> None:
    lead = lead_of(requested, "市住建局").id
    forged = sign(b"x" * 16, "review-form", ("office", 0, lead, "confirm", "n"), NOW)
    before = events(requested)

    assert "该表单已失效" in submit(client, link("office"), forged, 403)
    assert events(requested) == before


def test_an_oversized_form_gets_413(client: TestClient) -> None:
    response = client.post(link("office"), data={"reason": "理" * 5000})

    assert response.status_code == 413
    assert "提交的内容过长" in response.text


def test_without_a_secret_no_review_link_is_made() -> None:
    assert Links(BASE, b"", 30).review("office", None, NOW) is None
