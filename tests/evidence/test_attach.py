from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app.sections import ReportSettings
from bot.evidence.attach import ATTACHED, attach
from bot.evidence.files import check
from bot.evidence.store import FolderStore
from bot.store.models import Assignment, AuditEvent, Evidence, Task
from tests.support.engine import import_plan, local
from tests.support.evidence import png

NOW = local("2020-10-12T10:00")


def test_attaching_keeps_the_file_and_records_it_on_the_assignment(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_plan(sessions, tmp_path)
    store = FolderStore(tmp_path / "evidence")
    file = check(png(), "../现场照片.png", ReportSettings().allowed_types)
    with sessions.begin() as session:
        assignment = session.scalars(
            select(Assignment).join(Task).where(Task.number == "1").order_by(Assignment.id)
        ).first()
        assert assignment is not None
        evidence = attach(
            session, store, assignment, file, actor="市住建局", channel="web-form", now=NOW
        )
        kept = (evidence.id, evidence.sha256, assignment.id)
    with sessions() as session:
        row = session.get_one(Evidence, kept[0])
        assert (row.name, row.content_type, row.state, row.channel) == (
            "现场照片.png",
            "image/png",
            "submitted",
            "web-form",
        )
        assert store.get(row.sha256) == png()
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == ATTACHED)).one()
        assert (event.subject_id, event.actor, event.channel) == (kept[2], "市住建局", "web-form")
        assert event.detail["evidence"] == kept[0]
        assert event.detail["name"] == "现场照片.png"
