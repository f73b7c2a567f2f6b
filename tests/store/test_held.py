"""HeldConnection: one connection from one transaction to the next, a new one once the
database has dropped it, given back on close — on both databases."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from bot.store.held import HeldConnection
from tests.support.database import checkouts, kill


def in_use(engine: Engine) -> int:
    return cast(QueuePool, engine.pool).checkedout()


def refused(held: HeldConnection) -> None:
    """A transaction that writes, then fails."""
    with held.transaction() as connection:
        connection.execute(text("INSERT INTO scratch VALUES (1)"))
        raise ZeroDivisionError


def one(held: HeldConnection) -> None:
    with held.transaction() as connection:
        connection.scalar(text("SELECT 1"))


def test_transactions_run_on_the_connection_held_since_the_first(engine: Engine) -> None:
    seen = checkouts(engine)
    with HeldConnection(engine) as held:
        with held.transaction() as connection:  # a temporary table: this connection's own
            connection.execute(text("CREATE TEMPORARY TABLE scratch (n INTEGER)"))
        with held.transaction() as connection:
            connection.execute(text("INSERT INTO scratch VALUES (1)"))
        with held.transaction() as connection:
            assert connection.scalar(text("SELECT count(*) FROM scratch")) == 1
        assert (len(seen), in_use(engine)) == (1, 1)
    assert in_use(engine) == 0  # given back as the block ends


def test_a_transaction_that_raises_is_rolled_back_and_the_connection_kept(engine: Engine) -> None:
    with HeldConnection(engine) as held:
        with held.transaction() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE scratch (n INTEGER)"))
        with pytest.raises(ZeroDivisionError):
            refused(held)
        assert held.held
        with held.transaction() as connection:
            assert connection.scalar(text("SELECT count(*) FROM scratch")) == 0


def test_a_connection_the_database_dropped_is_let_go_and_the_next_transaction_gets_another(
    engine: Engine,
) -> None:
    seen = checkouts(engine)
    with HeldConnection(engine) as held:
        with held.transaction() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
        kill(engine, seen[-1])
        with pytest.raises(DBAPIError):
            one(held)
        assert not held.held
        with held.transaction() as connection:
            assert connection.scalar(text("SELECT 2")) == 2
    assert len(seen) == 2


def test_a_connection_taken_before_the_engine_was_disposed_is_closed_not_pooled(
    engine: Engine,
) -> None:
    seen = checkouts(engine)
    held = HeldConnection(engine)
    with held.transaction() as connection:
        assert connection.scalar(text("SELECT 1")) == 1
    engine.dispose()  # a shutdown, or a test's teardown, while the thread still holds it
    held.close()
    assert closed(seen[0])


def closed(dbapi: Any) -> bool:
    """Whether a driver connection is closed (psycopg says so; sqlite3 refuses to run)."""
    if hasattr(dbapi, "closed"):
        return bool(dbapi.closed)
    try:
        dbapi.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_holder_of_single_statements_commits_each_as_it_runs_on_postgresql_only(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE held_scratch (n INTEGER)"))
    try:
        with HeldConnection(engine, single_statement=True) as held:
            with held.transaction() as connection:
                connection.execute(text("INSERT INTO held_scratch VALUES (1)"))
                with engine.connect() as other:  # before the block ends
                    seen = other.scalar(text("SELECT count(*) FROM held_scratch"))
            with held.transaction() as connection:  # and again, on the same connection
                connection.execute(text("INSERT INTO held_scratch VALUES (2)"))
            assert in_use(engine) == 1
        # SQLite's writers still begin: they queue for the write lock at BEGIN.
        assert seen == (1 if engine.dialect.name == "postgresql" else 0)
        assert in_use(engine) == 0
        with engine.connect() as first, engine.connect() as second:  # the held one is back
            for connection in (first, second):  # to transactions: a rollback undoes
                connection.execute(text("INSERT INTO held_scratch VALUES (3)"))
                connection.rollback()
                assert connection.scalar(text("SELECT count(*) FROM held_scratch")) == 2
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE held_scratch"))
