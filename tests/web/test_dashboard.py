"""The dashboard (bot/web/dashboard.py) over a real database, both backends: the 晾晒
board, the task list and its filters, a task's timeline, a unit's page, escaping, the
access token and the security headers. Served by a TestClient; the same pages in a real
browser are in test_dashboard_browser.py.

The data is the small plan of tests/support/engine.py lived through September and October
2020 (swept and dispatched every working morning, with replies and an approval).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import escape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import composer_of
from bot.domain.periods import parse_period
from bot.supervise.ranking import Lights, RankedUnit, UnitMetrics
from bot.supervise.ranking_flow import compute_ranking, ranking_setup
from bot.web.app import create_app
from bot.web.context import WebContext
from bot.web.dashboard import COOKIE, CSP, PLOT_WIDTH, add_dashboard, bar_chart
from tests.support.dashboard import (
    NOW,
    PAYLOAD,
    REPLY_PAYLOAD,
    TOKEN,
    Story,
    dashboard_settings,
    web_context,
)
from tests.support.engine import import_plan, writer_sessions
from tests.support.review import BASE, assignment_of, make_evidence, review_settings
from tests.support.snapshot import Snapshot

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what this project has
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow  # September and October, lived day by day once per backend

# --- fixtures -----------------------------------------------------------------------------

SETTING_SECTIONS = ("DUBAN_WEB", "DUBAN_PLAN", "DUBAN_SCHEDULES", "DUBAN_DIRECTORY")


@pytest.fixture(autouse=True)
def _settings_from_the_tests_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith(SETTING_SECTIONS):
            monkeypatch.delenv(name)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return writer_sessions(engine)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    client = httpx.Client()
    yield client
    client.close()


@pytest.fixture
def story(
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    snapshots: dict[tuple[str, str], Snapshot],
) -> Story:
    return Story.told(engine, sessions, tmp_path, snapshots)


def dashboard_app(ctx: WebContext) -> FastAPI:
    app = FastAPI()
    add_dashboard(app, ctx)
    return app


@pytest.fixture
def serve(
    sessions: sessionmaker[Session], http: httpx.Client
) -> Iterator[Callable[..., TestClient]]:
    """Serves the dashboard (alone, on a fresh FastAPI app) over the test's database."""
    clients: list[TestClient] = []

    def start(token: str = "", now: datetime = NOW) -> TestClient:
        ctx = web_context(dashboard_settings(token), sessions, http, now)
        client = TestClient(dashboard_app(ctx))
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()


@pytest.fixture
def client(story: Story, serve: Callable[..., TestClient]) -> TestClient:
    return serve()


# --- reading the pages --------------------------------------------------------------------

BAR = re.compile(r'<rect class="bar bar-(\w+)"[^>]* width="([\d.]+)"')
TASK_ROW = re.compile(
    r'<tr class="task-row" data-light="(\w+)" data-status="(\w+)">\s*<td><a[^>]*>#(\w+)<'
)
RANK_ROW = re.compile(
    r'<tr class="unit-row[^"]*">\s*<td class="num">(\d+)</td>\s*<td><a[^>]*>([^<]+)</a>'
)


def task_numbers(page: str) -> list[str]:
    return [number for _, _, number in TASK_ROW.findall(page)]


def get(client: TestClient, url: str, status: int = 200) -> str:
    response: httpx.Response = client.get(url)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    text: str = response.text
    return text


def october(sessions: sessionmaker[Session]) -> list[RankedUnit]:
    settings = dashboard_settings()
    setup = ranking_setup(settings, composer_of(settings))
    with sessions() as session:
        return compute_ranking(session, parse_period("2020-10"), setup)


# --- the board ----------------------------------------------------------------------------


