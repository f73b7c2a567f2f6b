"""Issue 17's acceptance, end to end through the real app and the daemon's engine, both
backends: a reminder's link opens the unit's report page in a headless Chromium, a 完成
with a photo becomes a closure request carrying the evidence, the supervisor's own link
confirms it, and the ranking and the progress export reflect it.

The engine is the daemon's (`Runtime.cycle`: sweep and dispatch every working morning,
with the composer `composer_of(settings)` builds, so the messages carry signed links); the
web app is `create_app` served by uvicorn on a free port, on the same clock; the export is
the `duban export progress` command."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.runtime import Runtime, composer_of
from bot.domain.periods import parse_period
from bot.platforms import CaptureChannel
from bot.store.models import Assignment, AuditEvent, Evidence, Message, Notification, Unit
from bot.supervise.ranking_flow import as_json, compute_ranking, ranking_setup
from bot.web.app import create_app
from bot.web.context import WebContext
from tests.support.browser import MISSING, REQUIRED, chromium, found, page_width, served
from tests.support.cli import make_duban, succeeds
from tests.support.engine import import_plan, local, make_runtime, writer_sessions
from tests.support.processes import free_port
from tests.support.review import review_settings
from tests.support.web import Clock

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

pytestmark = pytest.mark.slow  # a headless Chromium, two months of mornings

OFFICE = "督查室"
NOW = local("2020-10-21T10:00")
# A JPEG's first bytes, then anything: the type is read from the bytes, not the name.
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(2048)
LINK = re.compile(r"https?://127\.0\.0\.1:\d+/[rv]/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


def one_tap_settings(port: int, evidence: Path) -> Settings:
    settings = review_settings()
    return settings.model_copy(
        update={
            "web": settings.web.model_copy(update={"public_url": f"http://127.0.0.1:{port}"}),
            "report": settings.report.model_copy(update={"evidence_dir": evidence}),
        }
    )


def links_in(text: str, kind: str) -> list[str]:
    return [link for link in LINK.findall(text) if f"/{kind}/" in link]


def reminded(sessions: sessionmaker[Session], runtime: Runtime, until: date) -> list[Any]:
    """Every working morning from the import to `until`, swept and dispatched; what the
    channel was given."""
    channel = runtime.channels["console"]
    assert isinstance(channel, CaptureChannel)
    day = date(2020, 9, 1)
    while day <= until:
        if runtime.calendar.is_working_day(day):
            runtime.cycle(local(f"{day.isoformat()}T09:00"))
        day += timedelta(days=1)
    return list(channel.sent)


def report_link(sessions: sessionmaker[Session], sent: list[Any], settings: Settings) -> str:
    """The report link of task 1 in the last reminder 市住建局 was sent — made for that
    reminder's due point as the composer makes it, while reminders carry no link yet."""
    mine = [m for m in sent if m.recipient == "市住建局" and m.kind in ("notice", "urge")]
    assert mine, "市住建局 was never reminded"
    found = links_in(mine[-1].text, "r")
    if found:
        return found[0]
    with sessions() as session:
        point, unit = session.execute(
            select(Notification.due_point_id, Assignment.unit_id)
            .join(Assignment, Notification.assignment_id == Assignment.id)
            .where(Notification.message_id == mine[-1].message_id)
        ).one()
    link = composer_of(settings, OFFICE).links.report(unit, point, NOW)
    assert link is not None
    return link


def ranked(sessions: sessionmaker[Session], settings: Settings) -> dict[str, Any]:
    setup = ranking_setup(settings, composer_of(settings, OFFICE))
    with sessions() as session:
        rows = as_json(compute_ranking(session, parse_period("2020-10"), setup))
    (row,) = [r for r in rows if r["unit"] == "市住建局"]
    return row


def test_a_reminders_link_to_a_confirmed_closure_with_a_photo(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sessions = writer_sessions(engine)
    port = free_port()
    settings = one_tap_settings(port, tmp_path / "evidence")
    import_plan(sessions, tmp_path)
    runtime = replace(make_runtime(sessions), composer=composer_of(settings, OFFICE))
    sent = reminded(sessions, runtime, NOW.date())
    link = report_link(sessions, sent, settings)
    before = ranked(sessions, settings)
    photo = tmp_path / "竣工现场.jpg"
    photo.write_bytes(PHOTO)

    clock = Clock(NOW)
    with (
        httpx.Client() as http,
        served(create_app(WebContext(settings, sessions, clock=clock, http=http)), port),
        chromium(tmp_path / "profile") as browser,
    ):
        from selenium.webdriver.common.by import By

        # The unit: its page, from the reminder's link, on a phone.
        browser.get(link)
        assert "新增公共停车位" in browser.page_source
        assert page_width(browser) <= 375
        browser.find_element(By.CSS_SELECTOR, "details#complete summary").click()
        form = browser.find_element(By.CSS_SELECTOR, "details#complete form")
        form.find_element(By.NAME, "text").send_keys("停车位已全部建成")
        form.find_element(By.NAME, "files").send_keys(str(photo))
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        assert "第1项办结申请已收到" in browser.page_source

        # The supervisor: the closure request, with the photo and their own link.
        with sessions() as session:
            request = session.scalar(select(Message).where(Message.kind == "request"))
            assert request is not None
            assert request.recipient_name == "赵华"
            assert "竣工现场.jpg" in request.text
            assert links_in(request.text, "e") or "/e/" in request.text
            (review,) = links_in(request.text, "v")
        browser.get(review)
        assert "竣工现场.jpg" in browser.page_source
        assert page_width(browser) <= 375
        section = browser.find_element(By.CSS_SELECTOR, "section.request")
        section.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
        assert "第1项已确认办结" in found(browser, "#notice").text

    with sessions() as session:
        lead = session.scalar(
            select(Assignment)
            .join(Unit, Assignment.unit_id == Unit.id)
            .where(Unit.name == "市住建局")
        )
        assert lead is not None
        assert lead.status == "closed"
        (evidence,) = session.scalars(select(Evidence))
        assert (evidence.name, evidence.state, evidence.channel) == (
            "竣工现场.jpg",
            "accepted",
            "web-form",
        )
        assert (tmp_path / "evidence").exists()
        web = session.scalars(select(AuditEvent.action).where(AuditEvent.channel == "web-form"))
        assert {"reply.complete", "approve.close"} <= set(web)

    # The ranking: the closed task counts as on track for 市住建局 in October.
    after = ranked(sessions, settings)
    assert after["metrics"]["on_track"] == before["metrics"]["on_track"] + 1
    assert after["score"] > before["score"]

    # The export: 已办结, with the photo in 佐证材料.
    out = tmp_path / "progress.csv"
    duban = make_duban(db_url)
    succeeds(duban("export", "progress", "--format", "csv", "-o", out, "--as-of", "2020-10-21"))
    with out.open(encoding="utf-8-sig", newline="") as handle:
        header, first, *_ = list(csv.reader(handle))
    row = dict(zip(header, first, strict=True))
    assert row["状态"] == "已办结"
    assert row["佐证材料"] == "市住建局（1份）：竣工现场.jpg"
