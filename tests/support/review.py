"""Factories for the review tests: evidence rows (as the evidence intake writes them), the
signed links, and the assignments of the small plan of tests/support/engine.py."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.config import ReportSettings, Settings
from bot.delivery.compose import Composer
from bot.present.links import Links
from bot.store.models import Assignment, Evidence, Task, Unit
from tests.support.dashboard import dashboard_settings
from tests.support.engine import local

BASE = "https://duban.example.gov.cn"
SECRET = b"review-secret-5c1d9e0b7a"
LINKS = Links(BASE, SECRET, 30)
COMPOSER = Composer(office="督查室", dashboard_url=BASE, links=LINKS)
ASKED = local("2020-10-20T10:00")  # when the requests of the review tests were made
NOW = local("2020-10-21T15:00")  # when the reviewer opens the page


def assignment_of(session: Session, unit: str, task: str = "1") -> Assignment:
    found = session.scalar(
        select(Assignment)
        .join(Task)
        .join(Unit, Assignment.unit_id == Unit.id)
        .where(Unit.name == unit, Task.number == task)
    )
    assert found is not None, (unit, task)
    return found


def make_evidence(
    session: Session, assignment: Assignment, at: datetime, **overrides: Any
) -> Evidence:
    """A submitted file for `assignment` (a photo unless overridden), flushed."""
    data = overrides.pop("data", b"\xff\xd8\xff\xe0 photo of the finished car park")
    values: dict[str, Any] = {
        "assignment_id": assignment.id,
        "sha256": hashlib.sha256(data).hexdigest(),
        "name": "现场照片.jpg",
        "content_type": "image/jpeg",
        "size": len(data),
        "actor": assignment.unit.name,
        "channel": "web-form",
        "state": "submitted",
        "created_at": at,
    }
    evidence = Evidence(**{**values, **overrides})
    session.add(evidence)
    session.flush()
    return evidence


def review_settings(secret: bytes = SECRET) -> Settings:
    """The dashboard's test settings with the links on: [web] public_url, [report] secret."""
    settings = dashboard_settings()
    return settings.model_copy(
        update={
            "web": settings.web.model_copy(update={"public_url": BASE}),
            "report": ReportSettings(secret=secret.decode()),
        }
    )


FORM = re.compile(r'name="form" value="([^"]+)"')


def forms_of(page: str, assignment: int) -> list[str]:
    """The form tokens of one request's section on a 待审 page, in the page's order."""
    section = page.split(f'id="request-{assignment}"', 1)[1].split("</section>", 1)[0]
    return FORM.findall(section)
