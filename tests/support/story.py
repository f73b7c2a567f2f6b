"""The ranking flow tests' story: the small plan of tests/support/engine.py lived from its
import on 1 September 2020, month by month, with the replies that make its rankings. The
supervision, export and CLI tests tell it too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from tests.support.database import empty
from tests.support.engine import PLAN, apply_reply, import_plan, local, make_runtime
from tests.support.snapshot import Snapshot, restore, take

# Task 1: 市住建局 leads, 市财政局 co, due 10月底前; task 2: 市发改委 alone, due the year end.
RESHUFFLED = PLAN.replace("市住建局、市财政局", "市财政局、市住建局").replace(
    "建设小干岛中央商务区。", "建设小干岛中央商务区。11月底前完成。"
)
OFFICE = "督查室"


CHAPTERS = ("september", "october", "november")
SWEPT = {
    "september": date(2020, 9, 28),
    "october": date(2020, 10, 31),
    "november": date(2020, 11, 30),
}


class Story:
    """The plan of tests/support/engine.py, swept every working morning, with replies.

    Given `snapshots` (the session's, see tests/support/snapshot.py), the chapters told
    first thing on a backend are kept as the database rows they leave; a later story on that
    backend whose database is still as its import left it lays the rows of a chapter in
    instead of living the months again. Anything else (a reply of the test's own, a change
    to the database) makes it tell the chapters for real."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        folder: Path,
        snapshots: dict[tuple[str, str], Snapshot] | None = None,
    ) -> None:
        self.sessions, self.folder, self.snapshots = sessions, folder, snapshots
        self.runtime: Runtime = make_runtime(sessions)
        self.swept = date(2020, 8, 31)
        self.told: set[str] = set()
        import_plan(sessions, folder)
        self.runtime.sweep(local("2020-09-01T10:00"))
        if snapshots is not None:
            snapshots.setdefault(self._key("start"), take(self._engine))

    @property
    def _engine(self) -> Engine:
        bind = self.sessions.kw["bind"]
        assert isinstance(bind, Engine)
        return bind

    def _key(self, chapter: str) -> tuple[str, str]:
        return (f"story:{chapter}", self._engine.dialect.name)

    def _chapter(self, chapter: str, tell: Callable[[], None]) -> None:
        """Tells `chapter` (and those before it): laid in when the database is as the import
        left it and the chapter was kept before, else lived; kept when lived from the start."""
        if chapter in self.told:
            return
        if self.snapshots is None or self.told:
            tell()
            return
        start = self.snapshots[self._key("start")]
        if take(self._engine) != start:
            tell()
            return
        kept = self.snapshots.get(self._key(chapter))
        if kept is not None:
            empty(self._engine)
            restore(self._engine, kept)
            self.told = set(CHAPTERS[: CHAPTERS.index(chapter) + 1])
            self.swept = SWEPT[chapter]
            return
        tell()  # from the start, with nothing between: kept for the next story
        assert self.told == set(CHAPTERS[: CHAPTERS.index(chapter) + 1])
        assert self.swept == SWEPT[chapter]
        self.snapshots[self._key(chapter)] = take(self._engine)

    def sweep_until(self, day: str) -> None:
        """Sweeps each working morning after the last one swept, up to `day`."""
        last = date.fromisoformat(day)
        while self.swept < last:
            self.swept += timedelta(days=1)
            if self.runtime.calendar.is_working_day(self.swept):
                self.runtime.sweep(local(f"{self.swept.isoformat()}T09:00"))

    def reply(self, unit: str, text: str, at: str) -> str:
        self.sweep_until(at[:10])
        with self.sessions.begin() as session:
            return apply_reply(session, unit, text, local(at))

    def reimport(self, text: str, at: str) -> None:
        self.sweep_until(at[:10])
        import_plan(self.sessions, self.folder, text, imported=local(at))

    def once(self, chapter: str) -> bool:
        """Whether `chapter` is still to be told (each is told once, the earlier ones first)."""
        if chapter in self.told:
            return False
        self.told.add(chapter)
        return True

    def september(self) -> None:
        self._chapter("september", self._september)

    def _september(self) -> None:
        if not self.once("september"):
            return
        self.reply("市住建局", "进展 #1 50% 已开工", "2020-09-23T10:00")
        self.reply("市发改委", "进展 #2 10% 完成选址", "2020-09-28T10:00")  # after the 25th

    def october(self) -> None:
        self._chapter("october", self._october)

    def _october(self) -> None:
        self._september()
        if not self.once("october"):
            return
        self.reply("市住建局", "进展 #1 80% 主体完工", "2020-10-20T10:00")
        self.reply("市财政局", "进展 #1 资金已拨付", "2020-10-22T10:00")
        self.sweep_until("2020-10-31")

    def november(self) -> None:
        """Everything that could rewrite the past if it were read from the current rows."""
        self._chapter("november", self._november)

    def _november(self) -> None:
        self._october()
        if not self.once("november"):
            return
        self.reply("市住建局", "完成 #1 已建成", "2020-11-04T10:00")
        self.reply(OFFICE, "确认办结 #1", "2020-11-04T15:00")
        self.reimport(RESHUFFLED, "2020-11-05T10:00")  # lead swapped, task 2 deadline 11-30
        self.reply("市发改委", "进展 #2 30%", "2020-11-09T10:00")
        self.reply("市发改委", "延期 #2 2021-03-31 用地审批未完成", "2020-11-10T10:00")
        self.reply(OFFICE, "同意延期 #2", "2020-11-11T10:00")
        self.sweep_until("2020-11-30")
