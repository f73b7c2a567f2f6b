"""A temporary, migrated PostgreSQL database for the benchmarks: created on the server of
$DUBAN_TEST_POSTGRES_URL (default the local `test` database's), dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.store import database

POSTGRES_URL = os.environ.get(
    "DUBAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """The URL of a new migrated database (None, with a line said, when the server is
    unreachable)."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"duban_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        print(f"   PostgreSQL unreachable at {POSTGRES_URL}: {exc.orig}; skipped")
        yield None
        return
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = database.make_engine(url)
        database.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_engine() -> Iterator[Engine | None]:
    """The same, as an engine made as the daemon makes it (pool_pre_ping, default pool)."""
    with postgres_url() as url:
        if url is None:
            yield None
            return
        engine = database.make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