def test_the_board_ranks_the_month_that_ended_last(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    page = get(client, "/")
    ranked = october(sessions)
    assert len(ranked) == 3
    assert "2020年10月 工作晾晒" in page
    assert RANK_ROW.findall(page) == [(str(r.rank), r.unit) for r in ranked]
    bars = BAR.findall(page)
    assert [light for light, _ in bars] == [r.light for r in ranked]
    assert [float(width) for _, width in bars] == [
        pytest.approx(r.score * PLOT_WIDTH / 100, abs=0.1) for r in ranked
    ]
    for row in ranked:  # each light is also written out, for who cannot tell the colours
        label = {"red": "红", "yellow": "黄", "green": "绿"}[row.light]
        assert f'<span class="light light-{row.light}" title="{label}灯">{label}</span>' in page
    assert {r.light for r in ranked} != {ranked[0].light}, "the story should show two lights"
    # Trends against September: arrows, or 新 for a unit not ranked then.
    arrows = re.findall(r'<span class="trend trend-(\w+)" title="[^"]+">([^<]*)</span>', page)
    assert arrows == [
        (r.trend, {"up": "↑", "down": "↓", "same": "→", "new": "新"}[r.trend]) for r in ranked
    ]
    assert "本期排名尚未发布到晾晒群" in page


def test_the_board_of_a_past_year_opens_on_its_last_month_not_on_today(
    story: Story, serve: Callable[..., TestClient]
) -> None:
    # The demo's database: its messages went out in 2020, the dashboard is opened years later.
    page = get(serve(now=datetime(2026, 12, 5, 2, tzinfo=UTC)), "/")
    assert "2020年10月 工作晾晒" in page
    assert RANK_ROW.findall(page)


def test_the_board_shows_any_period_asked_for(client: TestClient) -> None:
    september = get(client, "/?period=2020-09")
    assert "2020年9月 工作晾晒" in september
    assert [t for t, _ in re.findall(r'trend trend-(\w+)" title="([^"]+)"', september)] == [
        "new"
    ] * 3
    week = get(client, "/?period=2020-W40")
    assert "2020年第40周" in week
    assert len(BAR.findall(week)) == len(RANK_ROW.findall(week)) > 0
    # Links to the periods around it; none to a period not over yet.
    october_page = get(client, "/?period=2020-10")
    assert 'href="/?period=2020-09"' in october_page
    assert 'href="/?period=2020-11"' not in october_page


def test_a_period_not_over_or_before_the_plan_is_a_friendly_page(client: TestClient) -> None:
    assert "2020-11 尚未结束" in get(client, "/?period=2020-11")
    assert "本期没有可排名的单位" in get(client, "/?period=2020-08")
    wrong = get(client, "/?period=2020-13", status=400)
    assert "期间「2020-13」不存在" in wrong
    assert "格式不对" in get(client, "/?period=<b>x</b>", status=400)
    assert "<b>x</b>" not in get(client, "/?period=<b>x</b>", status=400)


def test_without_a_plan_every_page_says_so_and_none_fails(
    serve: Callable[..., TestClient],
) -> None:
    client = serve()
    assert "还没有导入工作计划" in get(client, "/")
    assert "还没有导入工作计划" in get(client, "/?period=2020-W40")
    assert "还没有导入工作计划" in get(client, "/tasks")
    assert "还没有导入工作计划" in get(client, "/tasks?unit=市住建局&light=red")
    assert "未找到" in get(client, "/tasks/1", status=404)
    assert "未找到" in get(client, "/units/市住建局", status=404)


def test_bar_chart_draws_one_bar_per_unit_scaled_to_the_score() -> None:
    rows = [
        RankedUnit("市发改委", 96.0, 1, "green", "up", UnitMetrics("市发改委")),
        RankedUnit("市委组织部(市人才办)很长的名字", 72.5, 2, "yellow", "new", UnitMetrics("x")),
        RankedUnit("市经信局", 0.0, 3, "red", "down", UnitMetrics("市经信局")),
    ]
    chart = bar_chart(rows, Lights())
    assert [bar.width for bar in chart.bars] == [
        96 * PLOT_WIDTH / 100,
        72.5 * PLOT_WIDTH / 100,
        0,
    ]
    assert [bar.y for bar in chart.bars] == sorted({bar.y for bar in chart.bars})
    assert chart.bars[1].label.endswith("…")
    assert len(chart.bars[1].label) == 13
    assert [tick.label for tick in chart.ticks] == ["0", "60", "85", "100"]
    assert chart.height > chart.bars[-1].y
    assert bar_chart([], Lights()).bars == ()


# --- the task list ------------------------------------------------------------------------


def test_the_task_list_shows_every_task_with_its_lead_and_light(client: TestClient) -> None:
    page = get(client, "/tasks")
    assert task_numbers(page) == ["1", "2"]
    assert "共 2 项" in page
    # The filter form works without JavaScript: a GET form of <select>s.
    assert '<form class="filters card" method="get" action="/tasks"' in page
    for name in ("unit", "status", "light", "supervisor"):
        assert f'<select name="{name}">' in page
    assert '<option value="市住建局">市住建局</option>' in page
    assert '<option value="李明">李明</option>' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("unit=市发改委", ["2"]),
        ("unit=市财政局", ["1"]),  # a co-unit's tasks too
        ("supervisor=赵华", ["1"]),  # through the lead unit's supervisor
        ("supervisor=李明", ["2"]),
        ("status=in_progress", ["1", "2"]),
        ("status=closed", []),
        ("unit=市财政局&status=in_progress", ["1"]),  # its own assignment's status
        ("unit=市财政局&status=not_started", []),
        ("unit=市发改委&supervisor=赵华", []),
        ("unit=&status=&light=&supervisor=", ["1", "2"]),  # an empty form
    ],
)
def test_filters_narrow_the_task_list(client: TestClient, query: str, expected: list[str]) -> None:
    page = get(client, f"/tasks?{query}")
    assert task_numbers(page) == expected
    if not expected:
        assert "没有符合条件的任务" in page


