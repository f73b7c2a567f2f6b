"""A task's page (bot/supervise/task_page.py): the evidence files on its timeline, with their
size, state and link, on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.rules import default_rules
from bot.domain.tokens import verify
from bot.supervise.task_page import Entry, task_page
from tests.support.engine import TZ, apply_reply, import_plan, local
from tests.support.review import BASE, COMPOSER, LINKS, SECRET, assignment_of, make_evidence

ASKED = local("2020-10-20T10:00")
NOW = local("2020-10-22T10:00")


@pytest.fixture
def returned(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """Task 1's lead sent two files with its closure request; the office returned it."""
    import_plan(sessions, tmp_path)
    with sessions.begin() as session:
        lead = assignment_of(session, "市住建局")
        make_evidence(session, lead, ASKED, name="现场照片.jpg", size=2048)
        make_evidence(session, lead, ASKED, name="验收报告.pdf", data=b"%PDF-1.7 report")
        apply_reply(session, "市住建局", "完成 #1", ASKED, composer=COMPOSER)
        apply_reply(session, "督查室", "退回 #1 照片不清晰", NOW, composer=COMPOSER)
    return sessions


def evidence_entries(sessions: sessionmaker[Session], **options: object) -> list[Entry]:
    with sessions() as session:
        page = task_page(session, default_rules(), TZ, "1", **options)  # type: ignore[arg-type]
        assert page is not None
        return [e for e in page.timeline if e.kind == "evidence"]


def test_each_evidence_file_is_on_the_timeline_with_its_size_and_state(
    returned: sessionmaker[Session],
) -> None:
    photo, report = evidence_entries(returned)

    assert (photo.text, photo.unit, photo.actor) == ("现场照片.jpg", "市住建局", "市住建局")
    assert photo.note == "2.0 KB · 已退回：照片不清晰"
    assert report.text == "验收报告.pdf"
    assert photo.link is None


def test_evidence_links_to_its_download_when_links_are_on(
    returned: sessionmaker[Session],
) -> None:
    photo, _ = evidence_entries(returned, evidence_link=lambda e: LINKS.evidence(e, NOW))

    assert photo.link is not None
    assert photo.link.startswith(f"{BASE}/e/")
    assert len(verify(SECRET, photo.link.rsplit("/", 1)[1], "evidence", NOW).subject) == 1


def test_the_evidence_comes_before_the_closure_request_it_was_sent_with(
    returned: sessionmaker[Session],
) -> None:
    with returned() as session:
        page = task_page(session, default_rules(), TZ, "1")
        assert page is not None
        kinds = [e.title for e in page.timeline if e.at == ASKED.astimezone(e.at.tzinfo)]
    assert kinds[:3] == ["提交佐证材料", "提交佐证材料", "申请办结"]
