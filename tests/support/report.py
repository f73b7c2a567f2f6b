"""The report pages' setup: the [report] settings with a key and a small upload limit, the
due points of the imported plan, the links a reminder would carry, and the forms a page
holds."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.config import Settings
from bot.app.sections import ReportSettings
from bot.domain.calendar import WorkCalendar
from bot.domain.rules import default_rules
from bot.domain.tokens import sign
from bot.engine.schedule import schedule_pending
from bot.present.links import Links
from bot.store.models import Assignment, DuePoint, Evidence, Task, Unit

SECRET = "report-secret-7d3f9a0c5e1b"
PUBLIC_URL = "https://duban.example.gov.cn"
MAX_FILE = 64 * 1024
MAX_FILES = 2


def with_reports(settings: Settings, evidence: Path) -> Settings:
    """`settings` with the report pages on: a key, a public address, small limits."""
    report = ReportSettings(
        secret=SECRET, evidence_dir=evidence, max_file_bytes=MAX_FILE, max_files=MAX_FILES
    )
    web = settings.web.model_copy(update={"public_url": PUBLIC_URL})
    return settings.model_copy(update={"report": report, "web": web})


def schedule(sessions: sessionmaker[Session], now: datetime) -> None:
    """Gives the imported assignments their due points (what the daemon's sweep does first)."""
    with sessions.begin() as session:
        schedule_pending(session, default_rules(), WorkCalendar(), now)


def point_of(sessions: sessionmaker[Session], number: str, unit: str) -> tuple[int, int]:
    """(unit id, due point id) of the first due point of `unit`'s item on task `number`."""
    with sessions() as session:
        row = session.execute(
            select(Unit.id, DuePoint.id)
            .join(Assignment, DuePoint.assignment_id == Assignment.id)
            .join(Task, Assignment.task_id == Task.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .where(Task.number == number, Unit.name == unit)
            .order_by(DuePoint.due_date, DuePoint.id)
            .limit(1)
        ).one()
        return row[0], row[1]


def report_path(unit_id: int, point_id: int, now: datetime, days: int = 30) -> str:
    """The path of the report link a reminder carries (without the public address)."""
    link = Links(PUBLIC_URL, SECRET.encode(), days).report(unit_id, point_id, now)
    assert link is not None
    return link.removeprefix(PUBLIC_URL)


def forged(purpose: str, subject: tuple[int | str, ...], now: datetime) -> str:
    """A token for `subject` signed with another key."""
    return sign(b"not-the-report-secret", purpose, subject, now + timedelta(days=1))


FORM = re.compile(
    r'name="action" value="(\w+)">\s*<input type="hidden" name="form" value="([^"]+)"'
)


def forms(page: str) -> dict[str, str]:
    """Each form's action and its one-time token, as the page holds them."""
    return {action: html.unescape(token) for action, token in FORM.findall(page)}


def form_token(unit_id: int, point_id: int, action: str, now: datetime) -> str:
    """A form's one-time token as a page would hold it (for a form the page does not show)."""
    return sign(
        SECRET.encode(), "report-form", (unit_id, point_id, action, "n1"), now + timedelta(days=1)
    )


def stored(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def evidence_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Evidence)) or 0
