"""make_engine: each SQLite connection gets the settings duban relies on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.store.database import make_engine


def test_each_sqlite_connection_writes_ahead_and_keeps_temporary_tables_in_memory(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'duban.db'}")
    try:
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
                assert connection.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
                # 2 is MEMORY: a batch's RETURNING rows (bot/store/bulk.py) make no file
                assert connection.scalar(text("PRAGMA temp_store")) == 2
    finally:
        engine.dispose()
