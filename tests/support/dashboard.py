"""The dashboard tests' story and setup: the small plan of tests/support/engine.py lived
through September and October 2020 (swept and dispatched every working morning, with
replies and an approval), the settings the dashboard reads, its context on a fixed clock,
and markup written where users write. The TestClient tests and the browser tests share them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import DirectorySettings, SchedulesSettings, Settings, WebSettings
from bot.app.runtime import Runtime
from bot.store.models import Task
from bot.web.context import WebContext
from tests.support.engine import apply_reply, import_plan, local, make_runtime
from tests.support.paths import ROOT
from tests.support.snapshot import Snapshot, restore, take

NOW = local("2020-11-02T10:00")  # a Monday: October is the month that ended last
OFFICE = "督查室"
TOKEN = "s3cret-token-4f1e"
PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
REPLY_PAYLOAD = "<script>document.title='pwned2'</script><svg onload=\"document.title='pwned2'\">"


class Story:
    """Task 1: 市住建局 leads, 市财政局 helps, due 10月底前 (supervisor 赵华 through the
    lead unit); task 2: 市发改委 alone, due the year end (supervisor 李明)."""

    TOLD = date(2020, 10, 31)  # the last day `tell` lives

    def __init__(self, sessions: sessionmaker[Session], folder: Path | None) -> None:
        """The plan imported on 1 September; with no folder, the plan is in the database
        already (laid in from a snapshot) and the story starts where `tell` ends."""
        self.sessions = sessions
        self.runtime: Runtime = make_runtime(sessions)
        self.day = date(2020, 8, 31) if folder else self.TOLD
        if folder:
            import_plan(sessions, folder)

    def until(self, day: str) -> None:
        """Sweeps and dispatches each working morning after the last one, up to `day`."""
        last = date.fromisoformat(day)
        while self.day < last:
            self.day += timedelta(days=1)
            if self.runtime.calendar.is_working_day(self.day):
                self.runtime.cycle(local(f"{self.day.isoformat()}T09:00"))

    def reply(self, unit: str, text: str, at: str) -> str:
        self.until(at[:10])
        with self.sessions.begin() as session:
            return apply_reply(session, unit, text, local(at))

    def tell(self) -> Story:
        self.reply("市住建局", "进展 #1 50% 已开工", "2020-09-23T10:00")
        self.reply("市发改委", "进展 #2 10% 完成选址", "2020-09-28T10:00")
        # A second report in September's window: October's cycle stays open (escalated 10-29).
        self.reply("市住建局", "进展 #1 80% 主体完工", "2020-09-25T10:00")
        self.reply("市财政局", "进展 #1 资金已拨付", "2020-10-22T10:00")
        self.reply("市发改委", "延期 #2 2021-03-31 用地审批未完成", "2020-10-26T10:00")
        self.reply(OFFICE, "同意延期 #2", "2020-10-27T10:00")
        self.reply("市发改委", "进展 #2 30% 用地报批中", "2020-10-28T10:00")
        self.until(self.TOLD.isoformat())
        return self

    @classmethod
    def told(
        cls,
        engine: Engine,
        sessions: sessionmaker[Session],
        folder: Path,
        snapshots: dict[tuple[str, str], Snapshot],
    ) -> Story:
        """The story told in the empty database of `engine`: lived day by day the first time
        on each backend, then laid in from the rows that first telling left."""
        key = ("dashboard", engine.dialect.name)
        if key in snapshots:
            restore(engine, snapshots[key])
            return cls(sessions, None)
        story = cls(sessions, folder).tell()
        snapshots[key] = take(engine)
        return story

    def poison(self) -> None:
        """Markup where users write: task 2's text, and a reply on it."""
        with self.sessions.begin() as session:
            session.execute(update(Task).where(Task.number == "2").values(text=PAYLOAD))
        self.reply("市发改委", f"进展 #2 20% {REPLY_PAYLOAD}", "2020-11-02T09:30")


def dashboard_settings(token: str = "") -> Settings:
    schedules = ROOT / "schedules"
    return Settings(
        directory=DirectorySettings(path=None),
        schedules=SchedulesSettings(
            rules=schedules / "default.toml",
            calendar=schedules / "calendar.toml",
            ranking=schedules / "ranking.toml",
        ),
        web=WebSettings(token=token),
    )


def web_context(
    settings: Settings, sessions: sessionmaker[Session], http: httpx.Client, now: datetime = NOW
) -> WebContext:
    return WebContext(settings, sessions, clock=lambda: now, http=http)