@pytest.mark.parametrize(
    ("light", "expected"),
    # Task 1: 市住建局's October report was escalated to 通报 on 10-29 and is still open.
    # Task 2: 市发改委 reported for October; its deadline moved to 2021-03-31.
    [("red", ["1"]), ("yellow", []), ("green", ["2"])],
)
def test_the_light_filter_keeps_the_tasks_of_that_light(
    client: TestClient, light: str, expected: list[str]
) -> None:
    page = get(client, f"/tasks?light={light}")
    assert task_numbers(page) == expected
    assert all(shown == light for shown, _, _ in TASK_ROW.findall(page))
    assert f'<option value="{light}" selected>' in page


def test_a_unit_filter_shows_that_units_light(client: TestClient) -> None:
    # 市财政局 helps on task 1 and reported for October: its own item is green.
    page = get(client, "/tasks?unit=市财政局")
    assert TASK_ROW.findall(page) == [("green", "in_progress", "1")]
    assert task_numbers(get(client, "/tasks?unit=市财政局&light=red")) == []
    assert task_numbers(get(client, "/tasks?unit=市住建局&light=red")) == ["1"]


def test_an_unknown_unit_in_the_filter_matches_nothing(client: TestClient) -> None:
    page = get(client, "/tasks?unit=<i>无此单位</i>")
    assert task_numbers(page) == []
    assert "没有名为「&lt;i&gt;无此单位&lt;/i&gt;」的单位" in page


# --- a task's page ------------------------------------------------------------------------


def test_a_task_page_shows_its_units_and_timeline(client: TestClient) -> None:
    page = get(client, "/tasks/1")
    assert "新增公共停车位 1000 个。10月底前完成。" in page
    assert "赵华" in page  # the lead unit's supervisor
    units = re.findall(
        r'<tr>\s*<td><a href="/units/[^"]+">([^<]+)</a></td>\s*<td>([^<]+)</td>', page
    )
    assert units == [("市住建局", "牵头"), ("市财政局", "配合")]
    timeline = page[page.index('<ol class="timeline"') :]
    # Replies with their text, oldest first.
    assert timeline.index("已开工") < timeline.index("主体完工") < timeline.index("资金已拨付")
    assert "进度 80%" in timeline
    # Reminders and escalations of the ladder, with their levels and lights.
    for level in ("提醒", "催办", "督办", "通报"):
        assert f"<strong>{level}" in timeline
    assert '<span class="light light-red" title="红灯">红</span>' in timeline
    assert "发给 督查室、李明：已发送" in timeline  # 市财政局 never reported in September
    # Due dates and what became of them.
    assert "报送进展到期" in timeline
    assert "未按期报送" in timeline
    assert "已报送" in timeline
    whens = re.findall(r'<span class="when">([^<]+)</span>', timeline)
    assert [w[:10] for w in whens] == sorted(w[:10] for w in whens)


