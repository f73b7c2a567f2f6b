"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium), served by uvicorn on a free port of 127.0.0.1 over the database of the
`sessions` fixture (both backends): pages load, the chart renders, the filter form works
without JavaScript, a script in a task or a reply stays text, and a phone-sized screen
needs no sideways scrolling of the page (wide tables scroll inside their own box).

Without /usr/bin/chromium or /usr/bin/chromedriver the module is skipped — unless
DUBAN_REQUIRE_BROWSER=1 (as .ci/run sets), and then it fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.web.app import create_app
from bot.web.context import WebContext
from bot.web.dashboard import add_dashboard
from tests.support.browser import PHONE, module_browser, skip_without_browser
from tests.support.dashboard import (
    PAYLOAD,
    REPLY_PAYLOAD,
    TOKEN,
    Story,
    dashboard_settings,
    web_context,
)
from tests.support.engine import writer_sessions
from tests.support.processes import free_port

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # tests.support.browser.missing says so, the reason to skip (or fail)
    pass

pytestmark = pytest.mark.slow  # a headless Chromium

skip_without_browser()


driver = pytest.fixture(scope="module", name="driver")(module_browser)


@pytest.fixture
def browser(driver: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The module's Chromium, at desktop size, with no cookies or console messages left
    over from the test before."""
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser_log(driver)
    yield driver
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get("about:blank")


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return writer_sessions(engine)


@pytest.fixture
def story(sessions: sessionmaker[Session], tmp_path: Path) -> Story:
    return Story(sessions, tmp_path).tell()


@pytest.fixture
def serve(sessions: sessionmaker[Session], story: Story) -> Iterator[Callable[..., str]]:
    """Serves the web app with the dashboard on a free port; returns its base URL."""
    running: list[tuple[uvicorn.Server, threading.Thread, httpx.Client]] = []

    def start(token: str = "") -> str:
        http = httpx.Client()
        ctx: WebContext = web_context(dashboard_settings(token), sessions, http)
        app = create_app(ctx)
        if not any(getattr(route, "path", None) == "/" for route in app.routes):
            add_dashboard(app, ctx)  # until create_app adds the dashboard itself
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
        thread.start()
        running.append((server, thread, http))
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread, http in running:
        server.should_exit = True
        thread.join(10)
        http.close()
        assert not thread.is_alive(), "a server did not stop"


def rows(browser: webdriver.Chrome) -> list[str]:
    """The task numbers the task list shows."""
    cells = browser.find_elements(By.CSS_SELECTOR, "tr.task-row td:first-child a")
    return [cell.text.lstrip("#") for cell in cells]


def submit(browser: webdriver.Chrome, **choices: str) -> None:
    """Chooses options (by their visible text) in the filter form and submits it."""
    form = browser.find_element(By.CSS_SELECTOR, "form.filters")
    for name, text in choices.items():
        Select(form.find_element(By.NAME, name)).select_by_visible_text(text)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: _stale(form))


def _stale(element: WebElement) -> bool:
    try:
        element.is_enabled()
    except Exception:  # StaleElementReferenceException: the next page has loaded
        return True
    return False


def browser_log(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    """The console messages since the last call (Selenium leaves `get_log` untyped)."""
    read = cast(Callable[[str], list[dict[str, Any]]], browser.get_log)
    return read("browser")


def console_problems(browser: webdriver.Chrome) -> list[str]:
    """Errors in the console: a blocked resource, a policy violation, a script error."""
    entries = browser_log(browser)
    return [str(e["message"]) for e in entries if e.get("level") == "SEVERE"]


# --- tests --------------------------------------------------------------------------------


def test_the_board_loads_and_draws_a_bar_per_unit(
    browser: webdriver.Chrome, serve: Callable[..., str]
) -> None:
    base = serve()
    browser.get(f"{base}/")
    assert browser.title == "2020年10月 工作晾晒 · 督办看板"
    ranked = browser.find_elements(By.CSS_SELECTOR, "table.ranking tbody tr")
    bars = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg rect.bar")
    assert len(bars) == len(ranked) == 3
    boxes = [
        browser.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return {width: r.width, height: r.height, top: r.top};",
            bar,
        )
        for bar in bars
    ]
    assert all(box["width"] > 0 and box["height"] > 0 for box in boxes), boxes
    assert [box["width"] for box in boxes] == sorted((b["width"] for b in boxes), reverse=True)
    assert [box["top"] for box in boxes] == sorted(box["top"] for box in boxes)
    fills = {bar.get_attribute("fill") for bar in bars}
    assert len(fills) >= 2  # the story lights more than one colour
    lights = [row.find_element(By.CSS_SELECTOR, ".light").text for row in ranked]
    assert set(lights) <= {"红", "黄", "绿"}
    assert len(set(lights)) >= 2
    assert console_problems(browser) == []


def test_the_filter_form_narrows_the_task_list(
    browser: webdriver.Chrome, serve: Callable[..., str]
) -> None:
    base = serve()
    browser.get(f"{base}/tasks")
    assert rows(browser) == ["1", "2"]
    submit(browser, unit="市发改委")
    assert rows(browser) == ["2"]
    assert "unit=%E5%B8%82%E5%8F%91%E6%94%B9%E5%A7%94" in browser.current_url
    submit(browser, unit="全部单位", light="红灯")
    assert rows(browser) == ["1"]
    submit(browser, light="全部", supervisor="李明")
    assert rows(browser) == ["2"]
    submit(browser, supervisor="全部", status="已办结")
    assert rows(browser) == []
    assert "没有符合条件的任务" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.LINK_TEXT, "清除筛选").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url == f"{base}/tasks")
    assert rows(browser) == ["1", "2"]
    browser.find_element(By.LINK_TEXT, "#1").click()
    WebDriverWait(browser, 10).until(lambda b: b.title.startswith("任务 #1"))
    timeline = browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")
    assert len(timeline) > 10
    assert console_problems(browser) == []


def test_a_script_in_a_task_or_a_reply_stays_text(
    browser: webdriver.Chrome, serve: Callable[..., str], story: Story
) -> None:
    story.poison()
    base = serve()
    pages = {
        "/tasks/2": "任务 #2 · 督办看板",
        "/tasks": "任务清单 · 督办看板",
        "/units/市发改委": "市发改委 · 督办看板",
    }
    for path, title in pages.items():
        browser.get(f"{base}{path}")
        time.sleep(0.2)  # what an onerror or onload would have had time to do
        assert browser.title == title, path
        assert "pwned" not in browser.title
        assert browser.find_elements(By.CSS_SELECTOR, "main img, main script, main svg") == []
    browser.get(f"{base}/tasks/2")
    assert browser.find_element(By.ID, "task-text").text == PAYLOAD
    said = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "ol.timeline .said")]
    assert REPLY_PAYLOAD in said
    browser.get(f"{base}/units/市发改委")
    assert REPLY_PAYLOAD in browser.find_element(By.TAG_NAME, "main").text


def test_on_a_phone_only_the_tables_scroll_sideways(
    browser: webdriver.Chrome, serve: Callable[..., str], story: Story
) -> None:
    story.poison()  # a long task text without spaces to break at, too
    base = serve()
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    for path in ("/", "/tasks", "/tasks/1", "/tasks/2", "/units/市住建局", "/tasks/99"):
        browser.get(f"{base}{path}")
        sizes = browser.execute_script(
            "return {inner: window.innerWidth,"
            " page: document.documentElement.scrollWidth,"
            " body: document.body.scrollWidth};"
        )
        assert sizes["inner"] == 375, sizes
        assert sizes["page"] <= sizes["inner"], (path, sizes)
        assert sizes["body"] <= sizes["inner"], (path, sizes)
    browser.get(f"{base}/tasks")
    box = browser.find_element(By.CSS_SELECTOR, "div.scroll")
    widths = browser.execute_script(
        "return {scroll: arguments[0].scrollWidth, client: arguments[0].clientWidth,"
        " overflow: getComputedStyle(arguments[0]).overflowX};",
        box,
    )
    assert widths["scroll"] > widths["client"], widths
    assert widths["overflow"] == "auto"
    # The chart shrinks to the screen, its bars still drawn.
    browser.get(f"{base}/")
    chart = browser.find_element(By.CSS_SELECTOR, "figure.chart svg")
    assert 0 < chart.size["width"] <= 375
    assert all(bar.size["width"] > 0 for bar in chart.find_elements(By.CSS_SELECTOR, "rect.bar"))


def test_with_a_token_the_link_opens_the_dashboard_and_the_cookie_keeps_it_open(
    browser: webdriver.Chrome, serve: Callable[..., str]
) -> None:
    base = serve(token=TOKEN)
    browser.get(f"{base}/")
    assert browser.title == "需要访问令牌 · 督办看板"
    assert "市住建局" not in browser.page_source
    browser.get(f"{base}/tasks?unit=%E5%B8%82%E5%8F%91%E6%94%B9%E5%A7%94&token={TOKEN}")
    assert browser.current_url == f"{base}/tasks?unit=%E5%B8%82%E5%8F%91%E6%94%B9%E5%A7%94"
    assert rows(browser) == ["2"]
    cookies = browser.get_cookies()
    assert [(c["httpOnly"], c["sameSite"]) for c in cookies] == [(True, "Strict")]
    assert TOKEN not in str(cookies)
    browser.get(f"{base}/")
    assert browser.title == "2020年10月 工作晾晒 · 督办看板"
