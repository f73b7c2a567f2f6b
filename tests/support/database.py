"""The test databases: the PostgreSQL server the tests use, the backends every database test
runs on, and a fresh migrated PostgreSQL database of one's own.

PostgreSQL tests use $DUBAN_TEST_POSTGRES_URL (default: the local `test` database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from bot.store import database
from bot.store.models import Base

POSTGRES_URL = os.environ.get(
    "DUBAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new migrated PostgreSQL database on the test server, dropped afterwards; its URL.
    Raises OperationalError when the server cannot be reached."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        engine = database.make_engine(url)
        database.upgrade(engine)
        engine.dispose()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def empty(engine: Engine) -> None:
    """Deletes every row of the models' tables, ids starting again from 1: the database as
    migrated. DELETE rather than TRUNCATE: on tables this small PostgreSQL deletes in a
    fifth of the time (TRUNCATE gives each table new files), and every test empties one."""
    tables = reversed(Base.metadata.sorted_tables)
    statements = [f'DELETE FROM "{table.name}"' for table in tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            sequences = conn.scalars(
                text("SELECT quote_ident(sequence_name) FROM information_schema.sequences")
            )
            statements += [f"ALTER SEQUENCE {name} RESTART" for name in sequences]
        elif conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")):
            statements.append("DELETE FROM sqlite_sequence")
        if engine.dialect.name == "postgresql":  # one round trip
            conn.exec_driver_sql("; ".join(statements))
            return
        for statement in statements:
            conn.exec_driver_sql(statement)


def checkouts(engine: Engine) -> list[Any]:
    """The driver's connections, as the engine's pool hands them out from now on."""
    seen: list[Any] = []
    event.listen(engine, "checkout", lambda dbapi, record, proxy: seen.append(dbapi))
    return seen


def kill(engine: Engine, dbapi: Any) -> None:
    """Ends one of the engine's driver connections as a database restart would: PostgreSQL
    terminates its backend; SQLite's is closed under it."""
    if engine.dialect.name == "postgresql":
        other = create_engine(engine.url)
        with other.begin() as connection:
            pid = {"pid": dbapi.info.backend_pid}
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), pid)
        other.dispose()
    else:
        dbapi.close()
