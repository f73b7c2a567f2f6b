"""`duban simulate`: the real engine on a virtual clock, through every send window of a range.

By default it works on a temporary SQLite copy of the database, so nothing real changes;
scripted replies (CSV `at,unit,text`) are applied at their moments as if the unit had sent
them. The result is the timeline of what would have been sent, deterministic for the same
database and arguments.
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import DubanError, ParseError
from bot.app.runtime import Runtime
from bot.delivery.compose import DEFAULT_OFFICE, Composer
from bot.domain.ladder import local_at
from bot.platforms import CaptureChannel, Channel
from bot.replies.apply import Actor, apply_command
from bot.replies.keywords import parse_command
from bot.store import database
from bot.store.models import Base, Message, Plan, Unit, UnitAlias


@dataclass(frozen=True)
class ScriptedReply:
    at: datetime
    unit: str
    text: str


def read_replies(path: Path, tz: ZoneInfo) -> list[ScriptedReply]:
    """Reads `at,unit,text` rows; a bad row raises DubanError naming the file and line."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DubanError(f"{path}: 无法读取回复脚本：{exc}") from None
    replies = []
    for line, row in enumerate(rows, start=2):
        try:
            at = parse_moment(row["at"], tz)
            replies.append(ScriptedReply(at, row["unit"].strip(), row["text"].strip()))
        except (KeyError, ValueError, AttributeError):
            raise DubanError(f"{path}:{line}: 需要 at,unit,text 三列，at 为 ISO 时间") from None
    return sorted(replies, key=lambda r: r.at)


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """An ISO date-time; without an offset it is read in the plan's time zone."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def sweep_moments(start: date, end: date, runtime: Runtime) -> list[datetime]:
    """Every working day's send-window start and ladder send times, in order."""
    times = sorted({runtime.rules.window.start, *(lv.at for lv in runtime.rules.ladder)})
    moments, day = [], start
    while day <= end:
        if runtime.calendar.is_working_day(day):
            moments += [local_at(day, t, runtime.tz) for t in times]
        day += timedelta(days=1)
    return moments


@contextmanager
def scratch_copy(source: Engine) -> Iterator[sessionmaker[Session]]:
    """A temporary migrated SQLite database holding a copy of every row of `source`."""
    with tempfile.TemporaryDirectory(prefix="duban-sim-") as folder:
        engine = database.make_engine(f"sqlite:///{Path(folder) / 'sim.db'}")
        # A scratch copy thrown away afterwards need not survive a power cut.
        event.listen(engine, "connect", _no_sync)
        database.upgrade(engine)
        with source.connect() as reader, engine.begin() as writer:
            for table in Base.metadata.sorted_tables:
                rows = [dict(r) for r in reader.execute(select(table)).mappings()]
                if rows:
                    writer.execute(insert(table), rows)
        try:
            yield database.session_factory(database.writer(engine))
        finally:
            engine.dispose()


