"""A headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) for the
browser tests, and whether one can run here: without /usr/bin/chromium or
/usr/bin/chromedriver (or Selenium) a browser module is skipped — unless
DUBAN_REQUIRE_BROWSER=1 (as .ci/run sets), and then it fails. Also: a phone-sized browser,
the web app served by uvicorn on a port, and waiting for what a click loads."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def skip_without_browser() -> None:
    """A browser module's first call: skips the module when no browser can run here,
    unless DUBAN_REQUIRE_BROWSER is set (then `chromium` fails each test, saying why)."""
    reason = missing()
    if reason is not None and not REQUIRED:
        pytest.skip(reason, allow_module_level=True)


def chromium(profile: Path) -> webdriver.Chrome:
    """A headless Chromium at desktop size, its profile in `profile`, logging the console.
    Without a browser here (and DUBAN_REQUIRE_BROWSER set, else the module was skipped) the
    test fails, saying what is missing."""
    reason = missing()
    if reason is not None:
        pytest.fail(f"DUBAN_REQUIRE_BROWSER is set, but {reason}", pytrace=False)
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
    `driver = pytest.fixture(scope="module", name="driver")(module_browser)`."""
    browser = chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.quit()


@contextmanager
def on_a_phone(profile: Path) -> Iterator[webdriver.Chrome]:
    """`chromium` on a 375 px wide phone screen, quit at the end."""
    browser = chromium(profile)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        yield browser
    finally:
        browser.quit()


@contextmanager
def served(app: Any, port: int) -> Iterator[str]:
    """`app` served by uvicorn on 127.0.0.1:`port` in a thread; its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"


def page_width(browser: webdriver.Chrome) -> int:
    """How wide the page's content is, in CSS pixels (more than 375: it scrolls sideways)."""
    return int(browser.execute_script("return document.documentElement.scrollWidth"))


def found(browser: webdriver.Chrome, css: str, timeout: float = 10) -> Any:
    """The first element matching `css`, once the page shows one (a form's answer loads
    after the click returns)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda b: b.find_elements(By.CSS_SELECTOR, css))
    return browser.find_element(By.CSS_SELECTOR, css)


def shows(browser: webdriver.Chrome, text: str, timeout: float = 10) -> bool:
    """Whether the page shows `text` within `timeout` (a form's answer loads after the
    click returns)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(browser, timeout).until(lambda b: text in b.page_source)
    except TimeoutException:
        return False
    return True
