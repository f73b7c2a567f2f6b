"""Engines, sessions and migrations for the two backends: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import ConfigError, DubanError

MIGRATIONS = Path(__file__).resolve().parent.parent / "db"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs (WAL and a busy timeout on SQLite)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError("database.url", str(exc)) from None
    if not is_sqlite(url):
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Applies every pending migration."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def prepare(engine: Engine) -> None:
    """Makes the schema current: migrates SQLite itself, asks for `db upgrade` elsewhere."""
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise DubanError(f"无法连接数据库：{exc.orig}") from None
    if current == head_revision():
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise DubanError(
        f"数据库结构版本为 {current or '空'}，需要 {head_revision()}：请先运行 `duban db upgrade`"
    )
