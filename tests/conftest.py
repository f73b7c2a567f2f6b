"""Shared fixtures: one database fixture parametrized over SQLite and PostgreSQL.

PostgreSQL tests use $DUBAN_TEST_POSTGRES_URL (default: the local `test` database; see
tests/support/database.py). When the server is unreachable they skip — unless
$DUBAN_REQUIRE_POSTGRES is set, as CI does, and then they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.store import database
from tests.support.database import BACKENDS, POSTGRES_URL, empty, fresh_postgres_database
from tests.support.snapshot import Snapshot


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("template") / "duban.db"
    engine = database.make_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database("duban_test"))
        except OperationalError as exc:
            message = f"PostgreSQL unreachable at {POSTGRES_URL}: {exc.orig}"
            if os.environ.get("DUBAN_REQUIRE_POSTGRES"):
                pytest.fail(message)
            pytest.skip(message)
        yield url


@pytest.fixture(scope="session")
def snapshots() -> dict[tuple[str, str], Snapshot]:
    """Databases as long stories left them, by story and backend (tests/support/snapshot.py)."""
    return {}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "duban.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    empty(engine)  # what the test before left
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return database.session_factory(engine)
