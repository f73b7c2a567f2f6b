"""The replies' tests share a plan imported with the test directory, and its people."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.intake.directory import Directory, load_directory
from bot.intake.importing import import_file
from bot.replies.identity import People
from tests.support.web import IMPORTED, write_directory, write_plan


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return load_directory(write_directory(tmp_path))


@pytest.fixture
def planned(
    sessions: sessionmaker[Session], directory: Directory, tmp_path: Path
) -> sessionmaker[Session]:
    import_file(sessions, write_plan(tmp_path), directory, timezone="Asia/Shanghai", now=IMPORTED)
    return sessions


@pytest.fixture
def people(planned: sessionmaker[Session], directory: Directory) -> People:
    with planned() as session:
        return People.load(session, directory.office)
