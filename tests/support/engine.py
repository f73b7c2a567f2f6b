"""Factories for reminder-engine tests: a small plan, a runtime with a capture channel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.runtime import Runtime
from bot.domain.calendar import WorkCalendar
from bot.domain.rules import default_rules
from bot.engine.simulate import actor_named
from bot.intake.importing import import_file
from bot.platforms import CaptureChannel, Outgoing
from bot.replies.apply import apply_command
from bot.replies.keywords import parse_command
from bot.store import database
from bot.store.models import Message, Notification
from bot.store.queries import current_plan
from tests.support.factories import make_directory, write_plan

TZ = ZoneInfo("Asia/Shanghai")

PLAN = """
    2020年重点工作任务责任分解
    1.新增公共停车位 1000 个。10月底前完成。
    责任单位:市住建局、市财政局
    2.建设小干岛中央商务区。
    责任单位:市发改委
"""
DIRECTORY = {
    "units": {
        "市住建局": {
            "supervisor": "赵华",
            "contacts": [
                {"name": "联络员", "mobile": "13800000001"},
                {"name": "局长", "mobile": "13800000009", "role": "head"},
            ],
        },
        "市财政局": {"supervisor": "李明"},
        "市发改委": {"supervisor": "李明"},
    },
    "supervisors": {"赵华": {"title": "副市长"}, "李明": {"title": "常务副市长"}},
}


def local(text: str) -> datetime:
    """An ISO local time in Asia/Shanghai as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def import_plan(
    sessions: sessionmaker[Session],
    folder: Path,
    text: str = PLAN,
    imported: datetime | None = None,
) -> None:
    import_file(
        sessions,
        write_plan(folder, text),
        make_directory(**DIRECTORY),
        timezone="Asia/Shanghai",
        now=imported or local("2020-09-01T10:00"),
    )


def writer_sessions(engine: Engine) -> sessionmaker[Session]:
    return database.session_factory(database.writer(engine))


def make_runtime(
    sessions: sessionmaker[Session],
    capture: CaptureChannel | None = None,
    calendar: WorkCalendar | None = None,
) -> Runtime:
    return Runtime(
        sessions=sessions,
        rules=default_rules(),
        calendar=calendar or WorkCalendar(),
        tz=TZ,
        channels={"console": capture or CaptureChannel()},
        default_channel="console",
    )


def working_mornings(first: date, last: date, calendar: WorkCalendar) -> Iterator[datetime]:
    day = first
    while day <= last:
        if calendar.is_working_day(day):
            yield datetime.combine(day, time(9, 0), tzinfo=TZ)
        day += timedelta(days=1)


@contextmanager
def captured(runtime: Runtime) -> Iterator[list[Outgoing]]:
    channel = runtime.channels["console"]
    assert isinstance(channel, CaptureChannel)
    channel.sent.clear()
    yield channel.sent


def count(sessions: sessionmaker[Session], model: type[Message] | type[Notification]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def sent_messages(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(
            session.scalars(select(Message).where(Message.state == "sent").order_by(Message.id))
        )


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def apply_reply(session: Session, name: str, text: str, at: datetime, **options: Any) -> str:
    """A reply from the unit (or the office) named, applied at `at`; the answer."""
    actor = actor_named(session, name)
    assert actor is not None, name
    plan = current_plan(session)
    command = parse_command(text, year=plan.year)
    return apply_command(session, actor, command, plan, at, **options).reply


T = TypeVar("T")
U = TypeVar("U")


def while_the_first_holds(
    sessions: sessionmaker[Session], first: Callable[[Session], T], second: Callable[[], U]
) -> tuple[T, U]:
    """Two daemons at the same moment: `first` runs in a transaction of `sessions`, and
    `second`, started meanwhile in another thread, must wait for that transaction (it is
    still running half a second later). Both results, once the second has finished."""
    results: list[U] = []
    thread = threading.Thread(target=lambda: results.append(second()))
    with sessions.begin() as session:
        mine = first(session)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # it waits for the first daemon's transaction
    thread.join(10)
    assert len(results) == 1, "the second daemon did not finish"
    return mine, results[0]
