"""The report page in a real headless Chromium at a phone's width (375 px): it needs no
sideways scrolling and no script, and a unit can open 完成, attach a photo and submit it;
the closure request and its evidence are kept. Skipped without a browser (see
tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.domain.lifecycle import Status
from bot.evidence.attach import ATTACHED
from tests.support.browser import PHONE, module_browser, skip_without_browser
from tests.support.evidence import png
from tests.support.report import point_of, report_path, schedule, stored, with_reports
from tests.support.web import NOW, assignment_of, audit

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # tests.support.browser.missing says so, the reason to skip (or fail)
    pass

pytestmark = pytest.mark.slow  # a headless Chromium

skip_without_browser()


driver = pytest.fixture(scope="module", name="driver")(module_browser)


@pytest.fixture
def phone(driver: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    yield driver
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get("about:blank")


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def settings(settings: Settings, evidence_dir: Path) -> Settings:
    return with_reports(settings, evidence_dir)


def test_a_unit_asks_for_closure_with_a_photo_from_a_phone(
    phone: webdriver.Chrome,
    client: httpx.Client,
    planned: sessionmaker[Session],
    evidence_dir: Path,
    tmp_path: Path,
) -> None:
    schedule(planned, NOW)
    link = report_path(*point_of(planned, "1", "市发改委"), NOW)
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(64, 48))

    phone.get(f"{client.base_url}{link}")
    assert phone.title == "第1项 · 在线报送 · 督办"
    widths = phone.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];"
    )
    assert widths[0] <= widths[1] == 375  # no sideways scrolling
    assert phone.find_elements(By.TAG_NAME, "script") == []

    phone.find_element(By.CSS_SELECTOR, "details#complete > summary").click()
    form = phone.find_element(By.CSS_SELECTOR, "details#complete form")
    form.find_element(By.NAME, "text").send_keys("停车位已全部建成并投入使用")
    form.find_element(By.NAME, "files").send_keys(str(photo))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(phone, 10).until(lambda b: "已提交" in b.title)

    assert "办结申请已收到" in phone.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert assignment_of(planned, "1", "市发改委")[0] == Status.CLOSURE_REQUESTED
    (attached,) = audit(planned, ATTACHED)
    assert attached.detail["name"] == "现场照片.png"
    assert attached.channel == "web-form"
    assert [p.name for p in stored(evidence_dir)] == [attached.detail["sha256"]]

    phone.find_element(By.LINK_TEXT, "返回报送页面").click()
    WebDriverWait(phone, 10).until(lambda b: "第1项" in b.title)
    assert "现场照片.png" in phone.find_element(By.TAG_NAME, "main").text
