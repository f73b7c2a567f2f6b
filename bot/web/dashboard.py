"""The dashboard: server-rendered pages, readable on a phone, with no JavaScript at all.

  /                  the 晾晒 board: the ranking of a period (?period=2020-10 or 2020-W45;
                     by default the month that ended last), an inline SVG bar chart
  /tasks             the plan's tasks; filters ?unit= &status= &light= &supervisor=
  /tasks/{number}    a task: its units and its timeline of reminders, replies, approvals
  /units/{name}      a unit: its assignments, its ranking history, its recent replies

Everything is read-only and open, unless `[web] token` is set: then every page asks for it,
as `?token=…` once (answered by a cookie and a redirect to the same address without it),
the cookie, or `Authorization: Bearer …`. Every page is autoescaped Jinja2 (what units and
the plan wrote is text, never markup) and is sent with a Content-Security-Policy that
allows no script at all. The data is read in the thread pool (sync route functions).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import ConfigError, DubanError
from bot.domain.periods import last_ended, parse_period
from bot.domain.rules import Rules, default_rules, load_rules
from bot.present import labels
from bot.store.database import session_factory
from bot.supervise import board as boards
from bot.supervise import task_list as task_lists
from bot.supervise import task_page as task_pages
from bot.supervise import unit_page as unit_pages
from bot.supervise.ranking import Lights, RankedUnit, score_text
from bot.supervise.ranking_flow import RankingSetup, ranking_setup
from bot.web.context import WebContext

log = logging.getLogger("duban.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"
COOKIE = "duban_dashboard"
COOKIE_DAYS = 30
TASK, UNIT = "任务 #{}", "单位「{}」"  # what a page not found names
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
LIGHT_COLOURS = {"red": "#c5221f", "yellow": "#e8a600", "green": "#188038"}
TEXT_WIDTH = 80  # characters of a task's text the task list shows


# --- the bar chart ------------------------------------------------------------------------

LABEL_WIDTH = 196  # the units' names, right-aligned left of the bars
PLOT_WIDTH = 360  # a score of 100
ROW_HEIGHT = 26
BAR_HEIGHT = 18
TOP = 22  # room for the scale above the bars
LABEL_CHARS = 13


@dataclass(frozen=True)
class Bar:
    unit: str
    label: str  # the name, shortened to fit
    score: str
    light: str
    colour: str
    y: int
    width: float

    @property
    def text_y(self) -> int:
        return self.y + BAR_HEIGHT - 4


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    width: int
    height: int
    left: int = LABEL_WIDTH


def bar_chart(rows: Sequence[RankedUnit], lights: Lights) -> Chart:
    """One horizontal bar per ranked unit, best first, coloured by its light; the scale
    marks 0, the yellow and green thresholds, and 100."""
    bars = tuple(
        Bar(
            unit=row.unit,
            label=row.unit if len(row.unit) <= LABEL_CHARS else row.unit[: LABEL_CHARS - 1] + "…",
            score=score_text(row.score),
            light=row.light,
            colour=LIGHT_COLOURS.get(row.light, "#5f6368"),
            y=TOP + index * ROW_HEIGHT,
            width=round(max(row.score, 0.0) * PLOT_WIDTH / 100, 1),
        )
        for index, row in enumerate(rows)
    )
    marks = sorted({0.0, float(lights.yellow), float(lights.green), 100.0})
    ticks = tuple(Tick(LABEL_WIDTH + m * PLOT_WIDTH / 100, score_text(m)) for m in marks)
    height = TOP + len(bars) * ROW_HEIGHT + 4
    return Chart(bars, ticks, LABEL_WIDTH + PLOT_WIDTH + 64, height)


# --- rendering ----------------------------------------------------------------------------


def environment(tz: ZoneInfo) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def local(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"

    def day(value: date | None) -> str:
        return value.isoformat() if value else "—"

    def shorten(text: str, width: int = TEXT_WIDTH) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    env.filters.update(local=local, day=day, shorten=shorten, segment=_segment)
    env.globals.update(
        query=_query,
        LIGHT_NAMES=labels.LIGHT_NAMES,
        TREND_ARROWS=labels.TREND_ARROWS,
        TREND_NAMES=labels.TREND_NAMES,
        STATUSES=labels.STATUS_NAMES,
        ROLES=labels.ROLE_NAMES,
        score_text=score_text,
    )
    return env


def _segment(value: object) -> str:
    """A value as one path segment of a URL."""
    return quote(str(value), safe="")


def _query(path: str, **params: object) -> str:
    """`path` with the non-empty `params` as its query string."""
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Dashboard:
    """What the dashboard's routes share: the templates, read-only sessions, the rule files
    (read on first use), and the token check."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.tz = ZoneInfo(ctx.settings.plan.timezone)
        self.env = environment(self.tz)
        self.token = ctx.settings.web.token
        # The cookie holds a value derived from the token, not the token itself.
        self.cookie = hmac.new(
            self.token.encode("utf-8"), b"duban dashboard cookie", hashlib.sha256
        ).hexdigest()
        self.readers = readers(ctx.sessions)
        self._lock = threading.Lock()
        self._rules: Rules | None = None
        self._setup: RankingSetup | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.readers() as session:
            yield session

    def rules(self) -> Rules:
        """The ladder's names and lights; the built-in ladder if the rule file is broken
        (the sweep reports that; the pages still show)."""
        with self._lock:
            if self._rules is None:
                try:
                    self._rules = load_rules(self.ctx.settings.schedules.rules)
                except ConfigError as exc:
                    log.warning("dashboard: %s; showing the default ladder", exc)
                    return default_rules()
            return self._rules

    def setup(self) -> RankingSetup:
        """The ranking's rules and calendar; raises ConfigError (tried again next time)."""
        with self._lock:
            if self._setup is None:
                self._setup = ranking_setup(self.ctx.settings, self.ctx.composer)
            return self._setup

    # -- answers ---------------------------------------------------------------------------

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("review_url", self.token and status < 400 and self.ctx.office_review())
        html = self.env.get_template(template).render(office=self.ctx.composer.office, **context)
        return secured(HTMLResponse(html, status_code=status))

    def message(self, status: int, title: str, text: str, **context: Any) -> Response:
        return self.page("message.html", status, title=title, text=text, here="", **context)

    def not_found(self, what: str) -> Response:
        return self.message(404, "未找到", f"{what}不存在，或已从计划中移除。")

    def lookup(self, request: Request, name: str, what: str) -> Response | None:
        """None when the request may look `name` up (`what`: TASK, UNIT); else the guard's
        answer, or not found for a NUL, which no name holds (PostgreSQL refuses it)."""
        if (denied := self.guard(request)) is not None:
            return denied
        if "\x00" in name:
            return self.not_found(what.format(name.replace("\x00", "")))
        return None

    def guard(self, request: Request) -> Response | None:
        """None when the request may see the page; else the answer (401, or the redirect
        that trades `?token=` for the cookie)."""
        if not self.token:
            return None
        given = request.query_params.get("token")
        if given is not None:
            if not _same(given, self.token):
                return self.denied()
            response = RedirectResponse(_without_token(request), status_code=303)
            response.set_cookie(
                COOKIE,
                self.cookie,
                max_age=COOKIE_DAYS * 86400,
                path="/",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
            return secured(response)
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        # Header values arrive decoded as latin-1: their bytes are what the client sent.
        sent = credentials.strip().encode("latin-1", errors="replace")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent, self.token.encode("utf-8")):
            return None
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and _same(cookie, self.cookie):
            return None
        return self.denied()

    def denied(self) -> Response:
        response = self.message(
            401,
            "需要访问令牌",
            f"本看板已设置访问令牌。请使用{self.ctx.composer.office}提供的带令牌链接（…?token=令牌）打开，"
            "或在请求头中携带 Authorization: Bearer 令牌。",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="duban"'
        return response


def secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def _without_token(request: Request) -> str:
    kept = [(key, value) for key, value in request.query_params.multi_items() if key != "token"]
    path = quote(request.url.path, safe="/")
    return f"{path}?{urlencode(kept)}" if kept else path


def readers(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for reading: on SQLite deferred transactions, so that a page never takes
    (or waits for) the write lock the web context's writer sessions take at BEGIN."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        return session_factory(bind.execution_options(sqlite_begin="DEFERRED"))
    return sessions


def _params(request: Request, *names: str) -> dict[str, str]:
    """The query's values; NUL, which no stored text holds (PostgreSQL refuses it), dropped."""
    query: Mapping[str, str] = request.query_params
    return {name: query.get(name, "").replace("\x00", "").strip() for name in names}


# --- the routes ---------------------------------------------------------------------------


def add_dashboard(app: FastAPI, ctx: WebContext) -> None:
    """Adds the dashboard's pages to `app` (see the module's docstring)."""
    dash = Dashboard(ctx)

    @app.get("/", include_in_schema=False)
    def board_page(request: Request) -> Response:
        if (denied := dash.guard(request)) is not None:
            return denied
        return _board(dash, _params(request, "period")["period"])

    @app.get("/tasks", include_in_schema=False)
    def tasks_page(request: Request) -> Response:
        if (denied := dash.guard(request)) is not None:
            return denied
        filters = task_lists.Filters(**_params(request, "unit", "status", "light", "supervisor"))
        with dash.session() as session:
            found = task_lists.task_list(session, dash.rules(), filters)
        return dash.page("tasks.html", here="tasks", filters=filters, found=found)

    @app.get("/tasks/{number}", include_in_schema=False)
    def task_page(request: Request, number: str) -> Response:
        if (refused := dash.lookup(request, number, TASK)) is not None:
            return refused
        with dash.session() as session:
            task = task_pages.task_page(session, dash.rules(), dash.tz, number, ctx.evidence_link)
        if task is None:
            return dash.not_found(TASK.format(number))
        return dash.page("task.html", here="tasks", page=task)

    @app.get("/units/{name:path}", include_in_schema=False)
    def unit_page(request: Request, name: str) -> Response:
        if (refused := dash.lookup(request, name, UNIT)) is not None:
            return refused
        try:
            setup: RankingSetup | None = dash.setup()
        except ConfigError as exc:
            log.error("dashboard: the ranking rules cannot be read: %s", exc)
            setup = None
        with dash.session() as session:
            unit = unit_pages.unit_page(session, dash.rules(), setup, name, dash.ctx.clock())
        if unit is None:
            return dash.not_found(UNIT.format(name))
        return dash.page("unit.html", here="", page=unit, ranked=setup is not None)


def _board(dash: Dashboard, asked: str) -> Response:
    try:
        setup = dash.setup()
    except ConfigError as exc:
        log.error("dashboard: the ranking rules cannot be read: %s", exc)
        office = dash.ctx.composer.office
        return dash.message(
            503, "暂时无法显示排名", f"排名规则文件有误，请{office}检查配置后重试。"
        )
    now = dash.ctx.clock()
    with dash.session() as session:
        clock = boards.board_clock(session, setup, now)
        latest_month = boards.default_period(session, setup, now)
        try:
            period = parse_period(asked) if asked else latest_month
        except DubanError as exc:
            return dash.message(400, "期间有误", str(exc), back=("/", "查看最近一期"))
        shown = boards.board(session, setup, period, now)
    weights = setup.config.weights
    following = period.next()
    return dash.page(
        "board.html",
        here="board",
        board=shown,
        period=period,
        previous=period.previous(),
        following=following if boards.is_over(following, setup, now) else None,
        # The latest ended period of the other kind: weeks from a month, a month from a week.
        other=latest_month
        if period.kind == "week"
        else last_ended("week", clock.astimezone(setup.tz).date()),
        chart=bar_chart(shown.rows, setup.config.lights),
        weights=[
            score_text(float(w))
            for w in (weights.on_time_reports, weights.on_track, weights.no_overdue)
        ],
        thresholds=(
            score_text(float(setup.config.lights.green)),
            score_text(float(setup.config.lights.yellow)),
        ),
    )
