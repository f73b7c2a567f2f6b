"""The migrations build exactly the schema the models describe, and step back and forth."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from bot.store import database
from bot.store.models import Base


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))


def unique_constraints(engine: Engine, table: str) -> set[tuple[str, ...]]:
    return {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints(table)}


def test_the_migrated_schema_is_the_models_schema(engine: Engine) -> None:
    assert differences(engine) == []


def test_a_dingtalk_signature_is_unique_per_source_after_the_migration(engine: Engine) -> None:
    assert ("signature", "source") in unique_constraints(engine, "inbound_events")


def test_the_newest_migrations_step_back_and_forth(engine: Engine) -> None:
    database.downgrade(engine, "-1")
    assert "evidence" not in inspect(engine).get_table_names()
    database.downgrade(engine, "-1")
    assert ("signature", "source") not in unique_constraints(engine, "inbound_events")
    database.upgrade(engine)
    assert differences(engine) == []
    assert "evidence" in inspect(engine).get_table_names()
