"""The `duban import` flow: parse a file, then write it in one transaction (or not at all)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.app.errors import IntakeError
from bot.intake.directory import Directory
from bot.intake.model import ParsedPlan
from bot.intake.reader import read_plan
from bot.intake.store import ImportReport, Source, import_plan
from bot.intake.tables import Overrides

# Without a year, 「年底前」 and 「6月底」 have no date and the plan no default deadline.
NO_YEAR = (
    "无法确定计划年度：标题、文件名和完成时限中都没有年份。"
    "请用 --year 指定，如 duban import 文件 --year 2027"
)


def import_file(
    sessions: sessionmaker[Session],
    path: Path,
    directory: Directory,
    *,
    timezone: str,
    now: datetime,
    year: int | None = None,
    sample: bool = False,
    columns: Overrides | None = None,
) -> tuple[ParsedPlan, ImportReport]:
    """Parses `path` and applies it; a parse error, or a plan whose year nothing names,
    raises before the database is touched."""
    parsed = read_plan(path, directory, year, columns)
    if parsed.year is None:
        raise IntakeError(str(path), NO_YEAR)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    source = Source(name=path.name, sha256=digest, timezone=timezone, sample=sample)
    with sessions.begin() as session:
        report = import_plan(session, parsed, source, directory, now)
    return parsed, report
