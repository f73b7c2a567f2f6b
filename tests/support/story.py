"""The ranking flow tests' story: the small plan of tests/support/engine.py lived from its
import on 1 September 2020, month by month, with the replies that make its rankings. The
supervision, export and CLI tests tell it too."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from tests.support.engine import PLAN, apply_reply, import_plan, local, make_runtime

# Task 1: 市住建局 leads, 市财政局 co, due 10月底前; task 2: 市发改委 alone, due the year end.
RESHUFFLED = PLAN.replace("市住建局、市财政局", "市财政局、市住建局").replace(
    "建设小干岛中央商务区。", "建设小干岛中央商务区。11月底前完成。"
)
OFFICE = "督查室"


class Story:
    """The plan of tests/support/engine.py, swept every working morning, with replies."""

    def __init__(self, sessions: sessionmaker[Session], folder: Path) -> None:
        self.sessions, self.folder = sessions, folder
        self.runtime: Runtime = make_runtime(sessions)
        self.swept = date(2020, 8, 31)
        self.told: set[str] = set()
        import_plan(sessions, folder)
        self.runtime.sweep(local("2020-09-01T10:00"))

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
        if not self.once("september"):
            return
        self.reply("市住建局", "进展 #1 50% 已开工", "2020-09-23T10:00")
        self.reply("市发改委", "进展 #2 10% 完成选址", "2020-09-28T10:00")  # after the 25th

    def october(self) -> None:
        self.september()
        if not self.once("october"):
            return
        self.reply("市住建局", "进展 #1 80% 主体完工", "2020-10-20T10:00")
        self.reply("市财政局", "进展 #1 资金已拨付", "2020-10-22T10:00")
        self.sweep_until("2020-10-31")

    def november(self) -> None:
        """Everything that could rewrite the past if it were read from the current rows."""
        self.october()
        if not self.once("november"):
            return
        self.reply("市住建局", "完成 #1 已建成", "2020-11-04T10:00")
        self.reply(OFFICE, "确认办结 #1", "2020-11-04T15:00")
        self.reimport(RESHUFFLED, "2020-11-05T10:00")  # lead swapped, task 2 deadline 11-30
        self.reply("市发改委", "进展 #2 30%", "2020-11-09T10:00")
        self.reply("市发改委", "延期 #2 2021-03-31 用地审批未完成", "2020-11-10T10:00")
        self.reply(OFFICE, "同意延期 #2", "2020-11-11T10:00")
        self.sweep_until("2020-11-30")