def test_a_task_page_shows_approvals(client: TestClient) -> None:
    timeline = get(client, "/tasks/2").split('<ol class="timeline"')[1]
    assert "申请延期" in timeline
    assert "用地审批未完成" in timeline
    assert "至 2021-03-31" in timeline
    assert "同意延期" in timeline
    assert timeline.index("申请延期") < timeline.index("同意延期")


def test_an_unknown_task_or_unit_is_a_404_page(client: TestClient) -> None:
    page = get(client, "/tasks/99", status=404)
    assert "任务 #99不存在" in page
    assert "单位「&lt;script&gt;」不存在" in get(client, "/units/<script>", status=404)


# --- a unit's page ------------------------------------------------------------------------


def test_a_unit_page_shows_its_tasks_ranks_and_replies(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    page = get(client, "/units/市住建局")
    assert "<h1>市住建局</h1>" in page
    assert '<a href="/tasks/1">#1</a>' in page
    history = page.split('<table class="history">')[1].split("</table>")[0]
    periods = re.findall(r'href="/\?period=([\d-]+)"', history)
    assert periods == ["2020-10", "2020-09"]
    mine = next(r for r in october(sessions) if r.unit == "市住建局")
    assert f'<td class="num">{mine.rank}/3</td>' in history
    replies = page.split("<h2>最近回复</h2>")[1]
    assert replies.index("主体完工") < replies.index("已开工")  # newest first
    # Reached through an alias-free URL-encoded path as well.
    assert "<h1>市住建局</h1>" in get(client, "/units/%E5%B8%82%E4%BD%8F%E5%BB%BA%E5%B1%80")


# --- escaping -----------------------------------------------------------------------------


def test_markup_in_a_task_text_or_a_reply_is_shown_as_text(
    story: Story, serve: Callable[..., TestClient]
) -> None:
    story.poison()
    client = serve()
    for url in ("/tasks", "/tasks/2", "/units/市发改委", "/tasks?unit=市发改委"):
        page = get(client, url)
        for markup in ("<script", "<img", "<svg onload"):
            assert markup not in page, url
    task = get(client, "/tasks/2")
    assert str(escape(PAYLOAD)) in task
    assert str(escape(REPLY_PAYLOAD)) in task
    assert str(escape(REPLY_PAYLOAD)) in get(client, "/units/市发改委")


def test_every_page_forbids_scripts(client: TestClient) -> None:
    for url in ("/", "/tasks", "/tasks/1", "/units/市财政局", "/tasks/99"):
        response = client.get(url)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in (
            response.text
        )


# --- the token ----------------------------------------------------------------------------


def test_with_a_token_every_page_asks_for_it(
    story: Story, serve: Callable[..., TestClient]
) -> None:
    client = serve(token=TOKEN)
    for url in ("/", "/tasks", "/tasks/1", "/units/市住建局", "/tasks/99", "/?period=x"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert "需要访问令牌" in response.text
        assert "市住建局" not in response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-security-policy"] == CSP


@pytest.mark.parametrize(
    ("headers", "cookie", "token"),
    [
        ({"Authorization": "Bearer wrong"}, None, None),
        ({"Authorization": f"Basic {TOKEN}"}, None, None),
        ({"Authorization": f"Bearer{TOKEN}"}, None, None),
        ({}, TOKEN, None),  # the cookie holds a value derived from the token, not the token
        ({}, "wrong", None),
        ({}, None, "wrong"),
        ({}, None, ""),
        ({"Authorization": f"Bearer {TOKEN}"}, None, "wrong"),  # a wrong link is refused
    ],
)
def test_a_wrong_token_is_refused(
    story: Story,
    serve: Callable[..., TestClient],
    headers: dict[str, str],
    cookie: str | None,
    token: str | None,
) -> None:
    client = serve(token=TOKEN)
    if cookie is not None:
        client.cookies.set(COOKIE, cookie)
    params = {"token": token} if token is not None else {}
    response = client.get("/tasks", headers=headers, params=params, follow_redirects=False)
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_a_bearer_token_opens_the_pages(story: Story, serve: Callable[..., TestClient]) -> None:
    client = serve(token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for url in ("/", "/tasks", "/tasks/1", "/units/市住建局"):
        response = client.get(url, headers=bearer)
        assert response.status_code == 200, url
        assert "set-cookie" not in response.headers
    assert client.get("/tasks/99", headers=bearer).status_code == 404


def test_a_token_may_be_any_text(story: Story, serve: Callable[..., TestClient]) -> None:
    token = "督办-令牌 2020"
    client = serve(token=token)
    bearer = {b"Authorization": f"Bearer {token}".encode()}  # a header's bytes: UTF-8
    assert client.get("/", headers=bearer).status_code == 200
    response = client.get("/", params={"token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get(response.headers["location"]).status_code == 200


def test_a_token_in_the_address_becomes_a_cookie_and_leaves_the_address(
    story: Story, serve: Callable[..., TestClient]
) -> None:
    client = serve(token=TOKEN)
    response = client.get(
        "/tasks", params={"unit": "市住建局", "token": TOKEN, "light": ""}, follow_redirects=False
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location == "/tasks?unit=%E5%B8%82%E4%BD%8F%E5%BB%BA%E5%B1%80&light="
    assert "token" not in location
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert TOKEN not in cookie
    assert "s3cret" not in cookie
    # The browser follows the redirect, and comes back later with the cookie alone.
    page = client.get(location)
    assert page.status_code == 200
    assert task_numbers(page.text) == ["1"]
    assert client.get("/").status_code == 200
    assert client.get("/units/市财政局").status_code == 200
    client.cookies.clear()
    assert client.get("/").status_code == 401


def test_the_token_redirect_keeps_the_path(story: Story, serve: Callable[..., TestClient]) -> None:
    client = serve(token=TOKEN)
    response = client.get(f"/units/市住建局?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/units/%E5%B8%82%E4%BD%8F%E5%BB%BA%E5%B1%80"
    assert client.get(response.headers["location"]).status_code == 200


def test_in_the_web_app_the_token_leaves_the_health_check_open(
    story: Story, sessions: sessionmaker[Session], http: httpx.Client
) -> None:
    ctx = web_context(dashboard_settings(TOKEN), sessions, http)
    app = create_app(ctx)
    if not any(getattr(route, "path", None) == "/" for route in app.routes):
        add_dashboard(app, ctx)  # until create_app adds the dashboard itself
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert (
            client.get("/tasks/1", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tasks/%00", 404),
        ("/units/%E5%B8%82%00", 404),
        ("/tasks?unit=%00&status=%00&light=%00&supervisor=%00", 200),
    ],
)
def test_a_nul_in_the_address_is_not_found_rather_than_a_database_error(
    client: TestClient, path: str, status: int
) -> None:
    assert client.get(path).status_code == status


def test_a_task_page_shows_the_evidence_with_its_link_and_escaped_name(
    sessions: sessionmaker[Session], http: httpx.Client, tmp_path: Path
) -> None:
    import_plan(sessions, tmp_path)
    with sessions.begin() as session:
        lead = assignment_of(session, "市住建局")
        make_evidence(session, lead, NOW, name="<b>现场照片</b>.jpg", size=3 * 1024 * 1024)
    app = dashboard_app(web_context(review_settings(), sessions, http, NOW))
    with TestClient(app) as client:
        page = get(client, "/tasks/1")

    assert "佐证" in page
    assert f"{escape('<b>现场照片</b>.jpg')}</a>" in page
    assert f'<a href="{BASE}/e/' in page
    assert "3.0 MB · 待审核" in page


@pytest.mark.parametrize("token", [TOKEN, ""], ids=["private", "open"])
def test_only_a_private_dashboard_links_the_offices_review_page(
    sessions: sessionmaker[Session], http: httpx.Client, tmp_path: Path, token: str
) -> None:
    import_plan(sessions, tmp_path)
    settings = review_settings()
    settings = settings.model_copy(update={"web": settings.web.model_copy(update={"token": token})})
    with TestClient(dashboard_app(web_context(settings, sessions, http, NOW))) as client:
        refused = client.get("/tasks")
        page = get(client, f"/tasks?token={TOKEN}" if token else "/tasks")

    assert ('id="review-link"' in page) is bool(token)
    assert 'id="review-link"' not in refused.text
    if token:
        link = page.split('id="review-link"')[0].rsplit('href="', 1)[1].split('"')[0]
        assert link.startswith(f"{BASE}/v/")
