"""Issue 17's acceptance, end to end through the real app and the daemon's engine, both
backends: a reminder's link opens the unit's report page in a headless Chromium, a 完成
with a photo becomes a closure request carrying the evidence, the supervisor's own link
confirms it, and the ranking and the progress export reflect it. The same closure asked in
chat (the generic hook), with the evidence already sent, is confirmed the same way.

The engine is the daemon's (`Runtime.cycle`: sweep and dispatch every working morning,
with the composer `composer_of(settings)` builds, so the messages carry signed links); the
web app is `create_app` served by uvicorn on a free port, on the same clock; the export is
the `duban export progress` command."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.runtime import composer_of
from bot.domain.periods import parse_period
from bot.platforms import CaptureChannel, Outgoing
from bot.store.models import AuditEvent, Evidence, Message
from bot.supervise.ranking_flow import as_json, compute_ranking, ranking_setup
from bot.web.app import create_app
from bot.web.context import WebContext
from tests.support.browser import found, on_a_phone, page_width, served, shows, skip_without_browser
from tests.support.cli import make_duban, succeeds
from tests.support.engine import import_plan, local, make_runtime, writer_sessions
from tests.support.processes import free_port
from tests.support.review import assignment_of, make_evidence, review_settings
from tests.support.web import HOOKS, Clock, generic_reply

skip_without_browser()

pytestmark = pytest.mark.slow  # a headless Chromium, two months of mornings

OFFICE = "督查室"
NOW = local("2020-10-21T10:00")
LIAISON = "13800000001"  # 市住建局's 联络员 (tests/support/engine.py's directory)
# A JPEG's first bytes, then anything: the type is read from the bytes, not the name.
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(2048)
LINK = re.compile(r"https?://127\.0\.0\.1:\d+/[rve]/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


@dataclass
class World:
    """The small plan lived to 21 October 2020 by the daemon's engine, the app serving it."""

    sessions: sessionmaker[Session]
    settings: Settings
    sent: list[Outgoing]
    base: str
    browser: Any
    folder: Path


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    sessions = writer_sessions(engine)
    port = free_port()
    settings = review_settings()
    settings = settings.model_copy(
        update={
            "web": settings.web.model_copy(update={"public_url": f"http://127.0.0.1:{port}"}),
            "report": settings.report.model_copy(update={"evidence_dir": tmp_path / "evidence"}),
            "inbound": {"oa": HOOKS["oa"]},
        }
    )
    import_plan(sessions, tmp_path)
    capture = CaptureChannel()
    runtime = replace(make_runtime(sessions, capture), composer=composer_of(settings, OFFICE))
    day = date(2020, 9, 1)
    while day <= NOW.date():
        if runtime.calendar.is_working_day(day):
            runtime.cycle(local(f"{day.isoformat()}T09:00"))
        day += timedelta(days=1)
    with httpx.Client() as http:
        app = create_app(WebContext(settings, sessions, clock=Clock(NOW), http=http))
        with served(app, port) as base, on_a_phone(tmp_path / "profile") as browser:
            yield World(sessions, settings, list(capture.sent), base, browser, tmp_path)


def links_in(text: str, kind: str) -> list[str]:
    return [link for link in LINK.findall(text) if f"/{kind}/" in link]


def report_link(world: World) -> str:
    """Task 1's report link in the last reminder 市住建局 was sent."""
    mine = [m for m in world.sent if m.recipient == "市住建局" and m.kind in ("notice", "urge")]
    assert mine, "市住建局 was never reminded"
    (link,) = links_in(mine[-1].text, "r")
    return link


def ranked(world: World) -> dict[str, Any]:
    setup = ranking_setup(world.settings, composer_of(world.settings, OFFICE))
    with world.sessions() as session:
        rows = as_json(compute_ranking(session, parse_period("2020-10"), setup))
    (row,) = [r for r in rows if r["unit"] == "市住建局"]
    return row


def confirmed_by_the_supervisor(world: World, photo: str) -> None:
    """The closure request reached 赵华 with the photo and her link; her page confirms it."""
    from selenium.webdriver.common.by import By

    with world.sessions() as session:
        request = session.scalar(select(Message).where(Message.kind == "request"))
        assert request is not None
    assert request.recipient_name == "赵华"
    assert photo in request.text
    assert len(links_in(request.text, "e")) == 1
    (review,) = links_in(request.text, "v")
    world.browser.get(review)
    assert photo in world.browser.page_source
    assert page_width(world.browser) <= 375
    section = world.browser.find_element(By.CSS_SELECTOR, "section.request")
    section.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
    assert found(world.browser, "#notice").text == "第1项已确认办结。"


def reflected(world: World, db_url: str, photo: str, before: dict[str, Any]) -> None:
    """Closed, the photo accepted; on track in October's ranking; in the export."""
    with world.sessions() as session:
        lead = assignment_of(session, "市住建局")
        assert lead.status == "closed"
        (evidence,) = session.scalars(select(Evidence))
        assert (evidence.name, evidence.state) == (photo, "accepted")
        web = session.scalars(select(AuditEvent.action).where(AuditEvent.channel == "web-form"))
        assert "approve.close" in set(web)
    after = ranked(world)
    assert after["metrics"]["on_track"] == before["metrics"]["on_track"] + 1
    assert after["score"] > before["score"]
    out = world.folder / "progress.csv"
    export = ("export", "progress", "--format", "csv", "-o", out, "--as-of", "2020-10-21")
    succeeds(make_duban(db_url)(*export))
    with out.open(encoding="utf-8-sig", newline="") as handle:
        header, first, *_ = list(csv.reader(handle))
    row = dict(zip(header, first, strict=True))
    assert row["状态"] == "已办结"
    assert row["佐证材料"] == f"市住建局（1份）：{photo}"


def test_a_reminders_link_to_a_confirmed_closure_with_a_photo(world: World, db_url: str) -> None:
    from selenium.webdriver.common.by import By

    before = ranked(world)
    photo = world.folder / "竣工现场.jpg"
    photo.write_bytes(PHOTO)
    browser = world.browser

    browser.get(report_link(world))  # the unit, on a phone
    assert "新增公共停车位" in browser.page_source
    assert page_width(browser) <= 375
    browser.find_element(By.CSS_SELECTOR, "details#complete summary").click()
    form = browser.find_element(By.CSS_SELECTOR, "details#complete form")
    form.find_element(By.NAME, "text").send_keys("停车位已全部建成")
    form.find_element(By.NAME, "files").send_keys(str(photo))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert shows(browser, "第1项办结申请已收到"), browser.page_source
    with world.sessions() as session:
        (evidence,) = session.scalars(select(Evidence))
        assert (evidence.channel, evidence.content_type) == ("web-form", "image/jpeg")

    confirmed_by_the_supervisor(world, photo.name)
    reflected(world, db_url, photo.name, before)


def test_a_closure_asked_in_chat_with_evidence_is_confirmed_from_the_supervisors_link(
    world: World, db_url: str
) -> None:
    before = ranked(world)
    with world.sessions.begin() as session:
        lead = assignment_of(session, "市住建局")
        make_evidence(session, lead, NOW, name="验收照片.jpg", channel="feishu")
    with httpx.Client(base_url=world.base) as client:
        answer = generic_reply(client, LIAISON, "完成 #1 停车位已全部建成", "oa-1", NOW)
    assert answer == "第1项办结申请已收到，待督查室确认。"

    confirmed_by_the_supervisor(world, "验收照片.jpg")
    reflected(world, db_url, "验收照片.jpg", before)
