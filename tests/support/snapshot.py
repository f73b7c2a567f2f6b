"""What a database holds, taken once and laid into the next test's empty database: a long
story (months swept day by day) is told once per backend and session, and the tests after
the first start from its rows instead of living it again.

Rows go through the models' tables both ways, so every column type converts as it does in
the app; PostgreSQL's sequences are moved past the ids laid in, as the story had left them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Integer, func, insert, select, text

from bot.store.models import Base

Snapshot = dict[str, list[dict[str, Any]]]


def take(engine: Engine) -> Snapshot:
    """Every row of every table of the models, each table's in the order of its key."""
    snapshot: Snapshot = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            snapshot[table.name] = [dict(row._mapping) for row in rows]
    return snapshot


def restore(engine: Engine, snapshot: Snapshot) -> None:
    """Lays `snapshot` into the empty database of `engine` (as the `db_url` fixture gives)."""
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            assert conn.scalar(select(func.count()).select_from(table)) == 0, table.name
            rows = snapshot[table.name]
            if rows:
                conn.execute(insert(table), rows)
            if engine.dialect.name != "postgresql" or not rows:
                continue
            for column in table.primary_key.columns:
                if not isinstance(column.type, Integer):
                    continue
                sequence = conn.scalar(
                    text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": f'"{table.name}"', "column": column.name},
                )
                if sequence is not None:
                    last = max(row[column.name] for row in rows)
                    conn.execute(text("SELECT setval(:s, :n)"), {"s": sequence, "n": last})
