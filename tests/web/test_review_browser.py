"""The 待审 page (bot/web/review.py) in a real headless Chromium on a phone-sized screen,
served by uvicorn over the database of the `sessions` fixture (both backends): it needs no
sideways scrolling, a decision is one tap with no JavaScript, and the same form sent again
(the answer reloaded, a double tap) changes nothing and says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import AuditEvent, Evidence
from bot.web.review import add_review
from tests.support.browser import found, on_a_phone, page_width, served, skip_without_browser
from tests.support.dashboard import web_context
from tests.support.engine import apply_reply, import_plan, writer_sessions
from tests.support.processes import free_port
from tests.support.review import ASKED, BASE, COMPOSER, LINKS, NOW, assignment_of, make_evidence
from tests.support.review import review_settings as settings_with_links

skip_without_browser()

pytestmark = pytest.mark.slow  # a headless Chromium


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return writer_sessions(engine)


@pytest.fixture
def requested(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    import_plan(sessions, tmp_path)
    with sessions.begin() as session:
        make_evidence(session, assignment_of(session, "市住建局"), ASKED, name="竣工照片" * 8)
        apply_reply(session, "市住建局", "完成 #1 已建成" + "，说明" * 40, ASKED, composer=COMPOSER)
        apply_reply(
            session,
            "市发改委",
            "延期 #2 2021-03-31 用地审批未完成",
            ASKED + timedelta(hours=1),
            composer=COMPOSER,
        )
    return sessions


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with on_a_phone(tmp_path / "profile") as driver:
        yield driver


@pytest.fixture
def office_page(requested: sessionmaker[Session]) -> Iterator[str]:
    with httpx.Client() as http:
        app = FastAPI()
        add_review(app, web_context(settings_with_links(), requested, http, NOW))
        with served(app, free_port()) as base:
            link = LINKS.review("office", None, NOW)
            assert link is not None
            yield base + link.removeprefix(BASE)


def test_the_page_fits_a_phone_and_a_closure_is_confirmed_in_one_tap(
    browser: Any, office_page: str, requested: sessionmaker[Session]
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(office_page)
    assert browser.title == "待审事项 · 督办看板"
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.request")) == 2
    assert page_width(browser) <= 375

    first = browser.find_elements(By.CSS_SELECTOR, "section.request")[0]
    first.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()

    assert found(browser, "#notice").text == "第1项已确认办结。"
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.request")) == 1
    with requested() as session:
        assert session.scalars(select(Evidence.state)).all() == ["accepted"]


def test_the_answer_reloaded_sends_the_form_again_and_changes_nothing(
    browser: Any, office_page: str, requested: sessionmaker[Session]
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(office_page)
    first = browser.find_elements(By.CSS_SELECTOR, "section.request")[0]
    first.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
    assert "已确认办结" in found(browser, "#notice").text
    with requested() as session:
        before = len(session.scalars(select(AuditEvent.id)).all())

    browser.refresh()  # a POST answer reloaded: the browser sends the same form again

    assert "该表单已提交过，未重复处理" in found(browser, "#notice").text
    with requested() as session:
        assert len(session.scalars(select(AuditEvent.id)).all()) == before


def test_a_return_asks_for_its_reason_in_the_browser_before_sending(
    browser: Any, office_page: str, requested: sessionmaker[Session]
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(office_page)
    first = browser.find_elements(By.CSS_SELECTOR, "section.request")[0]
    first.find_element(By.CSS_SELECTOR, "button[value=return]").click()  # no reason: not sent

    assert browser.current_url == office_page
    assert browser.find_elements(By.ID, "notice") == []
    first.find_element(By.NAME, "reason").send_keys("佐证材料不全")
    first.find_element(By.CSS_SELECTOR, "button[value=return]").click()
    assert "第1项已退回" in found(browser, "#notice").text
