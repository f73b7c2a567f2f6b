"""Planner statistics after bulk writes (PostgreSQL): a sweep right after a big import or a
big scheduling pass plans with them, rather than waiting for autovacuum."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from bot.store import database
from bot.store.database import BULK, analyze_after_bulk
from bot.store.models import RateBucket

NOW = datetime(2020, 10, 12, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def never_analysed(db_url: str) -> None:
    """The table as migrated, statistics and all: the tests before emptied it with DELETE,
    which keeps what ANALYZE found; TRUNCATE gives it new files and no statistics."""
    if database.is_sqlite(db_url):
        return
    engine = database.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(f'TRUNCATE "{RateBucket.__tablename__}"'))
    engine.dispose()


def write_buckets(session: Session, count: int) -> None:
    rows: list[dict[str, Any]] = [
        {"key": f"channel:r{i}", "sent": [], "updated_at": NOW, "paused_until": None}
        for i in range(count)
    ]
    session.execute(insert(RateBucket), rows)


def estimated_rows(session: Session) -> float:
    query = text("SELECT reltuples FROM pg_class WHERE relname = :name")
    return float(session.scalar(query, {"name": RateBucket.__tablename__}) or 0)


def postgres_only(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite keeps no planner statistics")


def test_a_bulk_write_analyses_its_tables_in_the_same_transaction(
    sessions: sessionmaker[Session],
) -> None:
    postgres_only(sessions)
    with sessions.begin() as session:
        write_buckets(session, BULK)
        assert estimated_rows(session) <= 0  # never analysed
        analyze_after_bulk(session, BULK, RateBucket)
        assert estimated_rows(session) == BULK


def test_a_small_write_leaves_the_statistics_to_autovacuum(
    sessions: sessionmaker[Session],
) -> None:
    postgres_only(sessions)
    with sessions.begin() as session:
        write_buckets(session, BULK - 1)
        analyze_after_bulk(session, BULK - 1, RateBucket)
        assert estimated_rows(session) <= 0


def test_the_write_commits_as_usual_on_either_backend(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        write_buckets(session, BULK)
        analyze_after_bulk(session, BULK, RateBucket)  # SQLite: nothing to run
        assert session.scalar(text("SELECT count(*) FROM rate_buckets")) == BULK
