"""The replies' tests share a plan imported with the test directory, and its people."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.intake.directory import Directory, load_directory
from bot.replies.identity import People
from tests.support.snapshot import Snapshot
from tests.support.web import import_cut_plan, write_directory


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return load_directory(write_directory(tmp_path))


@pytest.fixture
def planned(
    engine: Engine,
    sessions: sessionmaker[Session],
    directory: Directory,
    tmp_path: Path,
    snapshots: dict[tuple[str, str], Snapshot],
) -> sessionmaker[Session]:
    import_cut_plan(engine, sessions, tmp_path, directory, snapshots)
    return sessions


@pytest.fixture
def people(planned: sessionmaker[Session], directory: Directory) -> People:
    with planned() as session:
        return People.load(session, directory.office)
