"""A headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) for the
browser tests, and whether one can run here: without /usr/bin/chromium or
/usr/bin/chromedriver (or Selenium) a browser module is skipped — unless
DUBAN_REQUIRE_BROWSER=1 (as .ci/run sets), and then it fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium import webdriver

try:
    import selenium  # noqa: F401

    SELENIUM = True
except ImportError:  # said by `missing`, as the reason to skip (or fail)
    SELENIUM = False

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRED = os.environ.get("DUBAN_REQUIRE_BROWSER", "") not in ("", "0")
PHONE = {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True}


def missing() -> str | None:
    """Why no browser can run here; None when one can."""
    absent = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if absent:
        return f"no browser: {', '.join(absent)} missing (apt-get install chromium chromium-driver)"
    if not SELENIUM:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium at desktop size, its profile in `profile`, logging the console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=zh-CN",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_page_load_timeout(30)
    return browser


def module_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """A browser module's `driver` fixture (one Chromium for the module):
    `driver = pytest.fixture(scope="module", name="driver")(module_browser)`. Without a
    browser here (and DUBAN_REQUIRE_BROWSER set, else the module was skipped) each test fails."""
    reason = missing()
    if reason is not None:
        pytest.fail(f"DUBAN_REQUIRE_BROWSER is set, but {reason}", pytrace=False)
    browser = chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.quit()