def _no_sync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def refuse_real_history(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        real = session.scalar(
            select(Message.id).where(Message.simulated.is_(False), Message.state == "sent").limit(1)
        )
    if real is not None:
        raise DubanError("数据库中已有真实发送的消息，--apply 只能用于演示或培训用的数据库")


@dataclass(frozen=True)
class Summary:
    """A timeline counted: messages by kind and by ISO week (`2020-W39`), replies applied."""

    messages: int
    by_kind: dict[str, int]
    by_week: dict[str, int]
    replies: int
    unknown_senders: int


UNKNOWN_SENDER = "未找到单位"


def summarize(timeline: list[dict[str, Any]]) -> Summary:
    sent = [entry for entry in timeline if entry["kind"] != "reply"]
    answers = [entry["text"] for entry in timeline if entry["kind"] == "reply"]
    return Summary(
        messages=len(sent),
        by_kind=dict(Counter(entry["kind"] for entry in sent)),
        by_week=dict(sorted(Counter(_week(entry["at"]) for entry in sent).items())),
        replies=len(answers),
        unknown_senders=sum(text.startswith(UNKNOWN_SENDER) for text in answers),
    )


def _week(moment: str) -> str:
    year, week, _ = datetime.fromisoformat(moment).isocalendar()
    return f"{year}-W{week:02d}"


def simulate(
    runtime: Runtime,
    start: date,
    end: date,
    replies: list[ScriptedReply],
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Runs the range and returns the timeline of messages and reply answers; `progress` hears
    (moments done, moments in all) after each send time."""
    engine, capture = _captured(runtime)
    timeline: list[dict[str, Any]] = []
    pending = list(replies)
    moments = sweep_moments(start, end, engine)
    for done, moment in enumerate(moments, start=1):
        while pending and pending[0].at <= moment:
            timeline.append(_reply(engine, pending.pop(0)))
        engine.cycle(moment)
        timeline += _sent(engine, capture, moment)
        if progress is not None:
            progress(done, len(moments))
    for reply in pending:
        if reply.at.astimezone(engine.tz).date() <= end:
            timeline.append(_reply(engine, reply))
    return timeline


def dry_cycle(runtime: Runtime, moment: datetime) -> list[dict[str, Any]]:
    """One sweep and dispatch at `moment` with every channel captured: what would be sent.
    Run it on a scratch copy: the sweep still writes its notifications."""
    engine, capture = _captured(runtime)
    engine.cycle(moment)
    return _sent(engine, capture, moment)


def _captured(runtime: Runtime) -> tuple[Runtime, CaptureChannel]:
    """The runtime with every channel replaced by one capture, its messages simulated."""
    capture = CaptureChannel()
    channels: dict[str, Channel] = {name: capture for name in runtime.channels}
    return replace(runtime, channels=channels, simulated=True), capture


def _sent(runtime: Runtime, capture: CaptureChannel, moment: datetime) -> list[dict[str, Any]]:
    ids = [m.message_id for m in capture.sent]
    capture.sent.clear()
    if not ids:
        return []
    with runtime.sessions() as session:
        messages = session.scalars(
            select(Message).where(Message.id.in_(ids)).order_by(Message.id)
        ).all()
    return [_entry(m, moment, runtime.tz) for m in messages]


def _entry(message: Message, moment: datetime, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "at": (message.sent_at or moment).astimezone(tz).isoformat(),
        "to": {"kind": message.recipient_kind, "name": message.recipient_name},
        "kind": message.kind,
        "items": [
            # Reminders carry all four; blockers, follow-ups and digests only some.
            {key: i.get(key) for key in ("task", "unit", "level", "due")}
            for i in message.items
        ],
        "text": message.text,
    }


def _reply(runtime: Runtime, reply: ScriptedReply) -> dict[str, Any]:
    with runtime.sessions.begin() as session:
        plan = session.scalars(
            select(Plan).order_by(Plan.year.desc().nulls_last(), Plan.id.desc())
        ).first()
        office = runtime.messages.office
        actor = actor_named(session, reply.unit, office)
        if plan is None or actor is None:
            answer = f"{UNKNOWN_SENDER}「{reply.unit}」，该回复未处理。"
        else:
            answer = _answer(session, actor, reply, plan, runtime.messages)
    return {
        "at": reply.at.astimezone(runtime.tz).isoformat(),
        "to": {
            "kind": "office" if reply.unit in (office, "office") else "unit",
            "name": reply.unit,
        },
        "kind": "reply",
        "items": [],
        "text": answer,
    }


def _answer(
    session: Session, actor: Actor, reply: ScriptedReply, plan: Plan, composer: Composer
) -> str:
    try:
        command = parse_command(reply.text, year=plan.year)
    except ParseError as exc:
        return exc.message
    outcome = apply_command(
        session, actor, command, plan, reply.at, channel="simulate", composer=composer
    )
    return outcome.reply


def actor_named(session: Session, name: str, office: str = DEFAULT_OFFICE) -> Actor | None:
    """The office (by its name, or "office"), or the unit of that name or alias, acting;
    None for an unknown name."""
    if name in (office, "office"):
        return Actor("office", office)
    unit = session.scalar(select(Unit).where(Unit.name == name))
    unit = unit or session.scalar(select(Unit).join(UnitAlias).where(UnitAlias.alias == name))
    return Actor("unit", unit.name, (unit.id,)) if unit else None
