"""Factories for the review tests: evidence rows (as the evidence intake writes them), the
signed links, and the assignments of the small plan of tests/support/engine.py."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.compose import Composer
from bot.present.links import Links
from bot.store.models import Assignment, Evidence, Task, Unit

BASE = "https://duban.example.gov.cn"
SECRET = b"review-secret-5c1d9e0b7a"
LINKS = Links(BASE, SECRET, 30)
COMPOSER = Composer(office="督查室", dashboard_url=BASE, links=LINKS)


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
